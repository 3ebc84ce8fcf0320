"""SpeechClient: the async session manager and the entry point to every operation group."""

from __future__ import annotations

import os
import ssl as _ssl
from collections.abc import AsyncIterable, Callable, Iterable
from typing import Any, Self, TypeVar, Unpack

import attrs

from . import _checks as check
from . import _tracing
from ._auth import Auth, TokenProvider
from ._http import HttpConfig, Transport
from ._limits import (
    FAST_QUOTA,
    REST_QUOTA,
    STORAGE_QUOTA,
    ClientLimits,
    OutcomeStream,
    QuotaPolicy,
    QuotaStats,
)
from ._redact import redact_url
from ._retry import RetryPolicy
from ._upload import AudioInput
from .errors import ClientStateError, InvalidInputError
from .resources._base import Api, Resource
from .resources.datasets import Datasets
from .resources.endpoints import Endpoints
from .resources.evaluations import Evaluations
from .resources.fast import FastTranscription, TranscribeOutcome
from .resources.models import Models
from .resources.operations import Operations
from .resources.projects import Projects
from .resources.transcriptions import Transcriptions
from .resources.webhooks import WebHooks
from .types import TranscribeOptions, TranscribeResult

__all__ = ["DEFAULT_API_VERSION", "ClientStats", "SpeechClient"]

DEFAULT_API_VERSION = "2025-10-15"
"""The version of the Speech to text REST API this library speaks (``api-version``)."""
S = TypeVar("S")
R = TypeVar("R", bound=Resource)


