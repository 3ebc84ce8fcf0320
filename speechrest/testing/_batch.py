"""Emulated batch transcription: ``/transcriptions:submit`` and the job's lifecycle.

Jobs live in ``state.stores["transcriptions"]``, keyed by id, as the exact JSON the API
returns plus private keys (``_``-prefixed, never served). A job waits ``timing.queue_delay``
as ``NotStarted``, then runs at least ``timing.run_time``: it downloads each input over
HTTP, transcribes it with ``state.recognizer`` and writes a result file per input plus
``report.json`` to the blob store, served with SAS-signed links. An input that cannot be
read or decoded fails in the report; when every input fails, the job ``Failed``. Jobs are
deleted ``timeToLiveHours`` after they end (an hour lasts ``timing.time_to_live_scale``
seconds).

Sources: ``contentUrls``; ``contentContainerUrl``, listed as blob storage lists a container
(``GET <container>?restype=container&comp=list``, the first page of the XML listing); and
``dataset``, which must name a dataset of the emulator and is transcribed from its
``contentUrl``. ``destinationContainerUrl`` is accepted and echoed, but results are always
kept in the emulator's blob store.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
import xml.etree.ElementTree as ET
from typing import Any

from aiohttp import web
from yarl import URL

from ._audio import AudioFormatError, probe_audio
from ._batch_check import check_submission, check_update
from ._batch_format import BadChannels, result_document
from ._blobs import blobs
from ._emulator import EmulatorState, get_state, json_response, now_iso, paginate
from ._entities import (
    TERMINAL,
    ApiError,
    entity_store,
    handler,
    new_id,
    public,
    retry_after,
    set_status,
)
from ._entity_routes import add_file, file_json
from ._filter import FILTERABLE
from ._spool import fetch_to_file

__all__ = ["SUBMIT_LOCALES", "TRANSCRIBE_LOCALES", "jobs", "register"]

log = logging.getLogger("speechrest.emulator")

STORE = "transcriptions"
TRANSCRIBE_LOCALES = ["de-DE", "en-GB", "en-IN", "en-US", "es-ES", "es-MX", "fr-FR", "it-IT"]
TRANSCRIBE_LOCALES += ["ja-JP", "ko-KR", "pt-BR", "zh-CN"]
SUBMIT_LOCALES = sorted({*TRANSCRIBE_LOCALES, "ar-AE", "da-DK", "el-GR", "fi-FI", "hi-IN"} | {
    "nb-NO", "nl-NL", "pl-PL", "pt-PT", "ru-RU", "sv-SE", "tr-TR", "en-AU", "fr-CA",
})  # fmt: skip


def register(app: web.Application, state: EmulatorState) -> None:
    r = app.router
    base = "/speechtotext/transcriptions"
    r.add_get(f"{base}/locales", _locales)
    r.add_post(f"{base}:submit", _submit)
    r.add_get(base, _list)
    r.add_get(base + "/{id}", _get)
    r.add_patch(base + "/{id}", _update)
    r.add_delete(base + "/{id}", _delete)
    r.add_get(base + "/{id}/files", _list_files)
    r.add_get(base + "/{id}/files/{file_id}", _get_file)


def jobs(state: EmulatorState) -> dict[str, dict[str, Any]]:
    """The emulator's transcriptions, by id (wire-shaped, with private ``_`` keys)."""
    return entity_store(state, STORE)


def _find(request: web.Request) -> dict[str, Any]:
    raw = request.match_info["id"]
    try:
        key = str(uuid.UUID(raw))
    except ValueError:
        raise ApiError(
            400, "InvalidArgument", f"The id {raw!r} is not a GUID.", "InvalidParameterValue"
        ) from None
    entity = jobs(get_state(request)).get(key)
    if entity is None:
        raise ApiError(404, "NotFound", f"The transcription {key} does not exist.")
    return entity


# -- routes ---------------------------------------------------------------------------------


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise ApiError(
            400, "InvalidRequest", "The body is not valid JSON.", "InvalidRequestBodyFormat"
        ) from None


@handler
async def _locales(request: web.Request) -> web.StreamResponse:
    return json_response({"Transcribe": TRANSCRIBE_LOCALES, "Submit": SUBMIT_LOCALES})


