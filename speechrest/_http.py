"""HTTP transport: the only client-side module that touches aiohttp.

It owns the ``aiohttp.ClientSession``, authentication, the retry policy, ``Retry-After``
handling and the mapping of HTTP failures to :mod:`speechrest.errors`. Everything above it
gets plain Python values (:class:`Response`) and our exceptions.
"""

from __future__ import annotations

import contextlib
import email.utils
import ipaddress
import itertools
import json
import logging
import math
import os
import platform
import random
import ssl as _ssl
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from types import AsyncGeneratorType
from typing import Any, Protocol

import aiohttp
import anyio
import attrs
from yarl import URL

from . import errors
from ._redact import Secret, redact_url
from ._version import __version__

__all__ = [
    "Body",
    "HttpConfig",
    "Response",
    "TokenProvider",
    "Transport",
    "parse_retry_after",
]

log = logging.getLogger("speechrest")

SCOPE = "https://cognitiveservices.azure.com/.default"
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_REQUEST_ID_HEADERS = ("apim-request-id", "x-ms-request-id", "x-requestid", "x-request-id")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_BUFFERS = (bytes, bytearray)
_SLICE = 256 * 1024
"""Chunk size used to send a ``bytes`` body, so that its progress can be watched."""
_QUOTA_CODES = ("quota", "QuotaViolation", "InsufficientQuota", "OutOfQuota")
_NO_WATCHDOG = contextlib.nullcontext()
_decode_json = json.JSONDecoder().decode


class _UniqueIds:
    """UUID-shaped strings, unique in this process: ``x-ms-client-request-id`` values and
    multipart boundaries.

    A random version-4 UUID per process whose last 48 bits count up from a random start,
    so ids never repeat within the process and are as unlikely to collide across processes
    as random UUIDs. (``uuid.uuid4()`` per request costs ten times as much.)
    """

    def __init__(self) -> None:
        self.reset()
        if hasattr(os, "register_at_fork"):  # (POSIX) a forked child must not repeat ours
            os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self._prefix = str(uuid.uuid4())[:24]
        self._counter = itertools.count(random.getrandbits(48))

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFFFFFF:012x}"


unique_id = _UniqueIds().next


class TokenProvider(Protocol):
    """Anything with ``async get_token(*scopes)`` returning an object with ``token`` and
    ``expires_on`` (epoch seconds): ``azure.identity.aio`` credentials fit."""

    def get_token(self, *scopes: str) -> Awaitable[Any]: ...


@attrs.frozen(kw_only=True)
class HttpConfig:
    """Transport settings, fixed when the client is built."""

    connect_timeout: float = 10.0
    """Seconds to establish a connection."""
    read_timeout: float = 300.0
    """Seconds the server may stay silent while we wait for (more of) a response. An upload
    that keeps making progress is never cut off by this."""
    max_connections: int = 100
    """Size of the connection pool."""
    max_retries: int = 3
    """Retries after the first attempt, for transient failures."""
    backoff_base: float = 0.5
    """First backoff delay in seconds; doubles per attempt, with full jitter."""
    backoff_max: float = 8.0
    """Largest backoff delay without a Retry-After."""
    max_retry_after: float = 60.0
    """A Retry-After longer than this is not waited out: the error is raised instead."""
    max_retry_time: float = 120.0
    """Total seconds spent sleeping between retries of one call, at most."""
    user_agent: str | None = None
    """Appended to speechrest's User-Agent."""


@attrs.define(kw_only=True)
class Response:
    """A completed HTTP exchange, as plain values."""

    status: int
    headers: Mapping[str, str]
    """Response headers; names are looked up regardless of case."""
    data: Any
    """The decoded JSON body, or None when the body is empty."""
    request_id: str | None

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers)

    @property
    def location(self) -> str | None:
        return self.headers.get("location")


