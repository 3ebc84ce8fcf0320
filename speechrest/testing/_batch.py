"""Emulated batch transcription: ``/transcriptions:submit`` and the job's work.

Jobs are a :class:`Group` like every other entity (``state.stores.transcriptions``): the
generic routes serve, update, list and delete them and run their status lifecycle. A job
waits ``timing.queue_delay`` as ``NotStarted``, runs at least ``timing.run_time``, then
downloads each input over HTTP, transcribes it with ``state.recognizer`` and writes a
result file per input plus ``report.json`` to the blob store, served with SAS-signed links.
An input that cannot be read or decoded fails in the report; when every input fails, the
job ``Failed``. A job cannot be deleted before it ends, and is deleted ``timeToLiveHours``
after it ends (an hour lasts ``timing.time_to_live_scale`` seconds).

Sources: ``contentUrls``; ``contentContainerUrl``, listed as blob storage lists a container
(``GET <container>?restype=container&comp=list``, the first page of the XML listing); and
``dataset``, which must name a dataset of the emulator and is transcribed from its
``contentUrl``. ``destinationContainerUrl`` is accepted and echoed, but results are always
kept in the emulator's blob store.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from aiohttp import web
from yarl import URL

from ._audio import AudioFormatError, probe_audio
from ._batch_check import check_submission
from ._batch_format import BadChannels, result_document
from ._entities import TERMINAL, ApiError, handler, id_of, read_json, resolve_ref
from ._entity_routes import Group, add_file
from ._filter import FILTERABLE
from ._spool import fetch_to_file
from ._state import EmulatorState, get_state
from ._stores import Entity

__all__ = ["SUBMIT_LOCALES", "TRANSCRIBE_LOCALES", "TRANSCRIPTIONS", "register"]

TRANSCRIBE_LOCALES = ["de-DE", "en-GB", "en-IN", "en-US", "es-ES", "es-MX", "fr-FR", "it-IT"]
TRANSCRIBE_LOCALES += ["ja-JP", "ko-KR", "pt-BR", "zh-CN"]
SUBMIT_LOCALES = sorted({*TRANSCRIBE_LOCALES, "ar-AE", "da-DK", "el-GR", "fi-FI", "hi-IN"} | {
    "nb-NO", "nl-NL", "pl-PL", "pt-PT", "ru-RU", "sv-SE", "tr-TR", "en-AU", "fr-CA",
})  # fmt: skip
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
        "_dataset": None if dataset is None else str(dataset.get("contentUrl") or ""),
    }
    return await TRANSCRIPTIONS.create(state, job, _work)


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
    except Exception as exc:
        inputs = []
        failures.append(
            _InputFailed("InvalidRecordingsUri", f"The container cannot be listed: {exc}")
        )
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
    for name, doc in results:
        _store_file(state, job, name, "Transcription", doc)
    report = {
        "successfulTranscriptionsCount": len(results),
        "failedTranscriptionsCount": len(details) - len(results),
        "details": details,
    }
    _store_file(state, job, "report.json", "TranscriptionReport", report)
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
    code = (
        "InvalidRecordingsUri" if failure.kind == "InvalidRecordingsUri" else "InvalidAudioFormat"
    )
    message = failure.message
    if inputs > 1:
        message = f"None of the {inputs} inputs could be transcribed: {message}"
    return {"code": code, "message": message}


async def _inputs(state: EmulatorState, job: Entity) -> list[tuple[str, str, str]]:
    """(source, download URL, result file name) for each input of the job."""
    if job["_contentUrls"] is not None:
        return [(u, u, f"contenturl_{i}.json") for i, u in enumerate(job["_contentUrls"])]
    if job["_dataset"] is not None:
        url = job["_dataset"]
        return [(url, url, "dataset_0.json")] if url else []
    container = URL(job["_container"])
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


async def _transcribe(state: EmulatorState, job: Entity, source: str, url: str) -> dict[str, Any]:
    """The result document of one input; raises _InputFailed."""
    try:
        path = await fetch_to_file(url, state)
    except Exception as exc:
        raise _InputFailed("InvalidRecordingsUri", str(exc)) from None
    try:
        audio = probe_audio(path, url.split("?", 1)[0])
        return await result_document(state, job, audio, source)
    except AudioFormatError as exc:
        raise _InputFailed(exc.code, exc.message) from None
    except BadChannels as exc:
        raise _InputFailed("InvalidChannelSpecification", str(exc)) from None
    finally:
        path.unlink(missing_ok=True)


def _store_file(
    state: EmulatorState, job: Entity, name: str, kind: str, doc: dict[str, Any]
) -> None:
    data = json.dumps(doc, separators=(",", ":")).encode()
    add_file(state, TRANSCRIPTIONS.name, job, name, kind, data)