@handler
async def _submit(request: web.Request) -> web.StreamResponse:
    state = get_state(request)
    body = await _json_body(request)
    check_submission(body, SUBMIT_LOCALES)
    dataset_url = _dataset_source(state, body.get("dataset"))
    job_id = new_id()
    self_url = state.url(f"/transcriptions/{job_id}")
    now = now_iso()
    properties = {
        "wordLevelTimestampsEnabled": False,
        "displayFormWordLevelTimestampsEnabled": False,
        "channels": [0, 1],
        "punctuationMode": "DictatedAndAutomatic",
        "profanityFilterMode": "Masked",
        **body["properties"],
        "durationMilliseconds": 0,
    }
    properties.pop("error", None)
    entity: dict[str, Any] = {"self": self_url, "displayName": body["displayName"]}
    for key in ("description", "customProperties"):
        if body.get(key) is not None:
            entity[key] = body[key]
    entity |= {"locale": body["locale"], "createdDateTime": now, "lastActionDateTime": now}
    for key in ("model", "project", "dataset"):
        if body.get(key) is not None:
            entity[key] = {"self": body[key]["self"]}
    entity |= {
        "links": {"files": state.url(f"/transcriptions/{job_id}/files")},
        "properties": properties,
        "status": "NotStarted",
        "_contentUrls": body.get("contentUrls"),
        "_container": body.get("contentContainerUrl"),
        "_dataset": dataset_url,
        "_files": [],
        "_id": job_id,
    }
    jobs(state)[job_id] = entity
    entity["_task"] = state.spawn(_run(state, job_id))
    return json_response(public(entity), status=201, headers={"Location": self_url})


@handler
async def _list(request: web.Request) -> web.StreamResponse:
    state = get_state(request)
    items = [public(e) for e in jobs(state).values()]
    return paginate(
        request,
        state,
        items,
        filterable=FILTERABLE["transcriptions"],
        headers=retry_after(state, items),
    )


@handler
async def _get(request: web.Request) -> web.StreamResponse:
    entity = _find(request)
    return json_response(public(entity), headers=retry_after(get_state(request), [entity]))


@handler
async def _update(request: web.Request) -> web.StreamResponse:
    entity = _find(request)
    if request.content_type not in ("application/json", "application/merge-patch+json"):
        raise ApiError(
            415, "UnsupportedMediaType", "Use application/json or application/merge-patch+json."
        )
    patch = await _json_body(request)
    check_update(patch)
    for key, value in patch.items():
        if key == "customProperties" and value is not None:
            merged = {**entity.get("customProperties", {}), **value}
            value = {k: v for k, v in merged.items() if v is not None}
        if value is None:
            entity.pop(key, None)
        else:
            entity[key] = {"self": value["self"]} if key == "project" else value
    return json_response(public(entity), headers=retry_after(get_state(request), [entity]))


@handler
async def _delete(request: web.Request) -> web.StreamResponse:
    try:
        entity = _find(request)
    except ApiError as exc:
        if exc.status == 404:
            return web.Response(status=204)
        raise
    if entity["status"] not in TERMINAL:
        raise ApiError(
            400, "InvalidRequest", "The transcription task hasn't finished yet.", "DeleteNotAllowed"
        )
    await _remove(get_state(request), entity)
    return web.Response(status=204)


def _sas_minutes(request: web.Request) -> int | None:
    raw = request.query.get("sasLifetimeMinutes")
    if raw is None:
        return None
    try:
        minutes = int(raw)
    except ValueError:
        minutes = -1
    if minutes < 0:
        raise ApiError(
            400,
            "InvalidArgument",
            "sasLifetimeMinutes must be a non-negative integer.",
            "InvalidSasValidityDuration",
        )
    return minutes


@handler
async def _list_files(request: web.Request) -> web.StreamResponse:
    state = get_state(request)
    entity = _find(request)
    minutes = _sas_minutes(request)
    items = [file_json(state, STORE, entity["_id"], f, minutes) for f in entity["_files"]]
    return paginate(
        request,
        state,
        items,
        filterable=FILTERABLE["files"],
        headers=retry_after(state, [entity]),
    )


@handler
async def _get_file(request: web.Request) -> web.StreamResponse:
    state = get_state(request)
    entity = _find(request)
    minutes = _sas_minutes(request)
    for f in entity["_files"]:
        if f["id"] == request.match_info["file_id"]:
            return json_response(file_json(state, STORE, entity["_id"], f, minutes))
    raise ApiError(404, "NotFound", "The file does not exist.")


# -- the job engine ------------------------------------------------------------------------


def _dataset_source(state: EmulatorState, ref: Any) -> str | None:
    if ref is None:
        return None
    dataset_id = str(ref["self"]).split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    dataset = state.stores.get("datasets", {}).get(dataset_id)
    if not isinstance(dataset, dict):
        raise ApiError(
            400, "InvalidArgument", f"The dataset {dataset_id} does not exist.", "InvalidDataset"
        )
    url = dataset.get("contentUrl")
    return url if isinstance(url, str) else ""


async def _emit(state: EmulatorState, kind: str, url: str) -> None:
    try:
        await state.emit(kind, url)
    except Exception:  # a listener's failure must not break the job
        log.exception("listener failed on %s", kind)


