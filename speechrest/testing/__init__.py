"""A local emulator of the Speech to text service, for tests and offline development.

``SpeechEmulator`` serves the API on 127.0.0.1; point a ``SpeechClient`` at its
``endpoint`` with its ``key``, and give it local audio by URL with
``SpeechEmulator.serve_file()``. Recognizers decide what the emulator "hears";
``best_local_recognizer()`` picks the best one installed. ``FaultPlan`` injects faults;
``Quotas`` makes the emulator throttle as the service does.
"""

from ._audio import AudioInfo, make_wav
from ._emulator import SpeechEmulator
from ._faults import Fault, FaultPlan, FaultRule, RecordedRequest, Recording
from ._local import PocketSphinxRecognizer, best_local_recognizer
from ._quota import FAST_QUOTA, REST_QUOTA, Quota, Quotas
from ._recognizer import (
    DeterministicRecognizer,
    RecognizedPhrase,
    RecognizedWord,
    Recognizer,
    ScriptedRecognizer,
)
from ._state import DownloadLimits, EmulatorState, RequestRecord, ServiceLimits, Timing

__all__ = [
    "FAST_QUOTA",
    "REST_QUOTA",
    "AudioInfo",
    "DeterministicRecognizer",
    "DownloadLimits",
    "EmulatorState",
    "Fault",
    "FaultPlan",
    "FaultRule",
    "PocketSphinxRecognizer",
    "Quota",
    "Quotas",
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
