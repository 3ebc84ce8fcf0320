"""Fast transcription: ``Transcriptions_Transcribe``, one file per request, and fan-out."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Hashable,
    Iterable,
    Sequence,
    Sized,
)
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

import anyio
import attrs
from anyio.streams.memory import MemoryObjectSendStream

from .._convert import structure, unstructure
from .._upload import AudioInput, multipart_body, prepare_audio
from ..errors import InvalidInputError
from ..types import (
    EnhancedModeProperties,
    PhraseListProperties,
    ProfanityFilterMode,
    TranscribeDefinition,
    TranscribeDiarizationProperties,
    TranscribeResult,
)
from ._base import Resource

if TYPE_CHECKING:
    from .._client import SpeechClient

__all__ = ["FastTranscription", "OutcomeStream", "TranscribeOutcome"]

T = TypeVar("T")
S = TypeVar("S")


@attrs.frozen(kw_only=True)
class TranscribeOutcome(Generic[S]):
    """One input's outcome in :meth:`SpeechClient.transcribe_many`."""

    source: S
    """The input as given."""
    index: int
    """Position of the input in the sequence given."""
    result: TranscribeResult | None = None
    """The transcript, when it succeeded."""
    error: BaseException | None = None
    """Why it failed, when it failed."""

    @property
    def ok(self) -> bool:
        return self.error is None


def build_definition(
    *,
    audio_url: str | None = None,
    locales: Sequence[str] | str | None = None,
    diarization: bool | None = None,
    max_speakers: int | None = None,
    channels: Sequence[int] | None = None,
    profanity_filter_mode: ProfanityFilterMode | str | None = None,
    phrase_list: Sequence[str] | None = None,
    phrase_list_weight: float | None = None,
    enhanced_mode: bool | EnhancedModeProperties | None = None,
    models: dict[str, str] | None = None,
    definition: TranscribeDefinition | None = None,
) -> TranscribeDefinition:
    """Merge keyword options over ``definition`` and check them; raises InvalidInputError."""
    d = definition or TranscribeDefinition()
    if not isinstance(d, TranscribeDefinition):
        raise InvalidInputError("definition= must be a speechrest.types.TranscribeDefinition")
    changes: dict[str, Any] = {}
    if audio_url is not None:
        changes["audio_url"] = audio_url
    if locales is not None:
        locs = [locales] if isinstance(locales, str) else list(locales)
        if not locs or not all(isinstance(x, str) and x.strip() for x in locs):
            raise InvalidInputError(
                f"locales must be non-empty locale names such as 'en-US'; got {locales!r}"
            )
        changes["locales"] = locs
    if diarization is not None or max_speakers is not None:
        base = d.diarization or TranscribeDiarizationProperties()
        enabled = diarization if diarization is not None else True
        if max_speakers is not None and diarization is False:
            raise InvalidInputError("max_speakers= was given but diarization=False")
        changes["diarization"] = attrs.evolve(
            base,
            enabled=enabled,
            max_speakers=max_speakers if max_speakers is not None else base.max_speakers,
        )
    if channels is not None:
        changes["channels"] = list(channels)
    if profanity_filter_mode is not None:
        try:
            changes["profanity_filter_mode"] = ProfanityFilterMode.parse(
                profanity_filter_mode, "profanity_filter_mode"
            )
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from None
    if phrase_list is not None or phrase_list_weight is not None:
        base_pl = d.phrase_list or PhraseListProperties()
        if isinstance(phrase_list, str):
            raise InvalidInputError("phrase_list= must be a list of phrases, not one string")
        changes["phrase_list"] = attrs.evolve(
            base_pl,
            phrases=list(phrase_list) if phrase_list is not None else base_pl.phrases,
            biasing_weight=(
                phrase_list_weight if phrase_list_weight is not None else base_pl.biasing_weight
            ),
        )
    if enhanced_mode is not None:
        changes["enhanced_mode"] = (
            EnhancedModeProperties(enabled=enhanced_mode)
            if isinstance(enhanced_mode, bool)
            else enhanced_mode
        )
    if models is not None:
        changes["models"] = dict(models)
    d = attrs.evolve(d, **changes)
    _check_definition(d)
    return d


