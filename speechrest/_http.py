"""HTTP transport: the only client-side module that touches aiohttp.

It owns the ``aiohttp.ClientSession`` and sends one API call: URL and headers, the attempts
(each decided by :mod:`speechrest._retry`), redirects, the upload stall watchdog, bounded
reading and decoding of the body, and the mapping of aiohttp's exceptions to ours (in
:class:`_MappedErrors`, the only place). Everything above it gets plain Python values
(:class:`Response`) and our exceptions.
"""

from __future__ import annotations

import contextlib
import email.utils
import ipaddress
import json
import logging
import math
import platform
import ssl as _ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

import aiohttp
import anyio
import attrs
from yarl import URL

from . import errors
from ._auth import Auth
from ._convert import error_fields
from ._ids import unique_id
from ._redact import redact_url
from ._retry import RetryBudget, RetryPolicy, is_throttle, parse_retry_after
from ._version import __version__
from ._watchdog import SLICE, WatchedBody

__all__ = ["Admission", "Body", "HttpConfig", "Response", "Transport"]

log = logging.getLogger("speechrest")

_REQUEST_ID_HEADERS = ("apim-request-id", "x-ms-request-id", "x-requestid", "x-request-id")
_LOOPBACK = frozenset({"localhost"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
_UNWATCHED = contextlib.nullcontext()
"""The watchdog of a body sent in one piece with the headers: none."""
_decode_json = json.JSONDecoder().decode


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
    user_agent: str | None = None
    """Appended to speechrest's User-Agent."""


@attrs.define(kw_only=True)
class Response:
    """A completed HTTP exchange, as plain values."""

    status: int
    headers: Mapping[str, str]
    """Response headers; names are looked up regardless of case."""
    data: Any
    """The decoded JSON body (``expect="json"``) or the raw bytes; None when empty."""
    request_id: str | None

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers)

    @property
    def location(self) -> str | None:
        return self.headers.get("location")

    @property
    def date(self) -> datetime | None:
        """When the server answered (its ``Date`` header), or None."""
        try:
            when = email.utils.parsedate_to_datetime(self.headers.get("date", ""))
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        return when if when.tzinfo is not None else None


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


class Admission(Protocol):
    """Admits the HTTP attempts of one quota family (see :mod:`speechrest._limits`)."""

    budget: RetryBudget
    """The retries the family may still send."""

    def admit(self) -> float | None:
        """A ticket for :meth:`done` if an attempt may be sent now, else None."""

    async def acquire(self) -> float:
        """Wait until an attempt may be sent; return its ticket for :meth:`done`."""

    def done(
        self,
        ticket: float,
        status: int | None,
        *,
        throttled: bool = False,
        retry_after: float | None = None,
    ) -> None:
        """The attempt ended: its HTTP status (None: no answer), whether the service
        throttled it, and its ``Retry-After``."""


class _Failed(Exception):
    """One attempt failed without an HTTP status: the error to report, and whether any of
    the request may have reached the service."""

    def __init__(self, error: errors.APIConnectionError, *, reached_service: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.reached_service = reached_service


class Transport:
    """One aiohttp session per client: sends API calls, with retries and error mapping."""

    def __init__(
        self,
        endpoint: str,
        *,
        auth: Auth,
        api_version: str,
        config: HttpConfig,
        session: Any = None,
        ssl: _ssl.SSLContext | None = None,
        allow_insecure_http: bool = False,
    ) -> None:
        base = _endpoint(endpoint, allow_insecure_http)
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise errors.InvalidInputError("session= must be an aiohttp.ClientSession")
        self.base = base
        self.api_version = api_version
        self.config = config
        self.auth = auth
        self._origin = (base.scheme, base.host, base.port)
        self._paths: dict[str, URL] = {}
        self._ssl = ssl
        self._session: aiohttp.ClientSession | None = session
        self._owns_session = session is None
        self._state = "unopened"
        agent = [
            f"speechrest/{__version__}",
            f"aiohttp/{aiohttp.__version__}",
            f"Python/{platform.python_version()} ({platform.system()})",
        ]
        if config.user_agent:
            agent.append(config.user_agent)
        self._headers = {"User-Agent": " ".join(agent), "Accept": "application/json"}
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
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=None,
                    sock_connect=self.config.connect_timeout,
                    sock_read=self.config.read_timeout,
                ),
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

    def _require_open(self) -> aiohttp.ClientSession:
        if self._state == "unopened":
            raise errors.ClientStateError(
                "the client is not open: use it as `async with SpeechClient(...) as client:`"
            )
        if self._state != "open" or self._session is None:
            raise errors.ClientStateError("the client is closed; create a new SpeechClient")
        if self._session.closed:
            raise errors.ClientStateError("the aiohttp session given to this client is closed")
        return self._session

    # -- URLs ------------------------------------------------------------------------------

    def url(self, path: str) -> URL:
        """The absolute URL of an API path such as ``/transcriptions``."""
        return URL(str(self.base) + "/speechtotext" + path)

    def same_origin(self, url: URL) -> bool:
        return (url.scheme, url.host, url.port) == self._origin

    def _resolve(self, target: str, params: Mapping[str, Any] | None, authenticated: bool) -> URL:
        """The URL to call: the API path or absolute URL, with api-version and params.
        An API path without params is resolved once (every fast transcription posts to
        the same URL)."""
        if params or "://" in target:
            return self._build(target, params, authenticated)
        url = self._paths.get(target)
        if url is None:
            url = self._build(target, None, authenticated)
            if len(self._paths) < 64:  # a handful of paths are ever called without params
                self._paths[target] = url
        return url

    def _build(self, target: str, params: Mapping[str, Any] | None, authenticated: bool) -> URL:
        url = URL(target, encoded=True) if "://" in target else self.url(target)
        query: dict[str, Any] = dict(url.query)
        if authenticated and self.same_origin(url):
            query.setdefault("api-version", self.api_version)
        for name, value in (params or {}).items():
            if value is not None:
                query[name] = ("true" if value else "false") if isinstance(value, bool) else value
        return url.with_query(query) if query else url

    # -- requests --------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        target: str,
        *,
        operation: str,
        retry: RetryPolicy,
        gate: Admission,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        body: Body | None = None,
        headers: Mapping[str, str] | None = None,
        creates: bool = False,
        authenticated: bool = True,
        expect: str = "json",
    ) -> Response:
        """Send one API call, with retries, and return its response or raise our error.

        ``target`` is an API path (``/transcriptions``) or an absolute URL (``@nextLink``,
        ``Location``, a ``contentUrl``). Credentials go only to the configured endpoint's
        origin, and only when ``authenticated``. ``creates`` marks a POST that creates an
        entity (see :mod:`speechrest._retry`). ``expect`` is ``"json"`` or ``"bytes"``.
        """
        session = self._require_open()
        url = self._resolve(target, params, authenticated)
        if json_body is not None:
            payload = json.dumps(json_body, separators=(",", ":")).encode()
            body = Body(open=lambda: payload, content_type="application/json", length=len(payload))
        request_id = unique_id()
        replayable = body is None or body.replayable
        slept = 0.0
        attempt = throttles = 0
        while True:
            ticket = gate.admit()  # the quota family's turn, for the exchange only
            if ticket is None:
                ticket = await gate.acquire()
            throttled = False
            try:
                response = await self._attempt(
                    session, method, url, operation, body, headers, request_id, attempt, expect,
                    authenticated=authenticated,
                )  # fmt: skip
            except _Failed as failed:
                gate.done(ticket, None)
                error: errors.SpeechRestError = failed.error
                reached = failed.reached_service
            except _SourceFailed as failed:
                gate.done(ticket, None)
                raise failed.error from None
            except BaseException:
                gate.done(ticket, None)
                raise
            else:
                if response.status < 400:
                    gate.done(ticket, response.status)
                    return response
                error, reached = self._status_error(response, operation), True
                throttled = is_throttle(error)
                gate.done(
                    ticket, response.status, throttled=throttled, retry_after=error.retry_after
                )
            verdict = retry.decide(
                error,
                attempt=attempt,
                slept=slept,
                throttles=throttles,
                creates=creates,
                replayable=replayable,
                reached_service=reached,
                budget=gate.budget,
            )
            if not isinstance(verdict, float):
                raise verdict
            log.info("%s: %s; retry %d in %.2fs", operation, error, attempt + 1, verdict)
            await anyio.sleep(verdict)  # (a throttle's wait is also the family's pause)
            throttles += throttled
            slept += 0.0 if throttled else verdict
            attempt += 1

    async def _attempt(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: URL,
        operation: str,
        body: Body | None,
        extra_headers: Mapping[str, str] | None,
        request_id: str,
        attempt: int,
        expect: str,
        *,
        authenticated: bool,
    ) -> Response:
        """One attempt: send, follow same-request redirects, read and decode the body."""
        for _hop in range(_MAX_REDIRECTS + 1):
            headers = self._headers.copy()
            headers["x-ms-client-request-id"] = request_id
            if attempt:
                headers["x-ms-retry-count"] = str(attempt)
            if authenticated and self.same_origin(url):
                name, value = self.auth.header() or await self.auth.refresh()
                headers[name] = value
            data = None
            if body is not None and method not in ("GET", "HEAD"):
                data = body.open()
                headers["Content-Type"] = body.content_type
                if body.length is not None and not isinstance(data, bytes | bytearray):
                    # (aiohttp takes the length of a buffer from the buffer itself)
                    headers["Content-Length"] = str(body.length)
            if extra_headers:
                headers.update(extra_headers)
            started = time.perf_counter()
            with _MappedErrors(url, operation, self.config.read_timeout):
                status, resp_headers, raw = await self._exchange(
                    session, method, url, data, headers
                )
            if status in _REDIRECTS and "Location" in resp_headers:
                url = url.join(URL(resp_headers["Location"]))
                if status == 303:
                    method, body = "GET", None
                continue
            response_id = _request_id(resp_headers)
            if log.isEnabledFor(logging.DEBUG):  # redacting the URL is not free
                elapsed = time.perf_counter() - started
                log.debug("%s %s %s -> %d in %.3fs (request id %s)", operation, method,
                          redact_url(url), status, elapsed, response_id)  # fmt: skip
            return Response(
                status=status,
                headers=resp_headers,
                data=_decode(raw, status, expect, operation, response_id),
                request_id=response_id,
            )
        raise _Failed(
            errors.APIConnectionError("too many redirects", operation=operation),
            reached_service=True,
        )

    async def _exchange(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: URL,
        data: bytes | bytearray | AsyncIterator[bytes] | None,
        headers: dict[str, str],
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Send the request and read the response, under the upload stall watchdog.

        aiohttp's ``sock_read`` only starts once the body is sent: a server that stops
        reading mid-upload would hang us. The watchdog cancels the exchange when one piece
        of the body cannot be sent within ``read_timeout`` (a slow source is not counted).
        """
        watchdog: Any = _UNWATCHED
        if data is not None and not (isinstance(data, bytes | bytearray) and len(data) <= SLICE):
            watchdog = anyio.CancelScope()
            data = WatchedBody(data, watchdog, self.config.read_timeout)
        try:
            with watchdog:
                async with session.request(
                    method, url, data=data, headers=headers, allow_redirects=False
                ) as resp:
                    if watchdog is not _UNWATCHED:
                        watchdog.deadline = math.inf  # the body is sent (or refused)
                    return resp.status, resp.headers, await resp.read()
            raise _Stalled
        except Exception:
            if isinstance(data, WatchedBody) and data.error is not None:
                # The caller's source (or progress callback) failed, not the connection:
                # aiohttp reports it as a broken connection, which would be retried.
                raise _SourceFailed(data.error) from None
            raise
        finally:
            if isinstance(data, WatchedBody):
                await data.aclose()  # closes the source's file now, not at garbage collection

    def _status_error(self, response: Response, operation: str) -> errors.APIStatusError:
        code, inner_code, message = error_fields(response.data)
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


class _Stalled(Exception):
    """The upload made no progress for ``read_timeout`` seconds."""


class _SourceFailed(Exception):
    """The request body's source raised ``error``: raised as it is, never retried."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class _MappedErrors:
    """The one place where aiohttp's (and the socket's) exceptions become ours, as
    :class:`_Failed` with whether the request may have reached the service."""

    def __init__(self, url: URL, operation: str, read_timeout: float) -> None:
        self.url = url
        self.operation = operation
        self.read_timeout = read_timeout
        self.started = time.perf_counter()

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> None:
        if exc is None or not isinstance(
            exc, _Stalled | TimeoutError | aiohttp.ClientError | OSError
        ):
            return  # no failure, or not a transport failure: it goes on as it is
        error, reached = self._mapped(exc)
        raise _Failed(error, reached_service=reached) from None

    def _mapped(self, exc: BaseException) -> tuple[errors.APIConnectionError, bool]:
        url, operation = self.url, self.operation
        if isinstance(exc, _Stalled):
            message = (
                f"the upload made no progress for {self.read_timeout}s calling "
                f"{redact_url(url)}: the service stopped reading the request body"
            )
            return errors.APITimeoutError(message, operation=operation), True
        if isinstance(exc, TimeoutError):
            connecting = isinstance(exc, aiohttp.ConnectionTimeoutError)
            message = (
                f"timed out after {time.perf_counter() - self.started:.1f}s "
                f"({'connecting' if connecting else 'waiting for the response'}) calling "
                f"{redact_url(url)}; raise connect_timeout=/read_timeout= if the service "
                "needs longer"
            )
            return errors.APITimeoutError(message, operation=operation), not connecting
        where = f"{url.host}:{url.port}"
        if isinstance(exc, aiohttp.ClientConnectorError):
            message = f"cannot connect to {where}: {exc.os_error}"
            return errors.APIConnectionError(message, operation=operation), False
        message = (
            f"connection to {where} failed during the exchange: "
            f"{type(exc).__name__}: {redact_url(exc)}"
        )
        return errors.APIConnectionError(message, operation=operation), True


def _decode(raw: bytes, status: int, expect: str, operation: str, request_id: str | None) -> Any:
    """The body as Python values: JSON (always for an error status), or the bytes."""
    if not raw:
        return None
    if expect != "json" and status < 400:
        return raw
    try:
        return _parse_json(raw)
    except ValueError as exc:
        if status < 400:
            raise errors.ResponseValidationError(
                operation,
                [f"the body is not valid JSON ({exc}); {len(raw)} bytes received"],
                request_id=request_id,
            ) from None
        return raw.decode("utf-8", "replace")[:500]


def _parse_json(raw: bytes) -> Any:
    """A JSON body as Python values. The service sends UTF-8: decoding it first skips the
    encoding detection of ``json.loads``, which is kept for anything else (a BOM, UTF-16)."""
    try:
        return _decode_json(raw.decode())
    except ValueError:
        return json.loads(raw)


def _request_id(headers: Mapping[str, str]) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value is not None:
            return value
    return None


def _endpoint(endpoint: str, allow_insecure_http: bool) -> URL:
    """The endpoint as a URL, checked: absolute http(s); plain http only on loopback."""
    base = URL(endpoint.rstrip("/"))
    if base.scheme not in ("http", "https") or not base.host:
        raise errors.InvalidInputError(
            f"endpoint must be an absolute http(s) URL such as "
            f"https://eastus.api.cognitive.microsoft.com; got {redact_url(endpoint)!r}"
        )
    if "speechtotext" in base.path.lower():
        raise errors.InvalidInputError(
            f"the endpoint is the resource's base URL, such as "
            f"https://eastus.api.cognitive.microsoft.com, without /speechtotext (speechrest "
            f"adds each operation's path); got {redact_url(endpoint)!r}"
        )
    if base.scheme == "http" and not (allow_insecure_http or _is_loopback(base)):
        raise errors.InvalidInputError(
            "plain http:// is only accepted for loopback addresses (the emulator); "
            "use https://, or pass allow_insecure_http=True if you really mean it"
        )
    return base


def _is_loopback(url: URL) -> bool:
    host = (url.host or "").strip("[]")
    if host in _LOOPBACK:
        return True
    try:  # 127.0.0.2 is loopback; 127.0.0.1.example.com is not
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
