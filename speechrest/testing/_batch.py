"""Emulated batch transcription: ``/transcriptions:submit`` and the job's work.

Jobs are a :class:`Group` like every other entity (``state.stores.transcriptions``): the
generic routes serve, update, list and delete them and run their status lifecycle. A job
waits ``timing.queue_delay`` as ``NotStarted``, runs at least ``timing.run_time``, then
downloads each input over HTTP, transcribes it with ``state.recognizer`` and writes a
result file per input plus ``report.json``. An input that cannot be read or decoded fails in
the report; when every input fails, the job ``Failed``. A job cannot be deleted before it
ends, and is deleted ``timeToLiveHours`` after it ends (an hour lasts
``timing.time_to_live_scale`` seconds).

Sources, read as the service reads Azure Blob Storage (plain GETs with the caller's SAS, within
``state.download_limits``): ``contentUrls``; ``contentContainerUrl``, listed page by page
(``GET <container>?restype=container&comp=list&maxresults=N&marker=...``, following
``NextMarker`` to the end; at most ``container_blobs`` blobs); and ``dataset``, which must
name a dataset of the emulator and is transcribed from its ``contentUrl``.

Results are kept in the emulator's blob store and listed with SAS links; with
``destinationContainerUrl`` they are written to that container instead (block blobs named
``<job id>/<file name>``, written with the container's SAS), listed with plain blob URLs
(no SAS, as the service lists them), and left there when the job is deleted.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote

from aiohttp import web
from yarl import URL

from ._audio import AudioFormatError, open_audio
from ._batch_check import check_submission
from ._batch_format import BadChannels, result_document
from ._entities import (
    SUBMIT_LOCALES,
    TERMINAL,
    TRANSCRIBE_LOCALES,
    ApiError,
    bad,
    handler,
    id_of,
    read_json,
    resolve_ref,
)
from ._entity_routes import Group, add_file, add_link
from ._filter import FILTERABLE
from ._spool import fetch_bytes, fetch_to_file, put_blob
from ._state import EmulatorState, get_state
from ._stores import Entity

__all__ = ["SUBMIT_LOCALES", "TRANSCRIBE_LOCALES", "TRANSCRIPTIONS", "register"]

_DEFAULT_PROPERTIES = {
    "wordLevelTimestampsEnabled": False,
    "displayFormWordLevelTimestampsEnabled": False,
    "channels": [0, 1],
    "punctuationMode": "DictatedAndAutomatic",
    "profanityFilterMode": "Masked",
}


def _refuse_unfinished(state: EmulatorState, job: Entity) -> None:
    if job["status"] not in TERMINAL:
        raise ApiError(
            400, "InvalidRequest", "The transcription task hasn't finished yet.", "DeleteNotAllowed"
        )


def _time_to_live(state: EmulatorState, job: Entity) -> float:
    return float(job["properties"]["timeToLiveHours"] * state.timing.time_to_live_scale)


TRANSCRIPTIONS = Group(
    name="transcriptions",
    store=lambda stores: stores.transcriptions,
    filterable=FILTERABLE["transcriptions"],
    on_delete=_refuse_unfinished,
    time_to_live=_time_to_live,
)


def register(app: web.Application, state: EmulatorState) -> None:
    app.router.add_post("/speechtotext/transcriptions:submit", handler(_submit))
    TRANSCRIPTIONS.register(
        app, locales={"Transcribe": TRANSCRIBE_LOCALES, "Submit": SUBMIT_LOCALES}
    )
    TRANSCRIPTIONS.register_files(app)


async def _submit(request: web.Request) -> web.StreamResponse:
    state = get_state(request)
    body = await read_json(request)
    check_submission(state, body, SUBMIT_LOCALES)
    dataset = resolve_ref(state.stores.datasets, body, "dataset", "datasets", "InvalidDataset")
    job = TRANSCRIPTIONS.new_entity(state, body)
    for key in ("model", "dataset"):
        if body.get(key) is not None:
            job[key] = {"self": body[key]["self"]}
    properties = {**_DEFAULT_PROPERTIES, **body["properties"], "durationMilliseconds": 0}
    properties.pop("error", None)
    job |= {
        "links": {"files": state.url(f"/transcriptions/{id_of(job)}/files")},
        "properties": properties,
        "status": "NotStarted",
        "_contentUrls": body.get("contentUrls"),
        "_container": body.get("contentContainerUrl"),
        "_dataset": None if dataset is None else id_of(_audio_dataset(dataset)),
    }
    return await TRANSCRIPTIONS.create(state, job, _work)


def _audio_dataset(dataset: Entity) -> Entity:
    """A dataset a job can transcribe: processed audio (``AudioFiles`` or ``Acoustic``)."""
    if dataset["kind"] not in ("AudioFiles", "Acoustic"):
        raise bad(
            f"A {dataset['kind']} dataset holds no audio to transcribe: give an AudioFiles "
            "or Acoustic dataset.",
            "InvalidDataset",
        )
    if dataset.get("status") != "Succeeded":
        raise bad("The dataset is not processed yet, or it failed.", "InvalidDataset")
    return dataset


# -- the job's work --------------------------------------------------------------------------


class _InputFailed(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


async def _work(state: EmulatorState, job: Entity) -> dict[str, str] | None:
    """Transcribe every input; store the result files and the report."""
    details: list[dict[str, Any]] = []
    results: list[tuple[str, dict[str, Any]]] = []
    failures: list[_InputFailed] = []
    try:
        inputs = await _inputs(state, job)
    except _InputFailed as exc:
        inputs = []
        failures.append(exc)
    for source, download, name in inputs:
        try:
            results.append((name, await _transcribe(state, job, source, download)))
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
    if not results:
        return _job_error(failures, len(details))
    report = {
        "successfulTranscriptionsCount": len(results),
        "failedTranscriptionsCount": len(details) - len(results),
        "details": details,
    }
    files = [(name, "Transcription", doc) for name, doc in results]
    error = await _store_files(state, job, [*files, ("report.json", "TranscriptionReport", report)])
    if error is not None:
        return error
    job["properties"]["durationMilliseconds"] = sum(
        doc["durationMilliseconds"] for _, doc in results
    )
    return None


def _job_error(failures: list[_InputFailed], inputs: int) -> dict[str, str]:
    """The job's ``properties.error`` when no input could be transcribed."""
    failure = (
        failures[0]
        if failures
        else _InputFailed("InvalidRecordingsUri", "There is no audio to transcribe.")
    )
    code = failure.kind  # a DetailedErrorCode of the Swagger, as each report's errorKind
    message = failure.message
    if inputs > 1:
        message = f"None of the {inputs} inputs could be transcribed: {message}"
    return {"code": code, "message": message}