def _check_definition(d: TranscribeDefinition) -> None:
    if d.channels is not None:
        if len(d.channels) > 2:
            raise InvalidInputError(
                f"at most 2 channels can be transcribed separately; got {d.channels}"
            )
        if any(not isinstance(c, int) or isinstance(c, bool) or c < 0 for c in d.channels):
            raise InvalidInputError(f"channels are 0-based integers; got {d.channels}")
        if len(set(d.channels)) != len(d.channels):
            raise InvalidInputError(f"channels must not repeat; got {d.channels}")
    if d.diarization is not None and d.diarization.max_speakers is not None:
        n = d.diarization.max_speakers
        if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= 35:
            raise InvalidInputError(f"max_speakers must be between 2 and 35; got {n!r}")
    if d.profanity_filter_mode is not None:
        try:
            ProfanityFilterMode.parse(d.profanity_filter_mode, "profanity_filter_mode")
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from None
    phrases = d.phrase_list.phrases if d.phrase_list is not None else None
    if phrases is not None and not all(isinstance(p, str) and p for p in phrases):
        raise InvalidInputError("phrase_list entries must be non-empty strings")
    if d.audio_url is not None and not str(d.audio_url).startswith(("https://", "http://")):
        raise InvalidInputError(f"audio_url must be an http(s) URL; got {d.audio_url!r}")


class FastTranscription(Resource):
    """``client.transcribe`` and ``client.transcribe_many``."""

    def __init__(self, client: SpeechClient) -> None:
        super().__init__(client)
        self._definitions: dict[Hashable, bytes] = {}
        """Serialized definitions of recent calls, by their options (see _options_key)."""

    def definition_json(
        self, audio: AudioInput | None, audio_url: str | None, options: dict[str, Any]
    ) -> bytes:
        """Check the arguments of ``transcribe`` and return the serialized definition; the
        same options as a recent call (plain values only) reuse that call's bytes."""
        if (audio is None) == (audio_url is None) and not (
            audio is None and (options.get("definition") or TranscribeDefinition()).audio_url
        ):
            raise InvalidInputError(
                "give exactly one of audio (a path, bytes, a binary file or an async iterable "
                "of bytes) or audio_url="
            )
        key = _options_key(audio_url, options)
        cache = self._definitions
        cached = cache.get(key) if key is not None else None
        if cached is None:
            cached = _definition_json(build_definition(audio_url=audio_url, **options))
            if key is not None:
                if len(cache) >= _DEFINITION_CACHE_SIZE:
                    cache.pop(next(iter(cache)))  # the oldest entry
                cache[key] = cached
        return cached

    async def transcribe(
        self,
        audio: AudioInput | None,
        definition_json: bytes,
        on_progress: Callable[[int], None] | None,
    ) -> TranscribeResult:
        source = prepare_audio(audio) if audio is not None else None
        body = multipart_body(definition_json, source, on_progress=on_progress)
        try:
            client = self._client  # (the transport directly: this is the hot path)
            response = await client._transport.request(
                "POST",
                "/transcriptions:transcribe",
                operation="Transcriptions_Transcribe",
                body=body,
                max_retries=client._max_retries,
            )
        finally:
            if source is not None and source.rewind is not None:
                source.rewind()  # a caller's file is left where the caller had it
        return structure(
            response.data, TranscribeResult, "Transcriptions_Transcribe", response.request_id
        )

    def transcribe_many(
        self,
        sources: Iterable[S] | AsyncIterable[S],
        *,
        concurrency: int = 8,
        **options: Any,
    ) -> OutcomeStream[TranscribeOutcome[S]]:
        """Transcribe many sources at once; yield one outcome per source as each completes."""
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise InvalidInputError(f"concurrency must be a positive integer; got {concurrency!r}")
        # Checked now, not once per source; built and serialized once for all of them.
        on_progress = options.pop("on_progress", None)
        definition_json = _definition_json(build_definition(**options))
        per_source = "audio_url" in options  # definition_json() explains why that is refused
        audio_url = options.pop("audio_url", None)

        async def one(index: int, source: S) -> TranscribeOutcome[S]:
            try:
                if per_source or source is None:
                    checked = self.definition_json(source, audio_url, options)  # type: ignore[arg-type]
                    result = await self.transcribe(source, checked, on_progress)  # type: ignore[arg-type]
                else:
                    result = await self.transcribe(source, definition_json, on_progress)  # type: ignore[arg-type]
            except Exception as exc:  # one failure never stops the others
                return TranscribeOutcome(source=source, index=index, error=exc)
            return TranscribeOutcome(source=source, index=index, result=result)

        return OutcomeStream(_fan_out(sources, one, concurrency), buffer=concurrency)