async def _remove(state: EmulatorState, entity: dict[str, Any]) -> None:
    job_id = entity["_id"]
    if jobs(state).pop(job_id, None) is None:
        return
    blobs(state).delete_prefix(f"transcriptions/{job_id}/")
    task = entity.get("_task")
    if task is not None and task is not asyncio.current_task():
        task.cancel()
    await _emit(state, "transcriptionDeletion", entity["self"])


async def _inputs(state: EmulatorState, entity: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(source, download URL, result file name) for each input of the job."""
    if entity["_contentUrls"] is not None:
        return [(u, u, f"contenturl_{i}.json") for i, u in enumerate(entity["_contentUrls"])]
    if entity["_dataset"] is not None:
        url = entity["_dataset"]
        return [(url, url, "dataset_0.json")] if url else []
    container = URL(entity["_container"])
    listing = container.update_query({"restype": "container", "comp": "list"})
    path = await fetch_to_file(str(listing), state)
    try:
        root = ET.fromstring(path.read_bytes())  # noqa: S314 - the caller's own test server
    except ET.ParseError:
        return []
    finally:
        path.unlink(missing_ok=True)
    names = [el.text for el in root.iter("Name") if el.text]
    base = container.with_path(container.path.rstrip("/"))
    return [
        (str(base / n), str((base / n).with_query(container.query)), f"{n}.json") for n in names
    ]


async def _transcribe(
    state: EmulatorState, entity: dict[str, Any], source: str, url: str
) -> dict[str, Any]:
    """The result document of one input; raises _InputFailed."""
    try:
        path = await fetch_to_file(url, state)
    except Exception as exc:
        raise _InputFailed("InvalidRecordingsUri", str(exc)) from None
    try:
        audio = probe_audio(path, url.split("?", 1)[0])
        return await asyncio.to_thread(result_document, state, entity, audio, source)
    except AudioFormatError as exc:
        raise _InputFailed(exc.code, exc.message) from None
    except BadChannels as exc:
        raise _InputFailed("InvalidChannelSpecification", str(exc)) from None
    finally:
        path.unlink(missing_ok=True)


class _InputFailed(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _store_file(
    state: EmulatorState, entity: dict[str, Any], name: str, kind: str, doc: dict[str, Any]
) -> None:
    add_file(state, STORE, entity, name, kind, json.dumps(doc, separators=(",", ":")).encode())


async def _run(state: EmulatorState, job_id: str) -> None:
    entity = jobs(state)[job_id]
    url = entity["self"]
    timing = state.timing
    await _emit(state, "transcriptionCreation", url)
    await asyncio.sleep(timing.queue_delay)
    set_status(entity, "Running")
    await _emit(state, "transcriptionProcessing", url)
    started = asyncio.get_running_loop().time()
    details: list[dict[str, Any]] = []
    results: list[tuple[str, dict[str, Any]]] = []
    failures: list[_InputFailed] = []
    try:
        inputs = await _inputs(state, entity)
    except Exception as exc:
        inputs = []
        failures.append(
            _InputFailed("InvalidRecordingsUri", f"The container cannot be listed: {exc}")
        )
    for source, download, name in inputs:
        try:
            results.append((name, await _transcribe(state, entity, source, download)))
            details.append({"source": source, "status": "Succeeded"})
        except _InputFailed as exc:
            failures.append(exc)
            details.append(
                {
                    "source": source,
                    "status": "Failed",
                    "errorKind": exc.kind,
                    "errorMessage": exc.message,
                }
            )
    await asyncio.sleep(max(0.0, timing.run_time - (asyncio.get_running_loop().time() - started)))
    if results:
        for name, doc in results:
            _store_file(state, entity, name, "Transcription", doc)
        report = {
            "successfulTranscriptionsCount": len(results),
            "failedTranscriptionsCount": len(details) - len(results),
            "details": details,
        }
        _store_file(state, entity, "report.json", "TranscriptionReport", report)
        entity["properties"]["durationMilliseconds"] = sum(
            doc["durationMilliseconds"] for _, doc in results
        )
        set_status(entity, "Succeeded")
    else:
        failure = (
            failures[0]
            if failures
            else _InputFailed("InvalidRecordingsUri", "There is no audio to transcribe.")
        )
        code = (
            "InvalidRecordingsUri"
            if failure.kind == "InvalidRecordingsUri"
            else "InvalidAudioFormat"
        )
        message = failure.message
        if len(details) > 1:
            message = f"None of the {len(details)} inputs could be transcribed: {message}"
        entity["properties"]["error"] = {"code": code, "message": message}
        set_status(entity, "Failed")
    await _emit(state, "transcriptionCompletion", url)
    ttl = entity["properties"]["timeToLiveHours"] * timing.time_to_live_scale
    await asyncio.sleep(ttl)
    await _remove(state, entity)