async def _inputs(state: EmulatorState, job: Entity) -> list[tuple[str, str, str]]:
    """(source, download URL, result file name) for each input of the job."""
    if job["_contentUrls"] is not None:
        return [(u, u, f"contenturl_{i}.json") for i, u in enumerate(job["_contentUrls"])]
    if job["_dataset"] is not None:
        dataset = state.stores.datasets.get(job["_dataset"])
        if dataset is None:
            raise _InputFailed("InvalidRecordingsUri", "The dataset has been deleted.")
        return [
            (url, url, f"{f['name']}.json")
            for f in dataset.get("_files", [])
            if f["kind"] == "Audio"
            for url in [state.stores.blobs.sas_url(state.base_url, f["blob"])]
        ]
    return await _container_inputs(state, job["_container"])


def _blob_urls(container: URL, name: str) -> tuple[str, str]:
    """The URL of blob ``name`` of ``container``: plain, and with the container's SAS."""
    plain = f"{str(container.with_query(None).with_fragment(None)).rstrip('/')}/"
    plain += quote(name, safe="/")
    sas = container.raw_query_string
    return plain, f"{plain}?{sas}" if sas else plain


def _listing_url(container: URL, page_size: int, marker: str) -> str:
    plain = _blob_urls(container, "")[0].rstrip("/")
    query = f"restype=container&comp=list&maxresults={page_size}"
    if marker:
        query += f"&marker={quote(marker, safe='')}"
    sas = container.raw_query_string
    return f"{plain}?{sas + '&' if sas else ''}{query}"


