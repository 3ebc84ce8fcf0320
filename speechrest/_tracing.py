"""OpenTelemetry tracing (the ``otel`` extra: ``opentelemetry-api``; the application brings
the SDK and configures a tracer provider).

Whether a client traces is decided once, when it is made (:func:`tracer`): with
OpenTelemetry not installed, or no tracer provider configured, the client gets no tracer
and runs exactly the code it runs without this module (the transport sends each attempt
without a hook, the operation groups are the plain classes).

With a tracer, a client emits:

* an ``INTERNAL`` span per public operation, named ``speechrest {group}.{method}``
  (``speechrest transcribe``, ``speechrest transcriptions.wait``): low-cardinality names,
  ids only in attributes and events. A paged list or a stream of outcomes is one span
  from its first item to its end;
* a ``CLIENT`` span per HTTP attempt, named after the method (``POST``), with the stable
  HTTP semantic conventions (``http.request.method``, ``server.address``, ``server.port``,
  ``url.full`` with every SAS signature and credential redacted, ``http.response.status_code``,
  ``error.type``, ``http.request.resend_count`` on a retry) and the service's request id
  (``azure.service.request.id``);
* events for the life of batch jobs and other long-running entities: ``submitted``,
  ``status_changed`` (each status seen while waiting), ``results_read``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ._redact import redact_url
from ._version import __version__

try:
    from opentelemetry import context as _context
    from opentelemetry import trace as _trace
except ImportError:  # the `otel` extra is not installed: no tracing, no cost
    _trace = None  # type: ignore[assignment]
    _context = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer

__all__ = [
    "Within",
    "attempt",
    "capture",
    "event",
    "in_context",
    "status_event",
    "traced",
    "tracer",
]

C = TypeVar("C", bound=type)
R = TypeVar("R")

SCHEMA_URL = "https://opentelemetry.io/schemas/1.44.0"
"""The semantic conventions version whose names the spans use."""
_NAMESPACE = {"azure.resource_provider.namespace": "Microsoft.CognitiveServices"}
"""The attributes of every operation span."""
_STREAMS = ("AsyncPager", "OutcomeStream")
"""The return types (as annotated) of the methods that return something iterated later:
their span covers the iteration."""


def tracer() -> Tracer | None:
    """The tracer of a client made now; None when OpenTelemetry is not installed or no
    tracer provider is configured (the API's default, which records nothing)."""
    if _trace is None:
        return None
    provider = _trace.get_tracer_provider()
    if isinstance(provider, _trace.ProxyTracerProvider | _trace.NoOpTracerProvider):
        return None
    return provider.get_tracer("speechrest", __version__, schema_url=SCHEMA_URL)


# -- HTTP attempts -----------------------------------------------------------------------------


async def attempt(
    tracer: Tracer,
    send: Callable[[Any, Any, int], Awaitable[Any]],
    session: Any,
    exchange: Any,
    number: int,
) -> Any:
    """``send(session, exchange, number)`` (one HTTP attempt of ``speechrest._http``) in a
    ``CLIENT`` span. ``exchange`` has ``method``, ``url`` (a ``yarl.URL``) and the call's
    ``request_id``; the result has ``status`` and ``request_id``; a failure without an
    answer carries ours as ``.error``."""
    url = exchange.url
    attributes: dict[str, Any] = {
        "http.request.method": exchange.method,
        "server.address": url.host or "",
        "server.port": url.port or 0,
        "url.full": redact_url(url),
    }
    if number:
        attributes["http.request.resend_count"] = number
    with tracer.start_as_current_span(
        exchange.method,
        kind=_trace.SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            response = await send(session, exchange, number)
        except BaseException as exc:
            _failed(span, getattr(exc, "error", exc))
            raise
        span.set_attribute("http.response.status_code", response.status)
        if response.request_id is not None:
            span.set_attribute("azure.service.request.id", response.request_id)
        if response.status >= 400:
            span.set_attribute("error.type", str(response.status))
            span.set_status(_trace.StatusCode.ERROR)
        return response


def _failed(span: Span, error: BaseException) -> None:
    """Mark ``span`` as ended by ``error``: ``error.type`` is its class's qualified name."""
    kind = type(error)
    span.set_attribute("error.type", f"{kind.__module__}.{kind.__qualname__}")
    span.set_status(_trace.StatusCode.ERROR, kind.__qualname__)


# -- operations --------------------------------------------------------------------------------


def traced(cls: C, group: str) -> C:
    """A subclass of the operation-group class ``cls`` whose public methods each run in an
    ``INTERNAL`` span named ``speechrest {group}.{method}`` (``speechrest {method}`` for the
    unnamed group). The instances must have ``_api.transport.tracer`` set."""
    made = _TRACED.get((cls, group))
    if made is None:
        made = _TRACED[cls, group] = _subclass(cls, group)
    return made  # type: ignore[return-value]


_TRACED: dict[tuple[type, str], type] = {}
"""The traced subclass of each group's class (made once)."""


def _subclass(cls: type, group: str) -> type:
    methods: dict[str, Any] = {}
    for name, function in inspect.getmembers(cls, inspect.isfunction):
        if name.startswith("_"):
            continue
        span_name = f"speechrest {group}.{name}" if group else f"speechrest {name}"
        if inspect.iscoroutinefunction(function):
            methods[name] = _coroutine(function, span_name)
        elif inspect.isasyncgenfunction(function):
            methods[name] = _generator(function, span_name)
        elif str(inspect.signature(function).return_annotation).startswith(_STREAMS):
            methods[name] = _stream(function, span_name)
    return type(cls.__name__, (cls,), {"__module__": cls.__module__, **methods})


def _coroutine(function: Callable[..., Awaitable[R]], name: str) -> Callable[..., Awaitable[R]]:
    @functools.wraps(function)
    async def run(self: Any, *args: Any, **kwargs: Any) -> R:
        with self._api.transport.tracer.start_as_current_span(
            name, kind=_trace.SpanKind.INTERNAL, attributes=_NAMESPACE
        ) as span:
            try:
                return await function(self, *args, **kwargs)
            except BaseException as exc:
                _failed(span, exc)
                raise

    return run


def _generator(function: Callable[..., AsyncIterator[R]], name: str) -> Callable[..., Any]:
    @functools.wraps(function)
    def run(self: Any, *args: Any, **kwargs: Any) -> _Iteration[R]:
        return _Iteration(self._api.transport.tracer, name, function(self, *args, **kwargs))

    return run


def _stream(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    @functools.wraps(function)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        made = function(self, *args, **kwargs)
        tracer = self._api.transport.tracer
        if hasattr(made, "by_page"):
            return _Pager(tracer, name, made)
        return _Outcomes(tracer, name, made)

    return run


class _Span:
    """An operation span that is current only while the operation runs a step (an item of
    an iteration, the entry or exit of a block): the caller's code between the steps runs in
    its own context, and each step may run in another task."""

    def __init__(self, tracer: Tracer, name: str) -> None:
        self._tracer = tracer
        self._name = name
        self._span: Span | None = None
        self._ended = False

    def step(self) -> Any:
        if self._span is None:
            self._span = self._tracer.start_span(
                self._name, kind=_trace.SpanKind.INTERNAL, attributes=_NAMESPACE
            )
        return _trace.use_span(
            self._span, end_on_exit=False, record_exception=False, set_status_on_exception=False
        )

    def end(self, error: BaseException | None = None) -> None:
        if self._span is not None and not self._ended:
            self._ended = True
            if error is not None:
                self._span.record_exception(error)
                _failed(self._span, error)
            self._span.end()


class _Iteration(AsyncIterator[R]):
    """An async iterator whose steps run in one operation span, ended with the iteration."""

    def __init__(self, tracer: Tracer, name: str, items: AsyncIterator[R]) -> None:
        self._span = _Span(tracer, name)
        self._items = items

    def __aiter__(self) -> _Iteration[R]:
        return self

    async def __anext__(self) -> R:
        with self._span.step():
            try:
                return await self._items.__anext__()
            except StopAsyncIteration:
                self._span.end()
                raise
            except BaseException as exc:
                self._span.end(exc)
                raise

    def __del__(self) -> None:
        self._span.end()  # left early without aclose() (a `break` out of an `async for`)

    async def aclose(self) -> None:
        """Stop early: close the underlying generator and end the span."""
        try:
            close = getattr(self._items, "aclose", None)
            if close is not None:
                with self._span.step():
                    await close()
        finally:
            self._span.end()


class _Pager:
    """An ``AsyncPager`` whose every walk (``async for``, ``by_page()``, ``to_list()``) is
    one operation span."""

    def __init__(self, tracer: Tracer, name: str, pager: Any) -> None:
        self._tracer = tracer
        self._name = name
        self._pager = pager

    def by_page(self) -> _Iteration[Any]:
        return _Iteration(self._tracer, self._name, self._pager.by_page())

    def __aiter__(self) -> _Iteration[Any]:
        return _Iteration(self._tracer, self._name, aiter(self._pager))

    async def to_list(self) -> list[Any]:
        return [item async for item in self]


class _Outcomes:
    """An ``OutcomeStream`` whose block is one operation span: the work it starts inherits
    the span. The end of each job waited on is a ``status_changed`` event."""

    def __init__(self, tracer: Tracer, name: str, stream: Any) -> None:
        self._span = _Span(tracer, name)
        self._stream = stream

    async def __aenter__(self) -> _Outcomes:
        with self._span.step():
            try:
                await self._stream.__aenter__()
            except BaseException as exc:
                self._span.end(exc)
                raise
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        try:
            with self._span.step():
                return await self._stream.__aexit__(*exc_info)  # type: ignore[no-any-return]
        except BaseException as exc:
            self._span.end(exc)
            raise
        finally:
            self._span.end(exc_info[1])

    def __aiter__(self) -> _Outcomes:
        aiter(self._stream)  # raises when used outside its block
        return self

    async def __anext__(self) -> Any:
        with self._span.step():
            item = await self._stream.__anext__()
            outcome_id = getattr(item, "id", None)
            if isinstance(outcome_id, str):
                entity = getattr(item, "entity", None)
                _status_event(outcome_id, getattr(entity, "status", None), item.error)
            return item


# -- events ------------------------------------------------------------------------------------


def event(name: str, attributes: Mapping[str, Any]) -> None:
    """Add an event to the current span (the operation's, in a traced client)."""
    _trace.get_current_span().add_event(name, attributes)


def status_event(entity: Any, name: str = "status_changed") -> None:
    """An event about ``entity`` (with ``.status`` and an id): by default, that it was seen
    with a status other than the last seen."""
    _status_event(getattr(entity, "id", None), getattr(entity, "status", None), None, name)


def _status_event(
    entity_id: str | None, status: Any, error: BaseException | None, name: str = "status_changed"
) -> None:
    attributes: dict[str, Any] = {}
    if entity_id:
        attributes["speechrest.entity.id"] = entity_id
    if status is not None:
        attributes["speechrest.status"] = str(status)
    if error is not None:
        kind = type(error)
        attributes["error.type"] = f"{kind.__module__}.{kind.__qualname__}"
    event(name, attributes)


# -- blocking callers --------------------------------------------------------------------------


def capture() -> Context | None:
    """The calling thread's tracing context, to carry into the event loop thread of the
    blocking client (its spans are then children of the caller's)."""
    return _context.get_current() if _context is not None else None


class Within:
    """An async context manager (``block``) entered and left with ``parent`` as the current
    tracing context: both happen in one task (the blocking client's for a block)."""

    def __init__(self, parent: Context | None, block: Any) -> None:
        self._parent = parent
        self._block = block

    async def __aenter__(self) -> Any:
        return await in_context(self._parent, self._block.__aenter__())

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        return await in_context(self._parent, self._block.__aexit__(*exc_info))


async def in_context(parent: Context | None, work: Awaitable[R]) -> R:
    """Await ``work`` with ``parent`` as the current tracing context."""
    if parent is None:
        return await work
    token = _context.attach(parent)
    try:
        return await work
    finally:
        _context.detach(token)
