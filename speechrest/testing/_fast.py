"""Emulated ``POST /speechtotext/transcriptions:transcribe`` (fast transcription)."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from ._audio import AudioFormatError, AudioInfo, probe_audio
from ._entities import ApiError, handler
from ._recognizer import PROFANITY_MODES, filter_profanity, words_of
from ._spool import CHUNK, fetch_to_file, open_spool
from ._state import EmulatorState, error_response, get_state, json_response, note_definition

__all__ = ["register", "result_body"]


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
        definition: dict[str, Any] = {}
        name = "audio"
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, aiohttp.BodyPartReader):
                continue
            if part.name == "definition":
                raw = await part.read(decode=False)
                definition = _parse_definition(bytes(raw))
                state.transcribe_definitions.append(definition)
                note_definition(definition)
            elif part.name == "audio":
                name = part.filename or "audio"
                spool = await _spool_part(part, state)
            else:
                await part.release()
        if spool is None:
            url = definition.get("audioUrl")
            if not url:
                raise ApiError(
                    400,
                    "InvalidRequest",
                    "Provide an audio file or definition.audioUrl.",
                    "InvalidAudioFormat",
                )
            spool = await fetch_to_file(str(url), state)
            name = str(url).split("?", 1)[0]
        audio = _probe(spool, name)
        return json_response(result_body(state, audio, definition))
    finally:
        if spool is not None:
            with contextlib.suppress(OSError):
                spool.unlink()


def _parse_definition(raw: bytes) -> dict[str, Any]:
    try:
        d = json.loads(raw or b"{}")
    except ValueError:
        raise ApiError(
            400, "InvalidRequest", "The definition is not valid JSON.", "InvalidTranscription"
        ) from None
    if not isinstance(d, dict):
        raise ApiError(
            400, "InvalidRequest", "The definition must be a JSON object.", "InvalidTranscription"
        )
    locales = d.get("locales")
    if locales is not None and (
        not isinstance(locales, list)
        or not all(
            isinstance(x, str) and re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", x)
            for x in locales
        )
    ):
        raise ApiError(400, "InvalidArgument", f"Invalid locales: {locales!r}.", "InvalidLocale")
    dia = d.get("diarization")
    if dia is not None:
        n = dia.get("maxSpeakers") if isinstance(dia, dict) else None
        if not isinstance(dia, dict) or (
            n is not None and (not isinstance(n, int) or not 2 <= n <= 35)
        ):
            raise ApiError(
                400,
                "InvalidArgument",
                "diarization.maxSpeakers must be between 2 and 35.",
                "InvalidParameterValue",
            )
    channels = d.get("channels")
    if channels is not None and (
        not isinstance(channels, list)
        or len(channels) > 2
        or not all(isinstance(c, int) and c >= 0 for c in channels)
    ):
        raise ApiError(
            400,
            "InvalidArgument",
            "At most two 0-based channels can be given.",
            "InvalidChannelSpecification",
        )
    mode = d.get("profanityFilterMode")
    if mode is not None and mode not in PROFANITY_MODES:
        raise ApiError(
            400,
            "InvalidArgument",
            f"Unknown profanityFilterMode {mode!r}.",
            "InvalidParameterValue",
        )
    return d


async def _spool_part(part: aiohttp.BodyPartReader, state: EmulatorState) -> Path:
    f, path = open_spool(state, ".audio")
    size = 0
    try:
        with f:
            while chunk := await part.read_chunk(CHUNK):
                size += len(chunk)
                if size > state.max_upload_bytes:
                    raise ApiError(
                        413,
                        "InvalidRequest",
                        "The audio file is larger than 250 MB.",
                        "AudioLengthLimitExceeded",
                    )
                f.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _probe(path: Path, name: str) -> AudioInfo:
    try:
        return probe_audio(path, name)
    except AudioFormatError as exc:
        status = 400 if exc.code in ("EmptyAudioFile", "AudioLengthLimitExceeded") else 422
        code = "InvalidArgument" if status == 400 else "UnprocessableEntity"
        raise ApiError(status, code, exc.message, exc.code) from None


def result_body(state: EmulatorState, audio: AudioInfo, d: dict[str, Any]) -> dict[str, Any]:
    """The ``TranscribeResult`` for ``audio`` under definition ``d``."""
    channels: list[int] | None = d.get("channels")
    if channels is not None and any(c >= audio.channels for c in channels):
        raise ApiError(
            400,
            "InvalidArgument",
            f"The audio has {audio.channels} channel(s); cannot transcribe channel(s) {channels}.",
            "InvalidChannelSpecification",
        )
    locales = list(d.get("locales") or [])
    heard = state.recognizer.recognize(audio, locales)
    wanted = channels if channels is not None else [0]
    dia = d.get("diarization") or {}
    speakers = (dia.get("maxSpeakers") or 2) if dia.get("enabled") else None
    mode = d.get("profanityFilterMode")
    phrases: list[dict[str, Any]] = []
    combined: dict[int, list[str]] = {c: [] for c in wanted}
    for i, p in enumerate(h for h in heard if h.channel in wanted):
        text = filter_profanity(p.text, mode)
        phrase: dict[str, Any] = {}
        if channels is not None:
            phrase["channel"] = p.channel
        if speakers:
            phrase["speaker"] = p.speaker if p.speaker is not None else (i % speakers) + 1
        phrase.update(
            offsetMilliseconds=p.offset_ms,
            durationMilliseconds=p.duration_ms,
            text=text,
            words=words_of(p, text),
            locale=p.locale,
            confidence=p.confidence,
        )
        phrases.append(phrase)
        combined[p.channel].append(text)
    combined_phrases = [
        ({"channel": c} if channels is not None else {}) | {"text": " ".join(texts)}
        for c, texts in combined.items()
    ]
    return {
        "durationMilliseconds": audio.duration_ms,
        "combinedPhrases": combined_phrases,
        "phrases": phrases,
    }
