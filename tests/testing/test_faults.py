"""The emulator's fault plan: matching, counting, seeding, custom responses, recordings; the
operation table."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import anyio
import pytest

from speechrest import SpeechClient
from speechrest.testing import Fault, FaultPlan, SpeechEmulator
from speechrest.testing._operations import OPERATIONS, operation_of
from tests.conftest import spec_dir

pytestmark = pytest.mark.anyio


def test_the_operation_table_matches_the_spec() -> None:
    spec = json.loads((spec_dir() / "speechtotext-2025-10-15.json").read_text())
    expected = {
        op["operationId"]: (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if isinstance(op, dict) and "operationId" in op
    }
    assert expected == OPERATIONS


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("GET", "/speechtotext/models/base", "Models_ListBaseModels"),
        ("GET", "/speechtotext/models/base/abc", "Models_GetBaseModel"),
        ("GET", "/speechtotext/models/abc", "Models_GetCustomModel"),
        ("GET", "/speechtotext/transcriptions/locales", "Transcriptions_ListSupportedLocales"),
        ("GET", "/speechtotext/transcriptions/abc", "Transcriptions_Get"),
        ("POST", "/speechtotext/transcriptions:submit", "Transcriptions_Submit"),
        ("POST", "/speechtotext/models/abc:copy", "Models_Copy"),
        ("PUT", "/speechtotext/datasets/abc/blocks", "Datasets_UploadBlock"),
        ("GET", "/blobs/x/contenturl_0.json", None),
        ("DELETE", "/speechtotext/transcriptions:submit", None),
    ],
)
def test_operation_of(method: str, path: str, operation: str | None) -> None:
    assert operation_of(method, path) == operation


def test_add_checks_its_arguments() -> None:
    plan = FaultPlan()
    with pytest.raises(ValueError, match="operationId"):
        plan.add(Fault.server_error(), operation="Transcriptions_Nope")
    with pytest.raises(ValueError, match="rate"):
        plan.add(Fault.server_error(), rate=1.5)


async def statuses(emulator: SpeechEmulator, *requests: tuple[str, str]) -> list[int]:
    """The statuses of raw requests (no key: an unfaulted request gets 401)."""
    out = []
    async with aiohttp.ClientSession() as session:
        for method, path in requests:
            async with session.request(method, emulator.endpoint + path) as resp:
                out.append(resp.status)
    return out


async def test_rules_fire_in_order_for_their_count_after_skipping() -> None:
    plan = FaultPlan()
    first = plan.add(Fault.server_error(), operation="Transcriptions_Get", skip=1, times=2)
    second = plan.add(Fault.throttled(), method="get", path=r"/transcriptions/")
    get = ("GET", "/speechtotext/transcriptions/abc")
    async with SpeechEmulator(faults=plan) as emulator:
        assert await statuses(emulator, *[get] * 5) == [
            429,  # skipped by the first rule, so the second one fires (once)
            500,
            500,
            401,  # both rules are used up: the emulator answers
            401,
        ]
        assert await statuses(emulator, ("POST", "/speechtotext/transcriptions:submit")) == [401]
    assert (first.seen, first.injected, first.exhausted) == (3, 2, True)
    assert (second.seen, second.injected) == (1, 1)
    assert plan.injected == {"http_500": 2, "http_429": 1} and plan.total == 3
    plan.clear()
    assert plan.rules == [] and plan.total == 3


async def test_random_faults_are_reproducible_with_a_seed() -> None:
    async def run(seed: int) -> list[bool]:
        plan = FaultPlan(seed=seed)
        plan.add(Fault.unavailable(), rate=0.3)
        async with SpeechEmulator(faults=plan) as emulator:
            got = await statuses(emulator, *[("GET", "/speechtotext/models/base")] * 100)
        return [status == 503 for status in got]

    first = await run(1)
    assert first == await run(1)
    assert first != await run(2)
    assert 10 < sum(first) < 50


async def test_a_rule_can_match_query_parameters() -> None:
    plan = FaultPlan()
    rule = plan.add(Fault.server_error(), query={"blockid": "b2"}, times=None)
    blocks = "/speechtotext/datasets/x/blocks?blockid="
    async with SpeechEmulator(faults=plan) as emulator:
        got = await statuses(emulator, *[("PUT", blocks + b) for b in ("b1", "b2", "b3", "b2")])
        assert await statuses(emulator, ("PUT", "/speechtotext/datasets/x/blocks")) == [401]
    assert got == [401, 500, 401, 500]
    assert rule.injected == 2


async def test_respond_sends_exactly_the_given_response() -> None:
    plan = FaultPlan()
    plan.add(
        Fault.respond(
            502, "<html>Bad gateway</html>", content_type="text/html", headers={"X-A": "1"}
        )
    )
    plan.add(Fault.respond(200, b"\x00\x01", headers={"content-type": "application/x-thing"}))
    plan.add(Fault.http_status(403, code="Forbidden", inner_code="QuotaViolation", gateway=True))
    plan.add(Fault.replace_json({"values": []}, 200, headers={"Retry-After": "7"}))
    url = "/speechtotext/transcriptions?api-version=2025-10-15"
    async with SpeechEmulator(faults=plan) as emulator, aiohttp.ClientSession() as session:
        async with session.get(emulator.endpoint + url) as resp:
            assert (resp.status, resp.content_type) == (502, "text/html")
            assert (await resp.text(), resp.headers["X-A"]) == ("<html>Bad gateway</html>", "1")
        async with session.get(emulator.endpoint + url) as resp:
            assert resp.headers.getall("Content-Type") == ["application/x-thing"]
            assert await resp.read() == b"\x00\x01"
        async with session.get(emulator.endpoint + url) as resp:
            assert resp.status == 403
            assert await resp.json() == {
                "error": {
                    "code": "Forbidden",
                    "message": "Injected HTTP 403.",
                    "innerError": {"code": "QuotaViolation"},
                }
            }
        async with session.get(emulator.endpoint + url) as resp:
            assert (resp.status, resp.headers["Retry-After"]) == (200, "7")
            assert await resp.json() == {"values": []}
    assert plan.injected == {"http_502": 1, "http_200": 1, "http_403": 1, "replaced": 1}


async def test_a_recording_keeps_requests_with_their_bodies(wav_file) -> None:
    plan = FaultPlan()
    projects = plan.record(path=r"/projects")
    every = plan.record(keep=2)
    plan.add(Fault.unavailable(retry_after=0), operation="Projects_Update")
    async with (
        SpeechEmulator(faults=plan) as emulator,
        SpeechClient(emulator.endpoint, key=emulator.key) as client,
    ):
        project = await client.projects.create(display_name="p", locale="en-US")
        await client.projects.update(project, description="d")  # a 503, then the retry
        assert (await client.projects.get(project)).description == "d"
        await client.transcribe(wav_file())
    create, failed, retried, got = projects.requests
    assert (create.method, create.path, create.content_type) == (
        "POST",
        "/speechtotext/projects",
        "application/json",
    )
    assert create.json()["displayName"] == "p"  # and the emulator read the same body
    assert create.query == {"api-version": "2025-10-15"} and create.fault is None
    assert failed.fault == "http_503" and retried.fault is None
    assert failed.content_type == retried.content_type == "application/merge-patch+json"
    assert failed.json() == retried.json() == {"description": "d"}
    assert (got.method, got.body) == ("GET", b"")
    assert projects.count == 4 and projects.in_flight == 0
    # every request counted; only the last two kept; an audio upload's body is not kept
    assert every.count == len(emulator.requests) == 5 and len(every.requests) == 2
    upload = every.requests[-1]
    assert upload.path.endswith(":transcribe") and upload.body is None
    with pytest.raises(ValueError, match="multipart/form-data request is not kept"):
        upload.json()
    every.clear()
    assert (every.count, list(every.requests)) == (0, [])


async def test_a_recording_counts_requests_in_flight(wav_file) -> None:
    plan = FaultPlan()
    plan.add(Fault.latency(0.05), times=None)
    calls = plan.record(operation="Transcriptions_Transcribe")
    path = wav_file()
    async with (
        SpeechEmulator(faults=plan) as emulator,
        SpeechClient(emulator.endpoint, key=emulator.key) as client,
    ):
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(client.transcribe, path)
        assert calls.in_flight == 0
        assert calls.max_in_flight == 3 and calls.count == 3
        await client.transcribe(path)
    assert calls.max_in_flight == 3 and calls.count == 4
    assert [r.fault for r in calls.requests] == ["latency"] * 4


async def test_a_faulted_upload_is_recorded_without_its_body() -> None:
    plan = FaultPlan()
    calls = plan.record(method="POST")
    plan.add(Fault.reset_during_upload(after_bytes=10), method="POST")
    async with SpeechEmulator(faults=plan) as emulator, aiohttp.ClientSession() as session:
        url = emulator.endpoint + "/speechtotext/projects"
        with pytest.raises(aiohttp.ClientError):
            async with session.post(url, json={"displayName": "x" * 100_000}):
                pass
        async with session.post(url, json={"displayName": "y"}) as resp:
            assert resp.status == 401
    assert [(r.fault, r.body) for r in calls.requests] == [
        ("reset_upload", None),
        (None, b'{"displayName": "y"}'),
    ]


def test_record_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="operationId"):
        FaultPlan().record(operation="Transcriptions_Nope")


def test_fault_names() -> None:
    assert Fault.unavailable().name == "http_503"
    assert Fault.gateway_error().name == "http_502"
    assert Fault.quota_exhausted().name == "quota_exhausted"
    assert Fault.reset_during_upload().name == "reset_upload"
    assert Fault.stall().name == "stall"
    assert Fault.throttled(retry_after=2, retry_after_ms=1500).headers == {
        "Retry-After": "2",
        "retry-after-ms": "1500",
    }


async def test_faults_over_raw_http_and_at_runtime() -> None:
    """The plan works for any HTTP client, before authentication, and can change live."""
    async with SpeechEmulator() as emulator, aiohttp.ClientSession() as session:
        url = emulator.endpoint + "/speechtotext/transcriptions?api-version=2025-10-15"
        emulator.faults.add(Fault.quota_exhausted(retry_after=86400))
        async with session.get(url) as resp:  # no key: the fault comes first
            assert resp.status == 429 and resp.headers["Retry-After"] == "86400"
            body = await resp.json()
            assert "quota" in body["error"]["message"]
        emulator.faults.add(Fault.gateway_error(503, "Upstream is down."))
        async with session.get(url) as resp:
            assert resp.status == 503
            assert await resp.json() == {"error": {"code": "503", "message": "Upstream is down."}}
        async with session.get(url) as resp:
            assert resp.status == 401  # the plan is used up: the real service answers
        assert emulator.faults.total == 2
        assert [r.path for r in emulator.requests] == ["/speechtotext/transcriptions"] * 3


async def test_a_client_giving_up_on_a_stalled_upload_is_no_server_error(caplog) -> None:
    plan = FaultPlan()
    plan.add(Fault.stall())  # reads the whole body first: it never ends
    calls = plan.record()

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"x" * 1024
            await anyio.sleep(0.01)

    async with SpeechEmulator(faults=plan) as emulator, aiohttp.ClientSession() as session:

        async def upload() -> None:
            url = emulator.endpoint + "/speechtotext/datasets/x/blocks"
            async with session.put(url, data=endless()):
                pass

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(upload)
                while plan.total < 1:
                    await anyio.sleep(0.01)
                tg.cancel_scope.cancel()  # the client gives up and hangs up
            while calls.in_flight:
                await anyio.sleep(0.01)
    assert [r.fault for r in calls.requests] == ["stall"]
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []
