"""Emulated ``POST /speechtotext/transcriptions:transcribe`` (fast transcription)."""

from __future__ import annotations

import collections
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import attrs
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ._audio import AudioFormatError, AudioInfo, open_audio
from ._entities import ApiError, handler
from ._fast_check import FastOptions, check_definition
from ._recognizer import RecognizedPhrase, filter_profanity, speaker_of, words_of
from ._spool import CHUNK, fetch_to_file, open_spool
from ._state import EmulatorState, error_response, get_state, json_response, note_definition

__all__ = ["register", "result_body"]

_BAD_BODY = "InvalidRequestBodyFormat"


def register(app: web.Application, state: EmulatorState) -> None:
    app.router.add_post("/speechtotext/transcriptions:transcribe", transcribe)


@handler
async def transcribe(request: web.Request) -> web.StreamResponse:
    state = get_state(request)
    if not request.content_type.startswith("multipart/form-data"):
        return error_response(
            415, "UnsupportedMediaType", "The request must be multipart/form-data."
        )
    spool: Path | None = None
    try:
        definition, options, name, spool = await _read_form(request, state)
        if spool is None:
            url = definition.get("audioUrl")
            if not url:
                raise ApiError(
                    400,
                    "InvalidRequest",
                    "Provide an audio file or definition.audioUrl.",
                    "InvalidAudioFormat",
                )
            spool = await fetch_to_file(url, state, limit=state.limits.fast_bytes)
            name = url.split("?", 1)[0]
        async with _audio(spool, name, state) as audio:
            return json_response(await result_body(state, audio, options))
    finally:
        if spool is not None:
            with contextlib.suppress(OSError):
                spool.unlink()


