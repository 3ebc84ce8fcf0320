"""One class per operation group; reach them through :class:`speechrest.SpeechClient`."""

from ._base import AsyncPager, Page
from .fast import OutcomeStream, TranscribeOutcome

__all__ = ["AsyncPager", "OutcomeStream", "Page", "TranscribeOutcome"]