@attrs.define(kw_only=True)
class Body:
    """A request body that can be produced again for each attempt.

    ``open`` returns the bytes to send (a buffer or an async iterator of chunks). For a
    body that cannot be replayed ``replayable`` is False: it is sent once and never retried.
    """

    open: Callable[[], bytes | bytearray | AsyncIterator[bytes]]
    content_type: str
    length: int | None = None
    replayable: bool = True


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_fields(data: Any) -> tuple[str | None, str | None, str | None]:
    """(code, inner code, message) from either error body shape."""
    if not isinstance(data, dict):
        return None, None, None
    if isinstance(data.get("error"), dict):
        data = data["error"]
    code = data.get("code")
    message = data.get("message")
    inner = data.get("innerError") or data.get("innererror")
    inner_code = inner.get("code") if isinstance(inner, dict) else None
    return (
        code if isinstance(code, str) else None,
        inner_code if isinstance(inner_code, str) else None,
        message if isinstance(message, str) else None,
    )


def _is_loopback(url: URL) -> bool:
    host = url.host or ""
    if host in _LOOPBACK:
        return True
    try:  # 127.0.0.2 is loopback; 127.0.0.1.example.com is not
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Auth:
    """Key or bearer token; the token is fetched lazily and refreshed before it expires."""

    def __init__(self, key: str | None, credential: TokenProvider | None) -> None:
        self.key = Secret(key) if key is not None else None
        self.credential = credential
        self._token: Secret | None = None
        self._expires_on = 0.0
        self._lock = anyio.Lock()

    async def token_headers(self) -> dict[str, str]:
        """The bearer token header (with a credential; a key is sent without awaiting)."""
        assert self.credential is not None
        if self._token is None or self._expires_on - time.time() < 300:
            async with self._lock:
                if self._token is None or self._expires_on - time.time() < 300:
                    access = await self.credential.get_token(SCOPE)
                    self._token = Secret(str(access.token))
                    self._expires_on = float(access.expires_on)
        assert self._token is not None
        return {"Authorization": f"Bearer {self._token.reveal()}"}