async def _read_form(
    request: web.Request, state: EmulatorState
) -> tuple[dict[str, Any], FastOptions, str, Path | None]:
    """The definition (and its checked options), the audio's file name and its spool file
    (None without audio) of a ``multipart/form-data`` request; a body that is not one is a
    400, as the service says."""
    definition: dict[str, Any] = {}
    options = check_definition(state, definition)
    name = "audio"
    spool: Path | None = None
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, aiohttp.BodyPartReader):
                raise ApiError(
                    400, "InvalidRequest", "A part cannot be multipart itself.", _BAD_BODY
                )
            if part.name == "definition":
                raw = await part.read(decode=False)
                definition = _parse_definition(bytes(raw))
                state.transcribe_definitions.append(definition)
                note_definition(definition)
                options = check_definition(state, definition)
            elif part.name == "audio":
                name = part.filename or "audio"
                if spool is not None:
                    spool.unlink(missing_ok=True)  # the last audio part wins
                spool = await _spool_part(part, state)
            else:
                await part.release()
    except (ValueError, HttpProcessingError) as exc:
        # aiohttp's reader: a missing or empty boundary, no closing boundary, a broken part
        # header, a field name that is not UTF-8, ...
        if spool is not None:
            spool.unlink(missing_ok=True)
        raise ApiError(
            400,
            "InvalidRequest",
            f"The multipart/form-data body cannot be read: {exc}.",
            _BAD_BODY,
        ) from None
    except BaseException:
        if spool is not None:
            spool.unlink(missing_ok=True)
        raise
    return definition, options, name, spool


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parse_definition(raw: bytes) -> dict[str, Any]:
    try:
        d = json.loads(raw or b"{}", parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ApiError(
            400, "InvalidRequest", "The definition is not valid JSON.", "InvalidTranscription"
        ) from None
    if not isinstance(d, dict):
        raise ApiError(
            400, "InvalidRequest", "The definition must be a JSON object.", "InvalidTranscription"
        )
    url = d.get("audioUrl")
    if url is not None and not isinstance(url, str):
        raise ApiError(
            400, "InvalidArgument", "audioUrl must be a string.", "InvalidParameterValue"
        )
    return d


async def _spool_part(part: aiohttp.BodyPartReader, state: EmulatorState) -> Path:
    f, path = open_spool(state, ".audio")
    size = 0
    try:
        with f:
            while chunk := await part.read_chunk(CHUNK):
                size += len(chunk)
                if size > state.limits.fast_bytes:
                    raise ApiError(
                        413,
                        "InvalidRequest",
                        f"The audio file is larger than {state.limits.fast_bytes:,} bytes.",
                        "AudioLengthLimitExceeded",
                    )
                f.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


@contextlib.asynccontextmanager
async def _audio(path: Path, name: str, state: EmulatorState) -> AsyncIterator[AudioInfo]:
    """The audio, measured and decoded, or the service's error for it."""
    try:
        async with open_audio(
            path, name, spool_dir=state.spool_dir, max_duration_ms=state.limits.fast_duration_ms
        ) as audio:
            yield audio
    except AudioFormatError as exc:
        status = 400 if exc.code in ("EmptyAudioFile", "AudioLengthLimitExceeded") else 422
        code = "InvalidArgument" if status == 400 else "UnprocessableEntity"
        raise ApiError(status, code, exc.message, exc.code) from None


async def result_body(
    state: EmulatorState, audio: AudioInfo, options: FastOptions
) -> dict[str, Any]:
    """The ``TranscribeResult`` for ``audio`` under the definition's ``options``."""
    channels = _channels(audio, options)
    heard = await _heard(state, audio, options)
    wanted = channels if channels is not None else [0]
    heard = [p for p in heard if p.channel in wanted]
    # Where each phrase says its channel. The Swagger: "Only present if channel separation
    # is enabled"; Learn's diarization example (fast transcription page) has "channel": 0 on
    # every phrase and on combinedPhrases when only diarization was asked for: Learn's is a
    # real response, so it is followed. Without either, there is no channel at all.
    with_channel = channels is not None or options.speakers is not None
    phrases = [_phrase(p, i, options, with_channel) for i, p in enumerate(heard)]
    combined: dict[int, list[str]] = {c: [] for c in wanted}
    for p, phrase in zip(heard, phrases, strict=True):
        combined[p.channel].append(phrase["text"])
    return {
        "durationMilliseconds": audio.duration_ms,
        "combinedPhrases": [
            ({"channel": c} if with_channel else {}) | {"text": " ".join(texts)}
            for c, texts in combined.items()
        ],
        "phrases": phrases,
    }


def _channels(audio: AudioInfo, options: FastOptions) -> list[int] | None:
    """The channels transcribed separately, or None when they are merged."""
    if options.channels is None or audio.channels == 1:
        # Learn (fast transcription): "For mono audio, the channels property is ignored,
        # and the audio is always transcribed as a single channel."
        return None
    missing = [c for c in options.channels if c >= audio.channels]
    if missing:
        raise ApiError(
            400,
            "InvalidArgument",
            f"The audio has {audio.channels} channels; there is no channel {missing[0]}.",
            "InvalidChannelSpecification",
        )
    return options.channels


async def _heard(
    state: EmulatorState, audio: AudioInfo, options: FastOptions
) -> list[RecognizedPhrase]:
    """What the recognizer hears, each phrase labelled with its locale: the one locale given;
    else the file's one main locale ("designed to identify one main language locale per
    audio file", Learn) among several candidates; else (no locales: the multilingual model,
    which switches languages) each phrase's own. A translation is asked of the recognizer
    in the target locale: the emulator does not translate by itself."""
    if options.translate_to is not None:
        return await state.recognize(audio, [options.translate_to])
    heard = await state.recognize(audio, options.locales)
    if not heard or not options.locales:
        return heard
    if len(options.locales) == 1:
        main = options.locales[0]
    else:
        main = collections.Counter(p.locale for p in heard).most_common(1)[0][0]
    return [attrs.evolve(p, locale=main) for p in heard]


def _phrase(
    p: RecognizedPhrase, index: int, options: FastOptions, with_channel: bool
) -> dict[str, Any]:
    text = filter_profanity(p.text, options.profanity)
    phrase: dict[str, Any] = {"channel": p.channel} if with_channel else {}
    if options.speakers is not None:
        # Fast transcription numbers speakers from 0 (Learn: "speaker": 0 or "speaker": 1);
        # enhanced mode from 1 (the Swagger example transcribe_enhanced_model_options.json,
        # and LLM speech translations carry only "speaker1").
        speakers = 1 if options.translate_to else options.speakers
        phrase["speaker"] = speaker_of(p, index, speakers) % speakers + options.enhanced
    # Words in display form with their punctuation ("Time-stamped word in the display form",
    # azure-ai-transcription; Learn's examples: "Hello," "afternoon."). The Swagger examples
    # show lower-case lexical words: Learn's current fast transcription page is followed.
    # Translations have no word timings: "Word-level durationMilliseconds and
    # offsetMilliseconds are not supported for translate task" (Learn, llm-speech), which
    # the Swagger example transcribe_enhanced_mode.json answers with zeros.
    words = words_of(p, text)
    if options.translate_to is not None:
        words = [w | {"offsetMilliseconds": 0, "durationMilliseconds": 0} for w in words]
    phrase.update(
        offsetMilliseconds=p.offset_ms,
        durationMilliseconds=p.duration_ms,
        text=text,
        words=words,
        locale=p.locale,
        confidence=p.confidence,
    )
    return phrase
