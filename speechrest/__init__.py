"""speechrest: an asyncio-first client for the Azure Speech to text REST API 2025-10-15."""

from . import errors, types
from ._client import DEFAULT_API_VERSION, ClientStats, SpeechClient
from ._convert import make_converter, unstructure
from ._limits import QuotaPolicy, QuotaStats
from ._polling import WAIT_MANY_POLICY, PollPolicy, WaitOutcome
from ._redact import redact_url
from ._version import __version__
from .errors import SpeechRestError
from .resources import AsyncPager, InputResult, OutcomeStream, Page, TranscribeOutcome

__all__ = [
    "DEFAULT_API_VERSION",
    "WAIT_MANY_POLICY",
    "AsyncPager",
    "ClientStats",
    "InputResult",
    "OutcomeStream",
    "Page",
    "PollPolicy",
    "QuotaPolicy",
    "QuotaStats",
    "SpeechClient",
    "SpeechRestError",
    "TranscribeOutcome",
    "WaitOutcome",
    "__version__",
    "errors",
    "make_converter",
    "redact_url",
    "types",
    "unstructure",
]
