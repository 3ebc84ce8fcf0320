"""Fast transcription: ``Transcriptions_Transcribe``, one file per request, and fan-out."""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import AsyncIterable, Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

import attrs
from anyio.streams.memory import MemoryObjectSendStream

from .. import _checks as check
from .._convert import structure, unstructure
from .._limits import OutcomeStream, bounded_map, send
from .._upload import AudioInput, multipart_body, prepare_audio
from ..errors import InvalidInputError
from ..types import (
    EnhancedModeProperties,
    PhraseListProperties,
    ProfanityFilterMode,
    TranscribeDefinition,
    TranscribeDiarizationProperties,
    TranscribeOptions,
    TranscribeResult,
)
from ._base import Api, Resource

opt = check.optional

__all__ = ["FastTranscription", "TranscribeOutcome", "build_definition"]

S = TypeVar("S")
OPERATION = "Transcriptions_Transcribe"
MAX_PHRASE_LIST_WEIGHT = 20.0
"""The widest documented range of ``biasingWeight`` is 0 to 20 (the SDK's; Learn says 0 to
2, and the service's own limit is not documented)."""
_EMPTY = TranscribeDefinition()
_OPTIONS = frozenset(TranscribeOptions.__annotations__)


@attrs.frozen(kw_only=True)
class TranscribeOutcome(Generic[S]):
    """One input's outcome in :meth:`SpeechClient.transcribe_many`.

    ``if item.ok: item.result.text`` (``result`` raises the input's error when it failed).
    """

    source: S
    """The input as given."""
    index: int
    """Position of the input in the sequence given."""
    error: BaseException | None = None
    """Why it failed, when it failed; None when it succeeded."""
    _result: TranscribeResult | None = attrs.field(default=None, alias="result", repr=False)

    @property
    def ok(self) -> bool:
        """Whether the input was transcribed."""
        return self.error is None

    @property
    def result(self) -> TranscribeResult:
        """The transcript; raises the input's :attr:`error` when it failed."""
        if self.error is not None:
            raise self.error
        assert self._result is not None
        return self._result


def build_definition(audio_url: str | None, options: TranscribeOptions) -> TranscribeDefinition:
    """The request definition of ``options`` (merged over ``options["definition"]``),
    checked; raises :class:`InvalidInputError` before anything is sent."""
    _check_names(options)
    base = options.get("definition") or _EMPTY
    if not isinstance(base, TranscribeDefinition):
        raise InvalidInputError("definition= must be a speechrest.types.TranscribeDefinition")
    changes: dict[str, Any] = attrs.asdict(base, recurse=False) if base is not _EMPTY else {}
    if audio_url is not None:
        changes["audio_url"] = audio_url
    if "locales" in options:
        changes["locales"] = options["locales"]
    if "channels" in options:
        changes["channels"] = options["channels"]
    if "profanity_filter_mode" in options:
        changes["profanity_filter_mode"] = options["profanity_filter_mode"]
    if "models" in options:
        changes["models"] = options["models"]
    if "diarization" in options or "max_speakers" in options:
        changes["diarization"] = _diarization(base.diarization, options)
    if "phrase_list" in options or "phrase_list_weight" in options:
        changes["phrase_list"] = _phrase_list(base.phrase_list, options)
    if "enhanced_mode" in options:
        mode = options["enhanced_mode"]
        changes["enhanced_mode"] = (
            EnhancedModeProperties(enabled=mode) if isinstance(mode, bool) else mode
        )
    return _checked(**changes)


def _checked(**fields: Any) -> TranscribeDefinition:
    """A definition of these fields, each checked and normalised (lists, enum values)."""
    return TranscribeDefinition(
        **{name: _CHECKS[name](value) for name, value in fields.items() if value is not None}
    )