@attrs.frozen(kw_only=True)
class ClientStats:
    """A snapshot of a client's state (:meth:`SpeechClient.stats`)."""

    connections_in_use: int
    """Connections carrying a request now."""
    connections_idle: int
    """Open connections in the pool, kept for the next requests."""
    fast: QuotaStats
    """Fast transcription requests: the current limit, throttles and retries."""
    rest: QuotaStats
    """Batch and custom speech REST API requests."""
    storage: QuotaStats
    """Downloads of result and other files from their SAS links."""


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

    Retries: ``max_retries`` per call, backoff from ``backoff_base`` doubling up to
    ``backoff_max`` seconds (with jitter), a ``Retry-After`` longer than ``max_retry_after``
    raised instead of waited out, and at most ``max_retry_time`` seconds of sleep per call.
    A throttled request (HTTP 429, unless the quota is used up) waits its turn and is sent
    again without counting toward those: bound the wait with ``anyio.fail_after``.

    Quotas: every request passes the adaptive admission of its quota family, shared by all
    the calls of the client and its views: ``fast_quota`` (fast transcription),
    ``rest_quota`` (the batch and custom speech REST API, never more than 100 requests per
    10 seconds by default) and ``storage_quota`` (downloads from SAS links). See
    :class:`~speechrest.QuotaPolicy`; ``QuotaPolicy(adaptive=False)`` turns it off.

    Every response is read with a cap, counted after decompression: ``max_response_bytes``
    (16 MiB) for the service's API responses, ``max_download_bytes`` (256 MiB) for result
    files read from a ``contentUrl``. A larger body raises
    :class:`~speechrest.errors.ResponseTooLargeError` and is not read further.
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
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        max_retry_after: float = 60.0,
        max_retry_time: float = 120.0,
        ssl: _ssl.SSLContext | None = None,
        allow_insecure_http: bool = False,
        user_agent: str | None = None,
        fast_quota: QuotaPolicy = FAST_QUOTA,
        rest_quota: QuotaPolicy = REST_QUOTA,
        storage_quota: QuotaPolicy = STORAGE_QUOTA,
        max_response_bytes: int = 16 * 1024 * 1024,
        max_download_bytes: int = 256 * 1024 * 1024,
    ) -> None:
        if not isinstance(endpoint, str) or not endpoint:
            raise InvalidInputError(
                "endpoint must be a URL string, e.g. https://eastus.api.cognitive.microsoft.com"
            )
        config = HttpConfig(
            connect_timeout=check.number(connect_timeout, "connect_timeout", low=1e-3),
            read_timeout=check.number(read_timeout, "read_timeout", low=1e-3),
            max_connections=check.positive(max_connections, "max_connections"),
            user_agent=check.optional(check.header_value, user_agent, "user_agent"),
            max_response_bytes=check.positive(max_response_bytes, "max_response_bytes"),
            max_download_bytes=check.positive(max_download_bytes, "max_download_bytes"),
        )
        retry = _retry_policy(
            RetryPolicy(),
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            max_retry_after=max_retry_after,
            max_retry_time=max_retry_time,
        )
        transport = Transport(
            endpoint,
            auth=Auth(key, credential),
            api_version=api_version,
            config=config,
            session=session,
            ssl=ssl,
            allow_insecure_http=allow_insecure_http,
        )
        for name, value in (
            ("fast_quota", fast_quota),
            ("rest_quota", rest_quota),
            ("storage_quota", storage_quota),
        ):
            if not isinstance(value, QuotaPolicy):
                raise InvalidInputError(f"{name} must be a speechrest.QuotaPolicy; got {value!r}")
        limits = ClientLimits(fast_quota, rest_quota, storage_quota)
        self._attach(Api(transport, limits, retry), owner=True)

    def _attach(self, api: Api, *, owner: bool) -> None:
        self._api = api
        self._owner = owner
        traced = api.transport.tracer is not None

        def group(cls: type[R], name: str) -> R:
            """The group's resource; its operations in spans when the client traces."""
            return (_tracing.traced(cls, name) if traced else cls)(api)

        self._fast = group(FastTranscription, "")
        self.models = group(Models, "models")
        """Base and custom models: training, manifests, copies."""
        self.operations = group(Operations, "operations")
        """The status of model copies."""
        self.transcriptions = group(Transcriptions, "transcriptions")
        """Batch transcription jobs: submit, wait, read results."""
        self.webhooks = group(WebHooks, "webhooks")
        """Web hook registrations."""
        self.projects = group(Projects, "projects")
        """Custom speech projects and the entities in each."""
        self.datasets = group(Datasets, "datasets")
        """Training and test data: import from a URL or upload a local file."""
        self.endpoints = group(Endpoints, "endpoints")
        """Deployments of custom models."""
        self.evaluations = group(Evaluations, "evaluations")
        """Accuracy comparisons of two models on a test dataset."""

    # -- construction helpers --------------------------------------------------------------

    @classmethod
    def from_region(cls, region: str, *, key: str | None = None, **kwargs: Any) -> Self:
        """A client for ``https://{region}.api.cognitive.microsoft.com``."""
        if not isinstance(region, str) or not region.replace("-", "").isalnum():
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

    def with_options(
        self,
        *,
        max_retries: int | None = None,
        backoff_base: float | None = None,
        backoff_max: float | None = None,
        max_retry_after: float | None = None,
        max_retry_time: float | None = None,
    ) -> SpeechClient:
        """A view of this client with other retry options for the calls made through it.

        The view shares this client's session, credentials and limits, and is usable
        while this client is open; open and close the client itself, not the view."""
        retry = _retry_policy(
            self._api.retry,
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            max_retry_after=max_retry_after,
            max_retry_time=max_retry_time,
        )
        view = SpeechClient.__new__(SpeechClient)
        view._attach(Api(self._api.transport, self._api.limits, retry), owner=False)
        return view

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._require_owner("open")
        check.on_asyncio("SpeechClient")
        await self._api.transport.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session (unless it was given to us)."""
        self._require_owner("close")
        await self._api.transport.close()

    def _require_owner(self, what: str) -> None:
        if not self._owner:
            raise ClientStateError(
                f"this is a view made by with_options(): {what} the client it came from"
            )

    @property
    def endpoint(self) -> str:
        """The resource's endpoint, e.g. ``https://eastus.api.cognitive.microsoft.com``."""
        return str(self._api.transport.base)

    @property
    def api_version(self) -> str:
        """The ``api-version`` sent with every request (``2025-10-15``)."""
        return self._api.transport.api_version

    @property
    def key(self) -> str | None:
        """The resource key (None with a credential). Assign a new key to rotate it: it is
        used from the next request on, by this client and its views."""
        return self._api.transport.auth.key

    @key.setter
    def key(self, value: str) -> None:
        self._api.transport.auth.key = value

    def stats(self) -> ClientStats:
        """A snapshot of this client's state: its connections, and for each quota family
        the current limit, the requests in flight and waiting, and the throttles and
        retries so far."""
        connections = self._api.transport.connector_stats()
        limits = self._api.limits
        return ClientStats(
            connections_in_use=connections["acquired"],
            connections_idle=connections["pooled"],
            fast=limits.fast.stats(),
            rest=limits.rest.stats(),
            storage=limits.storage.stats(),
        )

    def __repr__(self) -> str:
        endpoint = redact_url(self.endpoint)
        return f"SpeechClient(endpoint={endpoint!r}, api_version={self.api_version!r})"

    # -- fast transcription ----------------------------------------------------------------

    async def transcribe(
        self,
        audio: AudioInput | None = None,
        *,
        audio_url: str | None = None,
        on_progress: Callable[[int], object] | None = None,
        **options: Unpack[TranscribeOptions],
    ) -> TranscribeResult:
        """Transcribe one audio file (``Transcriptions_Transcribe``) and return the result.

        ``audio`` is a path, ``bytes``, a binary file object, an async file object (any
        object with an async ``read()``) or an async iterable of bytes; or pass
        ``audio_url=``. The recognition options are those of
        :class:`~speechrest.types.TranscribeOptions` (``locales``, ``max_speakers``,
        ``channels``, ...). ``on_progress`` is called with the number of audio bytes
        uploaded so far.
        """
        fast = self._fast
        definition_json = fast.definition_json(audio, audio_url, options)
        return await fast.transcribe(audio, definition_json, on_progress)

    def transcribe_many(
        self,
        sources: Iterable[S] | AsyncIterable[S],
        *,
        concurrency: int = 8,
        on_progress: Callable[[int], object] | None = None,
        **options: Unpack[TranscribeOptions],
    ) -> OutcomeStream[TranscribeOutcome[S]]:
        """Transcribe many sources concurrently, yielding a :class:`TranscribeOutcome` per
        source as each completes (``.source``, ``.ok``, ``.result``, ``.error``)::

            async with client.transcribe_many(paths, concurrency=16) as outcomes:
                async for item in outcomes:
                    ...

        A failure is reported in its outcome and does not stop the others. The work runs
        inside the ``async with`` block: leaving it early cancels what is still in flight.
        The options are those of :meth:`transcribe`, the same for every source.
        """
        return self._fast.transcribe_many(
            sources, concurrency=concurrency, on_progress=on_progress, options=options
        )


def _retry_policy(base: RetryPolicy, **changes: Any) -> RetryPolicy:
    """``base`` with the given retry options (None: unchanged), checked."""
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        if value is None:
            continue
        if name == "max_retries":
            checked[name] = check.integer(value, name, low=0)
        else:
            checked[name] = check.number(value, name, low=0)
    return attrs.evolve(base, **checked)
