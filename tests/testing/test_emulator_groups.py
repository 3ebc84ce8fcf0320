"""Every emulated entity group follows the same rules (ids, 404s, bodies, references, SAS
lifetimes, the status lifecycle), batch transcription included. Raw HTTP, no client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from speechrest.testing import ScriptedRecognizer, SpeechEmulator, Timing, make_wav

pytestmark = pytest.mark.anyio

FAST = Timing(queue_delay=0.01, run_time=0.05, retry_after=1)
V = {"api-version": "2025-10-15"}
GROUPS = ["transcriptions", "datasets", "models", "endpoints", "evaluations", "projects"]
GROUPS += ["webhooks"]
TERMINAL = ("Succeeded", "Failed")
EN_BASE = "e065c68b-21d3-4b28-ae61-eb4c7e797789"
DE_BASE = "5b6ee0f3-5f54-4b24-a2f7-fcd0c5ab6b6a"


class Api:
    def __init__(self, emulator: SpeechEmulator, session: aiohttp.ClientSession) -> None:
        self.emulator = emulator
        self.session = session

    async def call(
        self, method: str, path: str, *, json: Any = None, data: Any = None, **query: Any
    ) -> tuple[int, Any]:
        url = path if "://" in path else f"{self.emulator.endpoint}/speechtotext{path}"
        params = {} if "api-version=" in url else dict(V)
        params.update({k: str(v) for k, v in query.items()})
        headers = {"Ocp-Apim-Subscription-Key": self.emulator.key}
        if data is not None:
            headers["Content-Type"] = data[1]
            data = data[0]
        async with self.session.request(
            method, url, json=json, data=data, params=params, headers=headers
        ) as resp:
            body = await resp.json(content_type=None) if resp.content_length != 0 else None
            return resp.status, body

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        status, entity = await self.call("POST", path, json=body)
        assert status == 201, entity
        return dict(entity)

    async def until_done(self, entity: dict[str, Any]) -> dict[str, Any]:
        """The entity once it ended; or as it is when no background work is left that
        could end it (a lifecycle that died)."""
        while True:
            _, got = await self.call("GET", entity["self"])
            if got["status"] in TERMINAL or not self.emulator.state.tasks:
                return dict(got)
            await asyncio.sleep(0.01)

    def job(self, **fields: Any) -> dict[str, Any]:
        audio = self.emulator.serve_bytes(make_wav(comment="Hello world."), "a.wav")
        props = {"timeToLiveHours": 48, **fields.pop("properties", {})}
        return {
            "displayName": "job",
            "locale": "en-US",
            "contentUrls": [audio],
            "properties": props,
            **fields,
        }

    def dataset(self, **fields: Any) -> dict[str, Any]:
        url = self.emulator.serve_bytes(b"one line\nanother line\n", "data.txt")
        return {
            "displayName": "data",
            "locale": "en-US",
            "kind": "Language",
            "contentUrl": url,
            **fields,
        }


@pytest.fixture
async def emulator() -> AsyncIterator[SpeechEmulator]:
    async with SpeechEmulator(timing=FAST) as emu:
        yield emu


@pytest.fixture
async def api(emulator: SpeechEmulator) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(emulator, session)


def error_of(answer: tuple[int, Any]) -> tuple[int, str, str | None]:
    status, body = answer
    return status, body["code"], (body.get("innerError") or {}).get("code")


@pytest.mark.parametrize("group", GROUPS)
async def test_ids_and_404s_are_alike_in_every_group(api: Api, group: str) -> None:
    unknown = "0b5e7c1e-1111-4a2b-9c3d-0e1f2a3b4c5d"
    for bad in ("not-a-guid", unknown.replace("-", ""), f"urn:uuid:{unknown}"):
        for method in ("GET", "PATCH", "DELETE"):
            answer = await api.call(method, f"/{group}/{bad}", json={})
            assert error_of(answer) == (404, "NotFound", None), (method, bad)
    status, body = await api.call("GET", f"/{group}/{unknown}")
    assert status == 404
    assert body == {"code": "NotFound", "message": f"The {group[:-1]} '{unknown}' does not exist."}
    assert (await api.call("DELETE", f"/{group}/{unknown}"))[0] == 204


async def test_job_and_file_ids_are_uuids_in_any_case(api: Api) -> None:
    job = await api.until_done(await api.create("/transcriptions:submit", api.job()))
    job_id = job["self"].split("?")[0].rsplit("/", 1)[1]
    assert (await api.call("GET", f"/transcriptions/{job_id.upper()}"))[0] == 200
    assert (await api.call("GET", f"/transcriptions/urn:uuid:{job_id}"))[0] == 404
    _, files = await api.call("GET", job["links"]["files"])
    file_id = files["values"][0]["self"].split("?")[0].rsplit("/", 1)[1]
    status, file = await api.call("GET", f"/transcriptions/{job_id}/files/{file_id.upper()}")
    assert status == 200 and file["self"] == files["values"][0]["self"]


async def test_sas_lifetime_is_one_rule_for_every_files_route(api: Api) -> None:
    job = await api.until_done(await api.create("/transcriptions:submit", api.job()))
    dataset = await api.until_done(await api.create("/datasets", api.dataset()))
    for entity in (job, dataset):
        _, page = await api.call("GET", entity["links"]["files"])
        file_url = page["values"][0]["self"]
        for url in (entity["links"]["files"], file_url):
            for good in ("0", "60", "20160", str(2**31 - 1)):
                assert (await api.call("GET", url, sasLifetimeMinutes=good))[0] == 200, good
            for bad in ("-1", "1_0", "+5", "1.5", "x", "", "٣", str(2**31)):
                answer = await api.call("GET", url, sasLifetimeMinutes=bad)
                assert error_of(answer) == (400, "InvalidArgument", "InvalidSasValidityDuration")
    manifest = f"/models/base/{EN_BASE}/manifest"
    assert (await api.call("GET", manifest, sasLifetimeMinutes=20160))[0] == 200
    for bad in ("0", "-1"):
        answer = await api.call("GET", manifest, sasLifetimeMinutes=bad)
        assert error_of(answer) == (400, "InvalidArgument", "InvalidSasValidityDuration")
    answer = await api.call("GET", manifest)
    assert error_of(answer) == (400, "InvalidArgument", "InvalidSasValidityDuration")


@pytest.mark.parametrize("create", ["/transcriptions:submit", "/datasets"])
async def test_create_bodies_are_read_alike(api: Api, create: str) -> None:
    good = api.job() if "transcriptions" in create else api.dataset()
    missing = {"self": api.emulator.state.url("/projects/0b5e7c1e-1111-4a2b-9c3d-0e1f2a3b4c5d")}
    answer = await api.call("POST", create, data=(b"{}", "text/plain"))
    assert error_of(answer) == (415, "UnsupportedMediaType", None)
    for raw in (b"[]", b"{not json"):
        answer = await api.call("POST", create, data=(raw, "application/json"))
        assert error_of(answer) == (400, "InvalidArgument", "InvalidRequestBodyFormat")
    for changes, inner in [
        ({"color": "blue"}, "InvalidPayload"),
        ({"displayName": "   "}, "InvalidParameterValue"),
        ({"customProperties": {"k": 1}}, "InvalidParameterValue"),
        ({"project": missing}, "InvalidProject"),
    ]:
        answer = await api.call("POST", create, json={**good, **changes})
        assert error_of(answer) == (400, "InvalidArgument", inner), changes
    assert (await api.call("POST", create, json=good))[0] == 201


@pytest.mark.parametrize("create", ["/transcriptions:submit", "/datasets"])
async def test_updates_are_checked_alike(api: Api, create: str) -> None:
    entity = await api.create(create, api.job() if "transcriptions" in create else api.dataset())
    missing = {"self": api.emulator.state.url("/projects/0b5e7c1e-1111-4a2b-9c3d-0e1f2a3b4c5d")}
    for patch, inner in [
        ({"locale": "de-DE"}, "InvalidPayload"),
        ({"project": missing}, "InvalidProject"),
    ]:
        answer = await api.call("PATCH", entity["self"], json=patch)
        assert error_of(answer) == (400, "InvalidArgument", inner), patch
    project = await api.create("/projects", {"displayName": "p", "locale": "en-US"})
    status, got = await api.call("PATCH", entity["self"], json={"project": project})
    assert status == 200 and got["project"]["self"] == project["self"]


async def test_a_job_references_models_that_exist(api: Api) -> None:
    def model(model_id: str) -> dict[str, str]:
        return {"self": api.emulator.state.url(f"/models/base/{model_id}")}

    unknown = model("0b5e7c1e-1111-4a2b-9c3d-0e1f2a3b4c5d")
    lid = {"candidateLocales": ["en-US", "de-DE"], "speechModelMapping": {"de-DE": unknown}}
    for body, inner in [
        (api.job(model=unknown), "InvalidModel"),
        (api.job(model=model(DE_BASE)), "ModelMismatch"),
        (api.job(properties={"languageIdentification": lid}), "InvalidModel"),
    ]:
        answer = await api.call("POST", "/transcriptions:submit", json=body)
        assert error_of(answer) == (400, "InvalidArgument", inner)
    lid["speechModelMapping"] = {"de-DE": model(DE_BASE)}
    job = api.job(model=model(EN_BASE), properties={"languageIdentification": lid})
    assert (await api.call("POST", "/transcriptions:submit", json=job))[0] == 201


async def test_a_failing_listener_breaks_no_entity(api: Api, emulator: SpeechEmulator) -> None:
    heard: list[str] = []

    async def failing(kind: str, url: str) -> None:
        heard.append(kind)
        raise RuntimeError("listener bug")

    emulator.state.listeners.append(failing)
    job = await api.create("/transcriptions:submit", api.job())
    dataset = await api.create("/datasets", api.dataset())
    assert (await api.until_done(job))["status"] == "Succeeded"
    assert (await api.until_done(dataset))["status"] == "Succeeded"
    for kind in ("transcription", "dataset"):
        assert f"{kind}Completion" in heard


async def test_an_emulator_failure_fails_the_job(api: Api, emulator: SpeechEmulator) -> None:
    def broken(audio: object) -> str:
        raise RuntimeError("recognizer bug")

    emulator.state.recognizer = ScriptedRecognizer(broken)
    job = await api.until_done(await api.create("/transcriptions:submit", api.job()))
    assert job["status"] == "Failed"
    assert job["properties"]["error"] == {
        "code": "InternalError",
        "message": "RuntimeError: recognizer bug",
    }


@pytest.mark.parametrize("create", ["/transcriptions:submit", "/datasets"])
async def test_files_appear_when_the_entity_ends(
    api: Api, emulator: SpeechEmulator, create: str
) -> None:
    emulator.state.timing = Timing(queue_delay=0.0, run_time=0.3)
    entity = await api.create(create, api.job() if "transcriptions" in create else api.dataset())
    while True:
        _, files = await api.call("GET", entity["links"]["files"])
        _, got = await api.call("GET", entity["self"])  # later: the status can only move on
        if got["status"] in TERMINAL:
            break
        assert files["values"] == [], f"files served while {got['status']}"
        await asyncio.sleep(0.01)
    _, files = await api.call("GET", entity["links"]["files"])
    assert files["values"]
