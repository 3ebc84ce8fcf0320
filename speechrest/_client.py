"""SpeechClient: the async session manager and the entry point to every operation group."""

from __future__ import annotations

import os
import ssl as _ssl
from collections.abc import AsyncIterable, Callable, Iterable
from typing import Any, Self, TypeVar

from ._http import HttpConfig, TokenProvider, Transport
from ._redact import Secret, redact_url
from ._upload import AudioInput
from .errors import InvalidInputError
from .resources.datasets import Datasets
from .resources.endpoints import Endpoints
from .resources.evaluations import Evaluations
from .resources.fast import FastTranscription, OutcomeStream, TranscribeOutcome
from .resources.models import Models
from .resources.operations import Operations
from .resources.projects import Projects
from .resources.transcriptions import Transcriptions
from .resources.webhooks import WebHooks
from .types import TranscribeResult

__all__ = ["DEFAULT_API_VERSION", "SpeechClient"]

DEFAULT_API_VERSION = "2025-10-15"
"""The version of the Speech to text REST API this library speaks (``api-version``)."""
S = TypeVar("S")


class SpeechClient:
    """Async client for the Speech to text REST API.

    Use it as an async context manager; it opens one pooled HTTP session on enter and
    closes it on exit::

        async with SpeechClient(endpoint, key=key) as client:
            result = await client.transcribe("call.wav", locales=["en-US"])

    Give exactly one of ``key`` (the resource key; rotate it with ``client.key = new``) or
    ``credential`` (an object with ``async get_token(*scopes)``, such as
    ``azure.identity.aio.DefaultAzureCredential``). Pass ``session=`` to use your own
    ``aiohttp.ClientSession``; it is then neither created nor closed by the client.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        key: str | None = None,
        credential: TokenProvider | None = None,
        api_version: str = DEFAULT_API_VERSION,
        session: Any = None,
        max_retries: int = 3,
        connect_timeout: float = 10.0,
        read_timeout: float = 300.0,
        max_connections: int = 100,
        max_retry_after: float = 60.0,
        max_retry_time: float = 120.0,
        ssl: _ssl.SSLContext | None = None,
        allow_insecure_http: bool = False,
        user_agent: str | None = None,
    ) -> None:
        if not isinstance(endpoint, str) or not endpoint:
            raise InvalidInputError(
                "endpoint must be a URL string, e.g. https://eastus.api.cognitive.microsoft.com"
            )
        _check_retries(max_retries)
        for name, value in (("connect_timeout", connect_timeout), ("read_timeout", read_timeout)):
            if not value > 0:
                raise InvalidInputError(f"{name} must be a positive number of seconds")
        if max_connections < 1:
            raise InvalidInputError("max_connections must be at least 1")
        config = HttpConfig(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_connections=max_connections,
            max_retries=max_retries,
            max_retry_after=max_retry_after,
            max_retry_time=max_retry_time,
            user_agent=user_agent,
        )
        self._transport = Transport(
            endpoint,
            key=key,
            credential=credential,
            api_version=api_version,
            config=config,
            session=session,
            ssl=ssl,
            allow_insecure_http=allow_insecure_http,
        )
        self._max_retries: int | None = None
        self._init_resources()

    def _init_resources(self) -> None:
        self._fast = FastTranscription(self)
        self.models = Models(self)
        """Base and custom models: training, manifests, copies."""
        self.operations = Operations(self)
        """The status of model copies."""
        self.transcriptions = Transcriptions(self)
        """Batch transcription jobs: submit, wait, read results."""
        self.webhooks = WebHooks(self)
        """Web hook registrations."""
        self.projects = Projects(self)
        """Custom speech projects and the entities in each."""
        self.datasets = Datasets(self)
        """Training and test data: import from a URL or upload a local file."""
        self.endpoints = Endpoints(self)
        """Deployments of custom models."""
        self.evaluations = Evaluations(self)
        """Accuracy comparisons of two models on a test dataset."""

    # -- construction helpers --------------------------------------------------------------

    @classmethod
    def from_region(cls, region: str, *, key: str | None = None, **kwargs: Any) -> Self:
        """A client for ``https://{region}.api.cognitive.microsoft.com``."""
        if not region or not region.replace("-", "").isalnum():
            raise InvalidInputError(
                f"region must be an Azure region name such as 'eastus'; got {region!r}"
            )
        return cls(f"https://{region.lower()}.api.cognitive.microsoft.com", key=key, **kwargs)

    @classmethod
    def from_env(cls, **kwargs: Any) -> Self:
        """A client from ``SPEECH_KEY`` and ``SPEECH_ENDPOINT`` or ``SPEECH_REGION``."""
        key = kwargs.pop("key", None) or os.environ.get("SPEECH_KEY")
        endpoint = os.environ.get("SPEECH_ENDPOINT")
        region = os.environ.get("SPEECH_REGION")
        if not key and "credential" not in kwargs:
            raise InvalidInputError("SPEECH_KEY is not set (or pass credential=)")
        if endpoint:
            return cls(endpoint, key=key, **kwargs)
        if region:
            return cls.from_region(region, key=key, **kwargs)
        raise InvalidInputError("set SPEECH_ENDPOINT or SPEECH_REGION")

    def with_options(self, *, max_retries: int | None = None) -> Self:
        """A view of this client (same session) with other per-call options."""
        if max_retries is not None:
            _check_retries(max_retries)
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._max_retries = max_retries if max_retries is not None else self._max_retries
        clone._init_resources()
        return clone

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self._transport.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session (unless it was given to us)."""
        await self._transport.close()

    @property
    def endpoint(self) -> str:
        return str(self._transport.base)

    @property
    def api_version(self) -> str:
        return self._transport.api_version

    @property
    def key(self) -> None:
        """Write-only: assign a new key to rotate it; it is used from the next request on."""
        return None

    @key.setter
    def key(self, value: str) -> None:
        if self._transport.auth.key is None:
            raise InvalidInputError("this client authenticates with a credential, not a key")
        if not isinstance(value, str) or not value.strip():
            raise InvalidInputError("the new key is empty")
        self._transport.auth.key = Secret(value)

    def __repr__(self) -> str:
        endpoint = redact_url(self.endpoint)
        return f"SpeechClient(endpoint={endpoint!r}, api_version={self.api_version!r})"

    # -- fast transcription ----------------------------------------------------------------

    async def transcribe(
        self,
        audio: AudioInput | None = None,
        *,
        audio_url: str | None = None,
        on_progress: Callable[[int], None] | None = None,
        **options: Any,
    ) -> TranscribeResult:
        """Transcribe one audio file (``Transcriptions_Transcribe``) and return the result.

        ``audio`` is a path, ``bytes``, a binary file object or an async iterable of bytes;
        or pass ``audio_url=``. Options (all optional): ``locales``, ``diarization``,
        ``max_speakers`` (turns diarization on), ``channels``, ``profanity_filter_mode``,
        ``phrase_list``, ``phrase_list_weight``, ``enhanced_mode`` (bool or
        :class:`~speechrest.types.EnhancedModeProperties`), ``models``, and ``definition``
        (a :class:`~speechrest.types.TranscribeDefinition` the keywords are merged over).
        ``on_progress`` is called with the number of audio bytes uploaded so far.
        """
        fast = self._fast
        definition_json = fast.definition_json(audio, audio_url, options)
        return await fast.transcribe(audio, definition_json, on_progress)

    def transcribe_many(
        self,
        sources: Iterable[S] | AsyncIterable[S],
        *,
        concurrency: int = 8,
        **options: Any,
    ) -> OutcomeStream[TranscribeOutcome[S]]:
        """Transcribe many sources concurrently, yielding a :class:`TranscribeOutcome` per
        source as each completes (``.source``, ``.result``, ``.error``). A failure is
        reported in its outcome and does not stop the others; leaving the loop early
        cancels the work in flight."""
        return self._fast.transcribe_many(sources, concurrency=concurrency, **options)


def _check_retries(value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"max_retries must be a non-negative integer; got {value!r}")
