"""A local emulator of the Speech to text service, for tests and offline development.

``SpeechEmulator`` serves the API on 127.0.0.1; point a ``SpeechClient`` at its
``endpoint`` with its ``key``, and give it local audio by URL with
``SpeechEmulator.serve_file()``. Recognizers decide what the emulator "hears";
``best_local_recognizer()`` picks the best one installed.
"""

from ._audio import AudioInfo, make_wav
from ._emulator import SpeechEmulator
from ._faults import Fault, FaultPlan, FaultRule, RecordedRequest, Recording
from ._local import PocketSphinxRecognizer, best_local_recognizer
from ._recognizer import (
    DeterministicRecognizer,
    RecognizedPhrase,
    RecognizedWord,
    Recognizer,
    ScriptedRecognizer,
)
from ._state import DownloadLimits, EmulatorState, RequestRecord, ServiceLimits, Timing

__all__ = [
    "AudioInfo",
    "DeterministicRecognizer",
    "DownloadLimits",
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
    "ServiceLimits",
    "SpeechEmulator",
    "Timing",
    "best_local_recognizer",
    "make_wav",
]
