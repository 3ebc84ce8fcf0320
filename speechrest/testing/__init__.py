"""A local emulator of the Speech to text service, for tests and offline development.

``SpeechEmulator`` serves the API on 127.0.0.1; point a ``SpeechClient`` at its
``endpoint`` with its ``key``. Recognizers decide what the emulator "hears".
"""

from ._audio import AudioInfo, make_wav
from ._emulator import EmulatorState, RequestRecord, SpeechEmulator, Timing
from ._faults import Fault, FaultPlan, FaultRule, RecordedRequest, Recording
from ._local import PocketSphinxRecognizer
from ._recognizer import (
    DeterministicRecognizer,
    RecognizedPhrase,
    RecognizedWord,
    Recognizer,
    ScriptedRecognizer,
)

__all__ = [
    "AudioInfo",
    "DeterministicRecognizer",
    "EmulatorState",
    "Fault",
    "FaultPlan",
    "FaultRule",
    "PocketSphinxRecognizer",
    "RecognizedPhrase",
    "RecognizedWord",
    "Recognizer",
    "RecordedRequest",
    "Recording",
    "RequestRecord",
    "ScriptedRecognizer",
    "SpeechEmulator",
    "Timing",
    "make_wav",
]
