"""One class per operation group; reach them through :class:`speechrest.SpeechClient`."""

from .._limits import OutcomeStream
from ._base import AsyncPager, Page
from .fast import TranscribeOutcome

__all__ = ["AsyncPager", "OutcomeStream", "Page", "TranscribeOutcome"]
