"""One class per operation group; reach them through :class:`speechrest.SpeechClient`."""

from .._limits import OutcomeStream
from ._base import AsyncPager, Page
from .fast import TranscribeOutcome
from .transcriptions import InputResult

__all__ = ["AsyncPager", "InputResult", "OutcomeStream", "Page", "TranscribeOutcome"]