async def _container_inputs(state: EmulatorState, url: str) -> list[tuple[str, str, str]]:
    """The blobs of a ``contentContainerUrl``, every page of the listing."""
    container = URL(url, encoded=True)
    limits = state.download_limits
    inputs: list[tuple[str, str, str]] = []
    markers: set[str] = set()
    marker = ""
    while True:
        try:
            page = await fetch_bytes(
                _listing_url(container, limits.container_page_size, marker),
                state,
                limit=limits.listing_page_bytes,
                what="container listing",
                code="InvalidRecordingsUri",
            )
            root = ET.fromstring(page)  # noqa: S314 - bounded; expat refuses entity expansion bombs
        except (ApiError, ET.ParseError) as exc:
            reason = exc.message if isinstance(exc, ApiError) else "the listing is not valid XML"
            raise _InputFailed(
                "InvalidRecordingsUri", f"The container cannot be listed: {reason}"
            ) from None
        for name in (blob.findtext("Name") for blob in root.iterfind("Blobs/Blob")):
            if name:
                plain, signed = _blob_urls(container, name)
                inputs.append((plain, signed, f"{name}.json"))
        if len(inputs) > limits.container_blobs:
            raise _InputFailed(
                "InvalidRecordingsUri",
                f"The container holds more than {limits.container_blobs} blobs, the limit.",
            )
        marker = root.findtext("NextMarker") or ""
        if not marker:
            return inputs
        if marker in markers:
            raise _InputFailed("InvalidRecordingsUri", "The container listing repeats a page.")
        markers.add(marker)


async def _transcribe(state: EmulatorState, job: Entity, source: str, url: str) -> dict[str, Any]:
    """The result document of one input; raises _InputFailed."""
    try:
        path = await fetch_to_file(url, state, limit=state.download_limits.batch_file_bytes)
    except ApiError as exc:
        raise _InputFailed("InvalidRecordingsUri", exc.message) from None
    try:
        async with open_audio(
            path,
            url.split("?", 1)[0],
            spool_dir=state.spool_dir,
            max_duration_ms=_longest(state, job),
        ) as audio:
            return await result_document(state, job, audio, source)
    except AudioFormatError as exc:
        raise _InputFailed(exc.code, exc.message) from None
    except BadChannels as exc:
        raise _InputFailed(exc.code, str(exc)) from None
    finally:
        path.unlink(missing_ok=True)


def _longest(state: EmulatorState, job: Entity) -> int | None:
    """The longest audio the job may transcribe: 240 minutes with diarization (Learn,
    batch-transcription-create), else no documented limit."""
    diarization = job["properties"].get("diarization") or {}
    if diarization.get("enabled"):
        return state.limits.batch_diarization_duration_ms
    return state.limits.batch_duration_ms


async def _store_files(
    state: EmulatorState, job: Entity, files: list[tuple[str, str, dict[str, Any]]]
) -> dict[str, str] | None:
    """Keep the job's files (name, kind, document): in the emulator's blob store, or in the
    ``destinationContainerUrl``; the job's error when they cannot be written there."""
    destination = job["properties"].get("destinationContainerUrl")
    for name, kind, doc in files:
        data = json.dumps(doc, separators=(",", ":")).encode()
        if destination is None:
            add_file(state, TRANSCRIPTIONS.name, job, name, kind, data)
            continue
        plain, signed = _blob_urls(URL(destination, encoded=True), f"{id_of(job)}/{name}")
        problem = await put_blob(signed, data, "application/json", state.outbound_ssl)
        if problem is not None:
            return {
                "code": "InvalidDestinationContainer",
                "message": f"The results cannot be written to destinationContainerUrl "
                f"({problem}): its SAS must be a container SAS that allows writing (w).",
            }
        add_link(job, name, kind, plain, len(data))
    return None