def _check_names(options: TranscribeOptions) -> None:
    unknown = set(options) - _OPTIONS
    if unknown:
        name = sorted(unknown)[0]
        close = difflib.get_close_matches(name, _OPTIONS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InvalidInputError(
            f"unknown option {name!r}{hint}; the options are {', '.join(sorted(_OPTIONS))}"
        )


def _diarization(
    base: TranscribeDiarizationProperties | None, options: TranscribeOptions
) -> TranscribeDiarizationProperties:
    base = base or TranscribeDiarizationProperties()
    enabled = options.get("diarization", True)
    max_speakers = options.get("max_speakers", base.max_speakers)
    if "max_speakers" in options and enabled is False:
        raise InvalidInputError("max_speakers= was given but diarization=False")
    return attrs.evolve(base, enabled=enabled, max_speakers=max_speakers)


def _checked_diarization(d: TranscribeDiarizationProperties) -> TranscribeDiarizationProperties:
    return attrs.evolve(
        d,
        enabled=opt(check.flag, d.enabled, "diarization"),
        max_speakers=opt(check.max_speakers, d.max_speakers),
    )


def _phrase_list(
    base: PhraseListProperties | None, options: TranscribeOptions
) -> PhraseListProperties:
    base = base or PhraseListProperties()
    return attrs.evolve(
        base,
        phrases=options.get("phrase_list", base.phrases),  # type: ignore[arg-type]
        biasing_weight=options.get("phrase_list_weight", base.biasing_weight),
    )


def _checked_phrase_list(p: PhraseListProperties) -> PhraseListProperties:
    return attrs.evolve(
        p,
        phrases=opt(check.strings, p.phrases, "phrase_list", "['Contoso']"),
        biasing_weight=opt(
            check.number, p.biasing_weight, "phrase_list_weight", 0.0, MAX_PHRASE_LIST_WEIGHT
        ),
    )


def _checked_enhanced_mode(e: object) -> EnhancedModeProperties:
    if not isinstance(e, EnhancedModeProperties):
        raise InvalidInputError(
            "enhanced_mode must be True, False or a speechrest.types.EnhancedModeProperties"
        )
    return attrs.evolve(e, enabled=opt(check.flag, e.enabled, "enhanced_mode.enabled"))


def _models(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise InvalidInputError("models must be a dict of locale -> custom model URL")
    return {check.locale(k): check.http_url(v, f"models[{k!r}]") for k, v in value.items()}


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "audio_url": lambda v: check.http_url(v, "audio_url"),
    "locales": check.locales,
    "channels": lambda v: check.channels(v, 2),
    "profanity_filter_mode": lambda v: check.enum(v, ProfanityFilterMode, "profanity_filter_mode"),
    "models": _models,
    "diarization": _checked_diarization,
    "phrase_list": _checked_phrase_list,
    "enhanced_mode": _checked_enhanced_mode,
}
"""The check of each field of a definition."""


def _definition_json(definition: TranscribeDefinition) -> bytes:
    return json.dumps(unstructure(definition), separators=(",", ":")).encode()


_PLAIN = frozenset({str, int, float, bool, type(None)})
_CACHE_SIZE = 64


def _plain_key(audio_url: str | None, options: TranscribeOptions) -> Hashable | None:
    """A cache key for options made only of plain values (scalars, or lists of them), or
    None. Each value's type is part of the key: ``True == 1`` and ``2 == 2.0`` must not
    share a definition that was checked for only one of them."""
    key: list[Hashable] = [audio_url]
    value: Any
    for name, value in options.items():
        kind = type(value)
        if kind in _PLAIN:
            key.append((name, kind, value))
        elif kind is list:
            types = tuple(map(type, value))
            if not _PLAIN.issuperset(types):
                return None
            key.append((name, types, tuple(value)))
        else:
            return None
    return tuple(key)


class FastTranscription(Resource):
    """``client.transcribe`` and ``client.transcribe_many``."""

    def __init__(self, api: Api) -> None:
        super().__init__(api)
        self._definitions: dict[Hashable, tuple[bool, bytes]] = {}
        """Recent checked and serialized definitions, by their plain options. (Building one
        costs about 7% of the client's CPU per small transcription: the benchmark guard of
        client overhead needs this cache.)"""

    def definition_json(
        self, audio: AudioInput | None, audio_url: str | None, options: TranscribeOptions
    ) -> bytes:
        """Check the arguments of ``transcribe``; return the serialized definition."""
        key = _plain_key(audio_url, options)
        cached = self._definitions.get(key) if key is not None else None
        if cached is None:
            definition = build_definition(audio_url, options)
            cached = (definition.audio_url is not None, _definition_json(definition))
            if key is not None:
                if len(self._definitions) >= _CACHE_SIZE:
                    self._definitions.pop(next(iter(self._definitions)))  # the oldest
                self._definitions[key] = cached
        has_url, definition_json = cached
        if (audio is None) != has_url:
            raise InvalidInputError(
                "give exactly one of audio (a path, bytes, a binary file, an async file or an "
                "async iterable of bytes) or audio_url="
            )
        return definition_json

    async def transcribe(
        self,
        audio: AudioInput | None,
        definition_json: bytes,
        on_progress: Callable[[int], object] | None,
    ) -> TranscribeResult:
        source = prepare_audio(audio) if audio is not None else None
        body = multipart_body(definition_json, source, on_progress=on_progress)
        try:
            response = await self._api.request(
                "POST", "/transcriptions:transcribe", operation=OPERATION, body=body
            )
        finally:
            if source is not None and source.rewind is not None:
                source.rewind()  # a caller's file is left where the caller had it
        return structure(response.data, TranscribeResult, OPERATION, response.request_id)

    def transcribe_many(
        self,
        sources: Iterable[S] | AsyncIterable[S],
        *,
        concurrency: int,
        on_progress: Callable[[int], object] | None,
        options: TranscribeOptions,
    ) -> OutcomeStream[TranscribeOutcome[S]]:
        """Transcribe many sources at once; yield one outcome per source as each completes."""
        check.concurrency(concurrency)
        if not isinstance(sources, AsyncIterable):
            check.iterable(sources, "sources", "['a.wav', 'b.wav']")
        definition_json = _definition_json(build_definition(None, options))  # checked once

        async def one(index: int, source: S) -> TranscribeOutcome[S]:
            try:
                result = await self.transcribe(source, definition_json, on_progress)  # type: ignore[arg-type]
            except Exception as exc:  # one failure never stops the others
                return TranscribeOutcome(source=source, index=index, error=exc)
            return TranscribeOutcome(source=source, index=index, result=result)

        async def produce(stream: MemoryObjectSendStream[TranscribeOutcome[S]]) -> None:
            await bounded_map(sources, one, concurrency, functools.partial(send, stream))

        return OutcomeStream(produce, buffer=concurrency, usage="client.transcribe_many(...)")