class Transport:
    """One aiohttp session per client, with auth, retries and error mapping."""

    def __init__(
        self,
        endpoint: str,
        *,
        key: str | None,
        credential: TokenProvider | None,
        api_version: str,
        config: HttpConfig,
        session: Any = None,
        ssl: _ssl.SSLContext | None = None,
        allow_insecure_http: bool = False,
    ) -> None:
        if (key is None) == (credential is None):
            raise errors.InvalidInputError(
                "give exactly one of key= (a Speech resource key) or credential= "
                "(an async token provider such as azure.identity.aio.DefaultAzureCredential)"
            )
        if key is not None and not key.strip():
            raise errors.InvalidInputError("key= is empty: pass the Speech resource key")
        base = URL(endpoint.rstrip("/"))
        if base.scheme not in ("http", "https") or not base.host:
            raise errors.InvalidInputError(
                f"endpoint must be an absolute http(s) URL such as "
                f"https://eastus.api.cognitive.microsoft.com; got {redact_url(endpoint)!r}"
            )
        if base.scheme == "http" and not (allow_insecure_http or _is_loopback(base)):
            raise errors.InvalidInputError(
                "plain http:// is only accepted for loopback addresses (the emulator); "
                "use https://, or pass allow_insecure_http=True if you really mean it"
            )
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise errors.InvalidInputError("session= must be an aiohttp.ClientSession")
        self.base = base
        self.origin = base.origin()
        self._origin_key = (base.scheme, base.host, base.port)
        self._urls: dict[tuple[str, bool], URL] = {}
        self.api_version = api_version
        self.config = config
        self.auth = _Auth(key, credential)
        self._ssl = ssl
        self._session: aiohttp.ClientSession | None = session
        self._owns_session = session is None
        self._state = "unopened"
        self.user_agent = " ".join(
            p
            for p in (
                f"speechrest/{__version__}",
                f"aiohttp/{aiohttp.__version__}",
                f"Python/{platform.python_version()} ({platform.system()})",
                config.user_agent,
            )
            if p
        )
        self._common_headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        """Headers every request sends (copied per request; credentials are added then)."""

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        if self._state != "unopened":
            raise errors.ClientStateError(
                f"this client is {self._state}; create a new SpeechClient to open it again"
            )
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self.config.max_connections,
                ssl=self._ssl if self._ssl is not None else True,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout(),
                auto_decompress=True,
                trust_env=False,
            )
        self._state = "open"

    async def close(self) -> None:
        if self._state == "open" and self._owns_session and self._session is not None:
            await self._session.close()
        self._state = "closed"

    @property
    def is_open(self) -> bool:
        return self._state == "open"

    def connector_stats(self) -> dict[str, int]:
        """Pooled and in-use connections (for diagnostics and tests)."""
        conn = self._session.connector if self._session is not None else None
        if conn is None:
            return {"acquired": 0, "pooled": 0}
        acquired = len(getattr(conn, "_acquired", ()))
        pooled = sum(len(v) for v in getattr(conn, "_conns", {}).values())
        return {"acquired": acquired, "pooled": pooled}

    def _timeout(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(
            total=None,
            connect=None,
            sock_connect=self.config.connect_timeout,
            sock_read=self.config.read_timeout,
        )

    def _require_open(self) -> aiohttp.ClientSession:
        if self._state != "open" or self._session is None:
            if self._state == "unopened":
                raise errors.ClientStateError(
                    "the client is not open: use it as `async with SpeechClient(...) as client:`"
                )
            raise errors.ClientStateError("the client is closed; create a new SpeechClient")
        if self._session.closed:
            raise errors.ClientStateError("the aiohttp session given to this client is closed")
        return self._session

    # -- requests --------------------------------------------------------------------------

    def url(self, path: str) -> URL:
        """The absolute URL of an API path such as ``/transcriptions``."""
        return URL(str(self.base) + "/speechtotext" + path)

    def same_origin(self, url: URL) -> bool:
        return (url.scheme, url.host, url.port) == self._origin_key

    def _resolve(
        self, target: str | URL, params: Mapping[str, Any] | None, authenticated: bool
    ) -> URL:
        """The URL to call: the API path or absolute URL, with api-version and params."""
        if not params and isinstance(target, str):
            # API paths repeat (every fast transcription posts to the same one): parse once.
            cached = self._urls.get((target, authenticated))
            if cached is None:
                cached = self._resolve(
                    URL(target, encoded=True) if "://" in target else self.url(target),
                    None,
                    authenticated,
                )
                if len(self._urls) < 256:
                    self._urls[target, authenticated] = cached
            return cached
        if isinstance(target, URL):
            url = target
        else:
            url = URL(target, encoded=True) if "://" in target else self.url(target)
        query: dict[str, Any] = dict(url.query)
        if self.same_origin(url) and authenticated:
            query.setdefault("api-version", self.api_version)
        for name, value in (params or {}).items():
            if value is not None:
                query[name] = _query_value(value)
        return url.with_query(query) if query else url

    async def request(
        self,
        method: str,
        target: str | URL,
        *,
        operation: str,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        body: Body | None = None,
        headers: Mapping[str, str] | None = None,
        creates: bool = False,
        max_retries: int | None = None,
        authenticated: bool = True,
        expect: str = "json",
    ) -> Response:
        """Send one API call, with retries, and return its response or raise our error.

        ``target`` is an API path (``/transcriptions``) or an absolute URL (``@nextLink``,
        ``Location``, a ``contentUrl``). Credentials go only to the configured endpoint's
        origin. ``creates`` marks a POST that creates an entity: it is retried only when the
        request provably did not reach the service, or the service asked for a retry with
        429/503 and Retry-After. ``expect`` is ``"json"`` or ``"bytes"``.
        """
        session = self._require_open()
        url = self._resolve(target, params, authenticated)

        if json_body is not None:
            payload = json.dumps(json_body, separators=(",", ":")).encode()
            body = Body(open=lambda: payload, content_type="application/json", length=len(payload))

        retries = self.config.max_retries if max_retries is None else max_retries
        client_request_id = unique_id()
        slept = 0.0
        attempt = 0
        while True:
            try:
                response = await self._send(
                    session,
                    method,
                    url,
                    operation,
                    body,
                    headers,
                    client_request_id,
                    authenticated=authenticated,
                    attempt=attempt,
                    expect=expect,
                )
            except _Retryable as exc:
                delay = self._backoff(attempt, None)
                if (
                    (creates and exc.reached_service)
                    or attempt >= retries
                    or slept + delay > self.config.max_retry_time
                ):
                    raise exc.error from None
                if body is not None and not body.replayable and exc.reached_service:
                    # A refused connection read nothing of the body: it can still be sent.
                    raise errors.NotReplayableError(
                        f"{exc.error}; the request body is a one-shot stream (an async iterable "
                        "or a non-seekable file) and cannot be sent again: pass a path, bytes or "
                        "a seekable file to get automatic retries",
                        operation=operation,
                    ) from None
                log.info(
                    "%s: %s; retry %d/%d in %.2fs",
                    operation,
                    exc.error,
                    attempt + 1,
                    retries,
                    delay,
                )
            else:
                if response.status < 400:
                    return response
                error = self._status_error(response, operation)
                delay_or_none = self._retry_delay(response, error, attempt, creates, body)
                if delay_or_none is None or attempt >= retries:
                    raise error
                delay = delay_or_none
                if slept + delay > self.config.max_retry_time:
                    raise error
                log.info(
                    "%s: HTTP %d; retry %d/%d in %.2fs",
                    operation,
                    response.status,
                    attempt + 1,
                    retries,
                    delay,
                )
            await anyio.sleep(delay)
            slept += delay
            attempt += 1

    async def _send(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: URL,
        operation: str,
        body: Body | None,
        extra_headers: Mapping[str, str] | None,
        client_request_id: str,
        *,
        authenticated: bool,
        attempt: int,
        expect: str,
    ) -> Response:
        for _hop in range(5):
            headers = self._common_headers.copy()
            headers["x-ms-client-request-id"] = client_request_id
            if attempt:
                headers["x-ms-retry-count"] = str(attempt)
            if authenticated and self.same_origin(url):
                key = self.auth.key
                if key is not None:
                    headers["Ocp-Apim-Subscription-Key"] = key.reveal()
                else:
                    headers.update(await self.auth.token_headers())
            data: Any = None
            if body is not None and method not in ("GET", "HEAD"):
                data = body.open()
                headers["Content-Type"] = body.content_type
                if body.length is not None and not isinstance(data, _BUFFERS):
                    # (aiohttp takes the length of a buffer from the buffer itself)
                    headers["Content-Length"] = str(body.length)
            if extra_headers:
                headers.update(extra_headers)
            # aiohttp's sock_read only starts once the body is sent: a server that stops
            # reading mid-upload would hang us. The watchdog fires when one chunk of the
            # body cannot be sent within read_timeout (a slow source is not counted).
            watchdog: anyio.CancelScope | None = None  # only a streamed body needs one
            if data is not None and not (isinstance(data, _BUFFERS) and len(data) <= _SLICE):
                watchdog = anyio.CancelScope()
                data = _watch(data, watchdog, self.config.read_timeout)
            started = time.perf_counter()
            try:
                with watchdog or _NO_WATCHDOG:
                    async with session.request(
                        method, url, data=data, headers=headers, allow_redirects=False
                    ) as resp:
                        if watchdog is not None:
                            watchdog.deadline = math.inf  # the body is sent (or refused)
                        if resp.status in _REDIRECTS and "Location" in resp.headers:
                            url = url.join(URL(resp.headers["Location"]))
                            if resp.status == 303:
                                method, body = "GET", None
                            continue
                        raw = await resp.read()
                        resp_headers = resp.headers
                if watchdog is not None and watchdog.cancelled_caught:
                    stalled = errors.APITimeoutError(
                        f"the upload made no progress for {self.config.read_timeout}s calling "
                        f"{redact_url(url)}: the service stopped reading the request body",
                        operation=operation,
                    )
                    raise _Retryable(stalled, reached_service=True)
            except TimeoutError as exc:
                connecting = isinstance(exc, aiohttp.ConnectionTimeoutError)
                error: errors.APIConnectionError = errors.APITimeoutError(
                    f"timed out after {time.perf_counter() - started:.1f}s "
                    f"({'connecting' if connecting else 'waiting for the response'}) "
                    f"calling {redact_url(url)}; raise connect_timeout=/read_timeout= if the "
                    "service needs longer",
                    operation=operation,
                )
                raise _Retryable(error, reached_service=not connecting) from None
            except aiohttp.ClientConnectorError as exc:
                error = errors.APIConnectionError(
                    f"cannot connect to {url.host}:{url.port}: {exc.os_error}",
                    operation=operation,
                )
                raise _Retryable(error, reached_service=False) from None
            except (aiohttp.ClientError, OSError) as exc:
                error = errors.APIConnectionError(
                    f"connection to {url.host}:{url.port} failed during the exchange: "
                    f"{type(exc).__name__}: {redact_url(exc)}",
                    operation=operation,
                )
                raise _Retryable(error, reached_service=True) from None
            finally:
                if isinstance(data, AsyncGeneratorType) and not data.ag_running:
                    with anyio.CancelScope(shield=True):
                        await data.aclose()  # closes the source's file now, not at GC
            request_id = None
            for name in _REQUEST_ID_HEADERS:
                request_id = resp_headers.get(name)
                if request_id is not None:
                    break
            if log.isEnabledFor(logging.DEBUG):  # redacting the URL is not free
                log.debug(
                    "%s %s %s -> %d in %.3fs (request id %s)",
                    operation,
                    method,
                    redact_url(url),
                    resp.status,
                    time.perf_counter() - started,
                    request_id,
                )
            decoded: Any = None
            if raw and (expect == "json" or resp.status >= 400):
                try:
                    decoded = _parse_json(raw)
                except ValueError as exc:
                    if resp.status < 400:
                        raise errors.ResponseValidationError(
                            operation,
                            [f"the body is not valid JSON ({exc}); {len(raw)} bytes received"],
                            request_id=request_id,
                        ) from None
                    decoded = raw.decode("utf-8", "replace")[:500]
            elif raw:
                decoded = raw
            return Response(
                status=resp.status,
                headers=resp_headers,
                data=decoded,
                request_id=request_id,
            )
        raise errors.APIConnectionError("too many redirects", operation=operation)

    def _status_error(self, response: Response, operation: str) -> errors.APIStatusError:
        code, inner_code, message = _error_fields(response.data)
        if message is None and isinstance(response.data, str):
            message = response.data
        cls = errors.status_error_class(response.status)
        return cls(
            response.status,
            code=code,
            inner_code=inner_code,
            message=message,
            request_id=response.request_id,
            operation=operation,
            body=response.data,
            retry_after=response.retry_after,
        )

    def _retry_delay(
        self,
        response: Response,
        error: errors.APIStatusError,
        attempt: int,
        creates: bool,
        body: Body | None,
    ) -> float | None:
        """Seconds to wait before retrying, or None when this error must be raised."""
        status = response.status
        if status not in RETRY_STATUSES:
            return None
        retry_after = response.retry_after
        if status == 429 and _is_quota_error(error):
            return None
        if retry_after is not None and retry_after > self.config.max_retry_after:
            return None
        said_retry = status in (429, 503) and retry_after is not None
        if creates and not said_retry:
            return None
        if body is not None and not body.replayable:
            error.add_note(
                "not retried: the request body is a one-shot stream (an async iterable or a "
                "non-seekable file); pass a path, bytes or a seekable file to get retries"
            )
            return None
        return self._backoff(attempt, retry_after)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        ceiling = min(self.config.backoff_max, self.config.backoff_base * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not crypto


def _is_quota_error(error: errors.APIStatusError) -> bool:
    text = " ".join(filter(None, (error.code, error.inner_code, error.message))).lower()
    return any(marker.lower() in text for marker in _QUOTA_CODES)


async def _watch(
    data: bytes | bytearray | AsyncIterator[bytes], watchdog: anyio.CancelScope, seconds: float
) -> AsyncGenerator[bytes, None]:
    """Yield the body in chunks, giving each chunk ``seconds`` to be sent."""
    chunks = _slices(data) if isinstance(data, _BUFFERS) else data
    try:
        async for chunk in chunks:
            watchdog.deadline = anyio.current_time() + seconds
            yield chunk
            watchdog.deadline = math.inf  # sent; reading the source is not the server's time
    finally:
        if isinstance(chunks, AsyncGenerator):
            await chunks.aclose()


async def _slices(data: bytes | bytearray) -> AsyncIterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(data), _SLICE):
        yield bytes(view[start : start + _SLICE])


def _parse_json(raw: bytes) -> Any:
    """A JSON body as Python values. The service sends UTF-8: decoding it first skips the
    encoding detection of ``json.loads``, which is kept for anything else (a BOM, UTF-16)."""
    try:
        return _decode_json(raw.decode())
    except ValueError:
        return json.loads(raw)


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Retryable(Exception):
    """Internal: a transport failure that may be retried."""

    def __init__(self, error: errors.APIConnectionError, *, reached_service: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.reached_service = reached_service
