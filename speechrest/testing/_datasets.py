"""Emulated ``/speechtotext/datasets``: import from a URL or a block upload, then processing.

Processing reads the data the way the service checks it: text kinds count their lines
(``acceptedLineCount``/``rejectedLineCount``), ``Acoustic`` is a zip of WAV files with a
tab-separated transcript, ``AudioFiles`` a zip of WAV files (``durationMilliseconds``).
The dataset's files (the data and a ``report.json``) are served from the blob store.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import shutil
import wave
import zipfile
from pathlib import Path
from typing import Any

from aiohttp import web

from ._entities import (
    SUPPORTED_LOCALES,
    ApiError,
    bad,
    check_fields,
    check_project,
    handler,
    id_of,
    read_json,
    retry_after,
)
from ._entity_routes import Group, add_file
from ._filter import FILTERABLE
from ._spool import CHUNK, fetch_to_file, open_spool
from ._state import EmulatorState, ServiceLimits, get_state, json_response
from ._stores import Entity

__all__ = ["MAX_BLOCK_BYTES", "register"]

MAX_BLOCK_BYTES = 8 * 1024 * 1024
"""The largest block ``Datasets_UploadBlock`` accepts."""
KINDS = (
    "Language",
    "Acoustic",
    "Pronunciation",
    "AudioFiles",
    "LanguageMarkdown",
    "OutputFormatting",
)
LOCALES = {kind: list(SUPPORTED_LOCALES) for kind in KINDS} | {
    "Pronunciation": ["de-DE", "en-GB", "en-US", "fr-FR"],
    "LanguageMarkdown": ["en-US"],
    "OutputFormatting": ["en-US"],
}
_FIELDS = (
    "displayName",
    "description",
    "customProperties",
    "locale",
    "kind",
    "project",
    "contentUrl",
)
_DATA_FILE = {
    "Language": ("LanguageData", "data.txt"),
    "LanguageMarkdown": ("LanguageData", "data.md"),
    "OutputFormatting": ("OutputFormattingData", "data.txt"),
    "Pronunciation": ("PronunciationData", "pronunciation.txt"),
    "Acoustic": ("AcousticDataArchive", "data.zip"),
}


def _in_use(state: EmulatorState, entity: Entity) -> None:
    url = entity["self"].split("?")[0]
    users = [
        m
        for m in state.stores.models.values()
        if any(str(d.get("self", "")).split("?")[0] == url for d in m.get("datasets") or [])
    ] + [
        e
        for e in state.stores.evaluations.values()
        if str((e.get("dataset") or {}).get("self", "")).split("?")[0] == url
    ]
    if users:
        raise ApiError(
            409,
            "Conflict",
            f"The dataset is in use by {users[0]['self'].split('?')[0]} and cannot be deleted.",
            "InUseViolation",
        )
    _remove_spools(entity)


def _remove_spools(entity: Entity) -> None:
    for path in [*entity.get("_blocks", {}).values(), entity.get("_source")]:
        if isinstance(path, Path):
            path.unlink(missing_ok=True)


GROUP = Group(
    name="datasets",
    store=lambda stores: stores.datasets,
    filterable=FILTERABLE["datasets"],
    on_delete=_in_use,
)


def register(app: web.Application, state: EmulatorState) -> None:
    GROUP.register(app, create=_create, locales=LOCALES)
    GROUP.register_files(app)
    base = "/speechtotext/datasets/{id}/blocks"
    app.router.add_get(base, handler(_get_blocks))
    app.router.add_put(base, handler(_upload_block))
    app.router.add_post(base + ":commit", handler(_commit))

    async def remove_spools(_: web.Application) -> None:
        for entity in state.stores.datasets.values():
            _remove_spools(entity)

    app.on_cleanup.append(remove_spools)


async def _create(request: web.Request) -> web.StreamResponse:
    state = get_state(request)
    body = await read_json(request)
    check_fields(body, _FIELDS, required=("displayName", "locale", "kind"), create=True)
    kind = body["kind"]
    if kind not in KINDS:
        raise bad(f"Unknown dataset kind {kind!r}; use one of {', '.join(KINDS)}.")
    if body["locale"] not in LOCALES[kind]:
        raise bad(
            f"The locale '{body['locale']}' is not supported for {kind} datasets.", "InvalidLocale"
        )
    url = body.get("contentUrl")
    if url is not None and not url.startswith(("http://", "https://")):
        raise bad("contentUrl must be an http(s) URL.", "InvalidDataset")
    normalization = _normalization(body.get("properties"))
    check_project(state, body)
    entity = GROUP.new_entity(state, body)
    entity["kind"] = kind
    if normalization is not None:
        entity["properties"] = {"textNormalizationKind": normalization}
    entity_id = id_of(entity)
    links = {"files": state.url(f"/datasets/{entity_id}/files")}
    if url is None:
        links |= {
            "commitBlocks": state.url(f"/datasets/{entity_id}/blocks:commit"),
            "listBlocks": state.url(f"/datasets/{entity_id}/blocks"),
            "uploadBlocks": state.url(f"/datasets/{entity_id}/blocks"),
        }
        entity["_blocks"] = {}
    else:
        entity["contentUrl"] = url
    entity["links"] = links
    entity["status"] = "NotStarted"
    return await GROUP.create(state, entity, None if url is None else _process)


_NORMALIZATIONS = ("Default", "None")


def _normalization(properties: Any) -> str | None:
    """``properties.textNormalizationKind``, the one property a dataset is created with
    (the Swagger: ``DatasetProperties``; the others are read-only)."""
    if properties is None:
        return None
    value = properties.get("textNormalizationKind") if isinstance(properties, dict) else None
    if not isinstance(properties, dict) or (value is not None and value not in _NORMALIZATIONS):
        raise bad("properties.textNormalizationKind must be Default or None.")
    return value


def _block_entity(request: web.Request) -> tuple[EmulatorState, Entity]:
    state, entity = GROUP.entity(request)
    if "_blocks" not in entity:
        raise bad(
            "This dataset was created from a contentUrl; it takes no blocks.", "InvalidDataset"
        )
    if "_source" in entity:
        raise ApiError(409, "Conflict", "The blocks of this dataset are already committed.")
    return state, entity


async def _get_blocks(request: web.Request) -> web.StreamResponse:
    state, entity = GROUP.entity(request)
    blocks = entity.get("_blocks", {})
    body = {
        "committedBlocks": entity.get("_committed", []),
        "uncommittedBlocks": [{"name": k, "size": p.stat().st_size} for k, p in blocks.items()],
    }
    # The Swagger declares Retry-After on Datasets_GetBlocks, as on the other GETs.
    return json_response(body, headers=retry_after(state, [entity]))


async def _upload_block(request: web.Request) -> web.StreamResponse:
    state, entity = _block_entity(request)
    block_id = request.query.get("blockid", "")
    try:
        raw = base64.b64decode(block_id, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if not raw or len(raw) > 64:
        raise bad("blockid must be Base64 of 1 to 64 bytes.")
    blocks: dict[str, Path] = entity["_blocks"]
    if any(len(other) != len(block_id) for other in blocks):
        raise bad("Every blockid of a dataset must have the same length.")
    if request.content_type != "application/octet-stream":
        raise ApiError(415, "UnsupportedMediaType", "A block must be application/octet-stream.")
    f, path = open_spool(state, ".block")
    size = 0
    with f:
        async for chunk in request.content.iter_chunked(CHUNK):
            size += len(chunk)
            if size <= MAX_BLOCK_BYTES:
                f.write(chunk)
    if size == 0 or size > MAX_BLOCK_BYTES:
        path.unlink(missing_ok=True)
        if size == 0:
            raise bad("The block is empty.")
        raise ApiError(
            413, "InvalidRequest", "A block can hold at most 8 MiB.", "InvalidParameterValue"
        )
    if block_id in blocks:
        blocks[block_id].unlink(missing_ok=True)
    blocks[block_id] = path
    return web.Response(status=201)


async def _commit(request: web.Request) -> web.StreamResponse:
    state, entity = _block_entity(request)
    entries = await read_json(request, list)
    blocks: dict[str, Path] = entity["_blocks"]
    if not entries:
        raise bad("The block list is empty.")
    order: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kind") not in (
            "Committed",
            "Uncommitted",
            "Latest",
        ):
            raise bad(
                "Each block list entry needs a kind (Committed, Uncommitted, Latest) and an id."
            )
        if entry.get("kind") == "Committed" or entry.get("id") not in blocks:
            raise bad(f"The block {entry.get('id')!r} has not been uploaded.")
        order.append(entry["id"])
    out, source = open_spool(state, ".data")
    with out:
        for block_id in order:
            with blocks[block_id].open("rb") as block:
                shutil.copyfileobj(block, out)
    entity["_committed"] = [{"name": b, "size": blocks[b].stat().st_size} for b in order]
    for path in blocks.values():
        path.unlink(missing_ok=True)
    blocks.clear()
    entity["_source"] = source
    GROUP.start(state, entity, _process)
    return web.Response(status=200)


async def _process(state: EmulatorState, entity: Entity) -> dict[str, str] | None:
    """Fetch the data (or take the committed upload), check it, attach its files."""
    source = entity.get("_source")
    if source is None:
        try:
            source = await fetch_to_file(
                entity["contentUrl"],
                state,
                limit=state.download_limits.dataset_bytes,
                code="InvalidDataset",
                what="dataset",
            )
        except Exception as exc:
            return {"code": "DataImportFailed", "message": f"The contentUrl cannot be read: {exc}"}
        entity["_source"] = source
    requested = (entity.get("properties") or {}).get("textNormalizationKind")
    result = await asyncio.to_thread(_analyze, entity["kind"], source, state.limits)
    if requested is not None or entity["kind"] in _NORMALIZED:
        result.normalization = requested or "Default"
    entity["properties"] = result.properties
    if result.error is not None:
        return {"code": "DataImportFailed", "message": result.error}
    entity["_utterances"] = result.utterances
    kind, name = _DATA_FILE.get(entity["kind"], ("", ""))
    if kind:
        add_file(state, GROUP.name, entity, name, kind, source)
    for audio_name, data in result.audio:
        add_file(state, GROUP.name, entity, audio_name, "Audio", data)
    add_file(state, GROUP.name, entity, "report.json", "DatasetReport", result.report())
    return None


_NORMALIZED = ("Language", "Acoustic")
"""The kinds whose text the service normalizes by default (the create example of an
Acoustic dataset answers ``"textNormalizationKind": "Default"``)."""


class _Result:
    def __init__(self) -> None:
        self.accepted = 0
        self.rejected: list[dict[str, Any]] = []
        self.duration_ms: int | None = None
        self.utterances: list[dict[str, Any]] = []
        """Acoustic data: ``{"name": audio file name, "text": its transcript}``."""
        self.audio: list[tuple[str, bytes]] = []
        self.error: str | None = None
        self.normalization: str | None = None

    @property
    def properties(self) -> dict[str, Any]:
        props: dict[str, Any] = {
            "acceptedLineCount": self.accepted,
            "rejectedLineCount": len(self.rejected),
        }
        if self.duration_ms is not None:
            props["durationMilliseconds"] = self.duration_ms
        if self.normalization is not None:
            props["textNormalizationKind"] = self.normalization
        return props

    def report(self) -> bytes:
        body = {**self.properties, "rejectedLines": self.rejected[:100]}
        return json.dumps(body, indent=2).encode()


def _analyze(kind: str, path: Path, limits: ServiceLimits) -> _Result:
    result = _Result()
    if kind in ("Acoustic", "AudioFiles"):
        _analyze_archive(kind, path, result, limits)
    else:
        _analyze_text(kind, path, result)
    if result.error is None and result.accepted == 0:
        result.error = "The dataset holds no usable data."
    return result


def _analyze_text(kind: str, path: Path, result: _Result) -> None:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        result.error = "The text is not UTF-8 encoded (UTF-8 with BOM is recommended)."
        return
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if kind == "Pronunciation":
            word, _, spoken = line.partition("\t")
            ok = bool(word.strip() and spoken.strip())
            reason = "expected: word<TAB>pronunciation"
        else:
            ok = not any(ord(c) < 32 and c != "\t" for c in line)
            reason = "control characters are not allowed"
        if ok:
            result.accepted += 1
        else:
            result.rejected.append({"line": number, "reason": reason})


def _wav_ms(data: bytes, limits: ServiceLimits) -> int | str:
    """The duration of one dataset audio file, or why it is rejected. Learn ("Training and
    testing datasets", audio data): "File format RIFF (WAV) | Sample rate 8,000 Hz or 16,000
    Hz | Channels 1 (mono) | Maximum length per audio Two hours (testing) | Sample format PCM,
    16-bit"."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            rate, channels, width, frames = (
                w.getframerate(),
                w.getnchannels(),
                w.getsampwidth(),
                w.getnframes(),
            )
    except (wave.Error, EOFError):
        return "not a PCM WAV file"
    if rate not in (8000, 16000) or channels != 1 or width != 2:
        return (
            f"must be 16-bit PCM mono at 8 or 16 kHz (is {width * 8}-bit, {channels} ch, {rate} Hz)"
        )
    ms: int = frames * 1000 // rate
    limit = limits.dataset_audio_duration_ms
    if limit is not None and ms > limit:
        return f"longer than {limit // 60000} minutes"
    return ms


def _analyze_archive(kind: str, path: Path, result: _Result, limits: ServiceLimits) -> None:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        result.error = f"{kind} data must be a .zip archive of WAV files."
        return
    with archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        if len(names) > limits.dataset_archive_files:
            result.error = f"The archive holds more than {limits.dataset_archive_files} files."
            return
        audio = {Path(n).name: archive.read(n) for n in names if n.lower().endswith(".wav")}
        transcripts = [n for n in names if n.lower().endswith(".txt")]
        lines = archive.read(transcripts[0]).decode("utf-8-sig", "replace") if transcripts else ""
    durations = {name: _wav_ms(data, limits) for name, data in audio.items()}
    result.duration_ms = 0
    if kind == "AudioFiles":
        for name, ms in durations.items():
            if isinstance(ms, str):
                result.rejected.append({"file": name, "reason": ms})
                continue
            result.accepted += 1
            result.duration_ms += ms
            result.audio.append((name, audio[name]))
        return
    for number, line in enumerate(lines.splitlines(), 1):
        name, _, text = (part.strip() for part in line.partition("\t"))
        if not line.strip():
            continue
        found = durations.get(name)
        if not isinstance(found, int) or not text:
            reason = found if isinstance(found, str) else "no such WAV file, or no text"
            result.rejected.append({"line": number, "reason": reason})
            continue
        result.accepted += 1
        result.duration_ms += found
        result.utterances.append({"name": name, "text": text})
        result.audio.append((name, audio[name]))