def _definition_json(definition: TranscribeDefinition) -> bytes:
    return json.dumps(unstructure(definition), separators=(",", ":")).encode()


_DEFINITION_CACHE_SIZE = 64
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _options_key(audio_url: str | None, options: dict[str, Any]) -> Hashable | None:
    """A cache key for keyword options made of plain values (scalars, or lists and tuples
    of scalars), or None when some option is anything else (models, a definition...).

    Each value's type is part of the key: ``True == 1`` and ``2 == 2.0`` must not share a
    definition that was checked for only one of them.
    """
    key: list[Hashable] = [(type(audio_url), audio_url)]
    for name, value in options.items():
        kind = type(value)
        if kind in _PLAIN:
            key.append((name, kind, value))
        elif kind is list or kind is tuple:
            types = tuple(map(type, value))
            if not _PLAIN.issuperset(types):
                return None
            key.append((name, kind, types, tuple(value)))
        else:
            return None
    return tuple(key)


def _fan_out(
    items: Iterable[S] | AsyncIterable[S],
    work: Callable[[int, S], Awaitable[T]],
    concurrency: int,
) -> Callable[[MemoryObjectSendStream[T]], Coroutine[Any, Any, None]]:
    """A producer running ``work`` on each item with at most ``concurrency`` in flight.

    ``concurrency`` workers each take the next item when they are free: no task, limiter
    token or lock per item (an async iterable is read under a lock, one item at a time).
    """

    async def run(send: MemoryObjectSendStream[T]) -> None:
        counter = itertools.count()
        next_item: Callable[[], Awaitable[tuple[int, S] | None]]
        if isinstance(items, AsyncIterable):
            iterator = aiter(items)
            lock = anyio.Lock()

            async def next_item() -> tuple[int, S] | None:
                async with lock:
                    try:
                        return next(counter), await anext(iterator)
                    except StopAsyncIteration:
                        return None

        else:
            sync_iterator = iter(items)

            async def next_item() -> tuple[int, S] | None:
                for item in sync_iterator:
                    return next(counter), item
                return None

        async def worker() -> None:
            while (pulled := await next_item()) is not None:
                outcome = await work(*pulled)
                try:
                    send.send_nowait(outcome)  # no extra loop turn while the buffer has room
                except anyio.WouldBlock:
                    await send.send(outcome)

        workers = min(concurrency, len(items)) if isinstance(items, Sized) else concurrency
        async with send, anyio.create_task_group() as tg:
            for _ in range(workers):
                tg.start_soon(worker)

    return run


class OutcomeStream(AsyncIterator[T]):
    """Results of a fan-out, in completion order.

    The work runs in a task owned by this stream. Leaving the ``async for`` loop early
    cancels the work still in flight: when the consumer is cancelled while it waits for the
    next outcome, at once; after ``break`` or an exception in the loop body,
    deterministically when the stream is used as ``async with`` or closed with ``aclose()``,
    otherwise as soon as the stream is garbage-collected.
    """

    def __init__(
        self,
        produce: Callable[[MemoryObjectSendStream[T]], Coroutine[Any, Any, None]],
        *,
        buffer: int,
    ) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[T](buffer)
        self._produce = produce
        self._task: asyncio.Task[None] | None = None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._produce(self._send))
        try:
            try:
                return self._receive.receive_nowait()  # no extra loop turn when one is ready
            except anyio.WouldBlock:
                return await self._receive.receive()
        except anyio.EndOfStream:
            await self._task  # re-raises a failure of the producer itself
            raise StopAsyncIteration from None
        except anyio.ClosedResourceError:
            raise StopAsyncIteration from None
        except asyncio.CancelledError:
            # The consumer is being cancelled while it waits: it will not take more
            # outcomes, so the work in flight is cancelled too, now rather than at GC.
            if not self._task.done():
                self._task.cancel()
            raise

    async def aclose(self) -> None:
        """Cancel the work still in flight and wait until it has stopped."""
        task = self._task
        if task is None:
            self._send.close()
        else:
            if not task.done():
                task.cancel()
            with anyio.CancelScope(shield=True), contextlib.suppress(asyncio.CancelledError):
                await task
        self._receive.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()
