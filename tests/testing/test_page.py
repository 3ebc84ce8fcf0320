"""The emulator's page over HTTP: what its JSON and event stream say, what they never show
(keys, tokens, SAS signatures, web hook secrets), and that an open page changes nothing the
API's clients and tests observe. (tests/testing/test_page_browser.py drives it in Chromium.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any
from unittest import mock

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request

from speechrest import SpeechClient
from speechrest.testing import Fault, FaultPlan, Quota, Quotas, SpeechEmulator, make_wav
from speechrest.testing._page import bypass
from tests._sink import Sink
from tests.conftest import UNMETERED
from tests.resources.custom_speech import FAST, POLL

pytestmark = pytest.mark.anyio

API = "?api-version=2025-10-15"


async def _get(emulator: SpeechEmulator, path: str, **headers: str) -> tuple[int, Any, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(emulator.endpoint + path, headers=headers) as response,
    ):
        body = await response.read()
        data = json.loads(body) if response.content_type == "application/json" else body
        return response.status, response.headers, data


async def _snapshot(emulator: SpeechEmulator) -> dict[str, Any]:
    status, _, data = await _get(emulator, "/_emulator/api/snapshot")
    assert status == 200
    return data


class Events:
    """The page's event stream, read as the browser reads it."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next(self) -> tuple[str, dict[str, Any]]:
        kind = data = ""
        while True:
            line = (await self.response.content.readline()).decode()
            if not line:
                raise EOFError("the event stream ended")
            if line.startswith("event: "):
                kind = line[7:].strip()
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "\n" and kind:
                return kind, json.loads(data)


@contextlib.asynccontextmanager
async def _events(emulator: SpeechEmulator) -> AsyncIterator[Events]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(emulator.endpoint + "/_emulator/events") as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        yield Events(response)


async def test_the_page_and_its_files_are_served_at_the_root() -> None:
    async with SpeechEmulator() as emulator:
        status, headers, html = await _get(emulator, "/")
        assert status == 200
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert b'<script src="/_emulator/static/page.js"' in html
        assert "script-src" not in headers["Content-Security-Policy"]  # 'self' only
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        for name, kind in (("page.js", "text/javascript"), ("page.css", "text/css")):
            status, headers, _ = await _get(emulator, "/_emulator/static/" + name)
            assert (status, headers["Content-Type"]) == (200, f"{kind}; charset=utf-8")
        for missing in ("/_emulator/static/nope.js", "/_emulator/static/..%2f_page.py"):
            assert (await _get(emulator, missing))[0] == 404
        assert (await _get(emulator, "/_emulator/nothing"))[0] == 404


async def test_over_https_the_page_is_served_too() -> None:
    async with (
        SpeechEmulator(https=True) as emulator,
        aiohttp.ClientSession() as session,
    ):
        assert emulator.endpoint.startswith("https://")
        for path in ("/", "/_emulator/api/snapshot"):
            async with session.get(emulator.endpoint + path, ssl=emulator.ssl_context()) as r:
                assert r.status == 200


async def test_the_api_paths_answer_as_before() -> None:
    async with SpeechEmulator() as emulator:
        key = {"Ocp-Apim-Subscription-Key": emulator.key}
        not_found = {"code": "NotFound", "message": "Not Found"}  # in the service's shape
        status, _, body = await _get(emulator, "/speechtotext/nothing" + API, **key)
        assert (status, body) == (404, not_found)
        status, _, body = await _get(emulator, "/speechtotext/" + API, **key)
        assert (status, body) == (404, not_found)
        status, _, body = await _get(emulator, "/speechtotext/transcriptions" + API)
        assert status == 401
        assert body["error"]["code"] == "401"
        status, _, body = await _get(emulator, "/speechtotext/transcriptions" + API, **key)
        assert (status, body["values"]) == (200, [])
        assert [(r.path, r.status) for r in emulator.requests] == [
            ("/speechtotext/nothing", 404),
            ("/speechtotext/", 404),
            ("/speechtotext/transcriptions", 401),
            ("/speechtotext/transcriptions", 200),
        ]


async def test_an_open_page_changes_nothing_the_api_observes() -> None:
    plan = FaultPlan()
    plan.add(Fault.unavailable(retry_after=0), rate=1.0)  # every request, page or not
    recording = plan.record()
    quotas = Quotas(fast=None, rest=Quota(1, 3600.0))
    async with SpeechEmulator(faults=plan, quotas=quotas) as emulator:
        for path in ("/", "/_emulator/static/page.js", "/_emulator/api/snapshot"):
            assert (await _get(emulator, path))[0] == 200
        async with _events(emulator) as events:
            assert (await events.next())[0] == "snapshot"
        assert (await _get(emulator, "/_emulator/api/requests/1"))[0] == 404
        assert list(emulator.requests) == []
        assert emulator.state.received == 0
        assert plan.total == 0
        assert recording.count == 0
        assert quotas.admitted == {}


async def test_each_request_is_recorded_with_its_answer_and_rule() -> None:
    plan = FaultPlan()
    plan.add(Fault.unavailable(retry_after=0), operation="Transcriptions_List")
    plan.add(Fault.latency(0.01), operation="Projects_List")
    quotas = Quotas(fast=None, rest=Quota(3, 3600.0))
    async with SpeechEmulator(faults=plan, quotas=quotas) as emulator:
        key = {"Ocp-Apim-Subscription-Key": emulator.key}
        answers = []
        for path in ("/transcriptions", "/transcriptions", "/projects", "/datasets"):
            status, headers, _ = await _get(emulator, "/speechtotext" + path + API, **key)
            answers.append((status, headers["apim-request-id"]))
        assert [status for status, _ in answers] == [503, 200, 200, 429]
        records = list(emulator.requests)
        assert [r.seq for r in records] == [1, 2, 3, 4]
        assert [r.request_id for r in records] == [request_id for _, request_id in answers]
        assert [r.status for r in records] == [503, 200, 200, 429]
        assert [r.operation for r in records] == [
            "Transcriptions_List",
            "Transcriptions_List",
            "Projects_List",
            "Datasets_List",
        ]
        assert [r.answered_by for r in records] == [
            "fault http_503",
            None,
            "fault latency",
            "quota rest (3 requests per 3600 seconds)",
        ]
        assert all(r.duration is not None and r.duration >= 0 for r in records)
        assert all(r.time > 0 for r in records)

        snapshot = await _snapshot(emulator)
        assert [r["seq"] for r in snapshot["requests"]] == [4, 3, 2, 1]  # newest first
        assert snapshot["requests"][0]["answeredBy"].startswith("quota rest")
        assert snapshot["quotas"] == {
            "fast": {"limit": None, "admitted": 0, "throttled": 0},
            "rest": {"limit": "3 requests per 3600 seconds", "admitted": 3, "throttled": 1},
        }
        assert snapshot["faults"] == {
            "rules": 2,
            "active": 0,
            "injected": {"http_503": 1, "latency": 1},
        }
        assert snapshot["emulator"]["received"] == 4


async def test_without_quotas_or_faults_the_page_has_no_such_sections() -> None:
    async with SpeechEmulator() as emulator:
        snapshot = await _snapshot(emulator)
        assert snapshot["quotas"] is None
        assert snapshot["faults"] is None
        assert snapshot["requests"] == []
        assert snapshot["emulator"]["endpoint"] == emulator.endpoint


async def test_a_fast_transcription_shows_its_definition_and_no_key() -> None:
    token = "secret-bearer-token"
    async with SpeechEmulator(tokens=[token]) as emulator:
        async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
            await client.transcribe(make_wav(comment="hi"), locales=["en-US"], channels=[0])
        headers = {
            "Authorization": f"Bearer {token}",
            "X-Echo": f"my key is {emulator.key}",
        }
        audio = emulator.serve_bytes(make_wav(), "call.wav")
        sig = audio.split("sig=")[1]
        path = f"/speechtotext/transcriptions{API}&subscription-key={emulator.key}&sig={sig}"
        assert (await _get(emulator, path, **headers))[0] == 200
        assert (await _get(emulator, audio.removeprefix(emulator.endpoint)))[0] == 200

        first = (await _get(emulator, "/_emulator/api/requests/1"))[2]
        assert first["operation"] == "Transcriptions_Transcribe"
        assert first["definition"] == {"locales": ["en-US"], "channels": [0]}
        assert first["headers"]["ocp-apim-subscription-key"] == "REDACTED"
        second = (await _get(emulator, "/_emulator/api/requests/2"))[2]
        assert second["headers"]["authorization"] == "Bearer REDACTED"
        assert second["headers"]["x-echo"] == "my key is REDACTED"
        assert "subscription-key=REDACTED" in second["url"]
        assert "sig=REDACTED" in second["url"]
        assert second["definition"] is None
        third = (await _get(emulator, "/_emulator/api/requests/3"))[2]
        assert third["path"].endswith("/call.wav")
        assert "sig=REDACTED" in third["url"]
        everything = json.dumps([first, second, third, await _snapshot(emulator)])
        for secret in (emulator.key, token, sig):
            assert secret not in everything


async def test_entities_and_web_hook_deliveries_with_their_attempts() -> None:
    failing = Sink()
    failing.status = 500
    async with (
        Sink(secret="hook-secret").running() as sink,
        failing.running(),
        SpeechEmulator(timing=FAST) as emulator,
        SpeechClient(emulator.endpoint, key=emulator.key, rest_quota=UNMETERED) as client,
    ):
        good = await client.webhooks.create(
            sink.url, events=["transcriptionCompletion"], secret="hook-secret"
        )
        await client.webhooks.wait(good, policy=POLL)
        bad = await client.webhooks.create(
            failing.url + "?code=function-key", events=["ping"], display_name="Broken"
        )
        with pytest.raises(Exception, match="challenge"):
            await client.webhooks.wait(bad, policy=POLL)
        audio = emulator.serve_bytes(make_wav(), "call.wav")
        job = await client.transcriptions.submit(
            content_urls=[audio], locale="en-US", display_name="Job"
        )
        await client.transcriptions.wait(job.id, policy=POLL)
        await sink.wait_kind("transcriptionCompletion")
        await client.projects.create(display_name="Project", locale="en-US")

        snapshot = await _snapshot(emulator)
    entities = snapshot["entities"]
    [shown] = entities["transcriptions"]["items"]
    assert (shown["id"], shown["name"], shown["status"]) == (job.id, "Job", "Succeeded")
    assert shown["locale"] == "en-US"
    assert shown["json"]["displayName"] == "Job"
    assert shown["json"]["properties"]["timeToLiveHours"] == 48
    assert entities["projects"]["count"] == 1
    assert entities["datasets"] == {"count": 0, "items": []}
    hooks = {h["id"]: h for h in entities["webhooks"]["items"]}
    ok, broken = hooks[good.id], hooks[bad.id]
    assert ok["status"] == "Succeeded"
    assert ok["events"] == ["transcriptionCompletion"]
    assert ok["json"]["properties"]["secret"] == "REDACTED"
    delivered = ok["deliveries"][0]  # newest first
    assert (delivered["event"], delivered["attempt"], delivered["status"]) == (
        "transcriptionCompletion",
        1,
        200,
    )
    [sent] = [r for r in sink.requests if r.headers.get(EVENT) == "transcriptionCompletion"]
    assert delivered["signature"] == sent.headers[SIGNATURE]
    assert ok["deliveries"][1]["event"] == "challenge"
    assert broken["status"] == "Failed"
    assert "challenge" in broken["error"]
    assert broken["webUrl"].endswith("?code=REDACTED")
    assert [(d["event"], d["attempt"], d["status"]) for d in broken["deliveries"]] == [
        ("challenge", 3, 500),
        ("challenge", 2, 500),
        ("challenge", 1, 500),
    ]
    assert all(d["signature"] is None and d["outcome"] == "HTTP 500" for d in broken["deliveries"])
    assert "hook-secret" not in json.dumps(snapshot)
    assert audio.split("sig=")[1] not in json.dumps(snapshot)
    assert "function-key" not in json.dumps(snapshot)


EVENT = "X-MicrosoftSpeechServices-Event"
SIGNATURE = "X-MicrosoftSpeechServices-Signature"


async def test_only_the_latest_requests_are_kept() -> None:
    async with SpeechEmulator(keep_requests=3) as emulator:
        for _ in range(5):
            await _get(emulator, "/speechtotext/transcriptions" + API)
        assert [r.seq for r in emulator.requests] == [3, 4, 5]
        snapshot = await _snapshot(emulator)
        assert [r["seq"] for r in snapshot["requests"]] == [5, 4, 3]
        assert snapshot["emulator"] | {"endpoint": ""} == {
            "endpoint": "",
            "apiVersion": "2025-10-15",
            "received": 5,
            "kept": 3,
            "keep": 3,
        }
        status, _, body = await _get(emulator, "/_emulator/api/requests/2")
        assert status == 404
        assert "not kept" in body["error"]
        assert (await _get(emulator, "/_emulator/api/requests/3"))[0] == 200
        assert (await _get(emulator, "/_emulator/api/requests/x"))[0] == 404
    with pytest.raises(ValueError, match="keep_requests"):
        SpeechEmulator(keep_requests=0)
    with pytest.raises(TypeError, match="keep_requests"):
        SpeechEmulator(keep_requests=True)


async def test_events_send_new_requests_then_their_answers() -> None:
    plan = FaultPlan()
    plan.add(Fault.latency(3600), operation="Projects_List")  # until the client hangs up
    async with SpeechEmulator(faults=plan) as emulator:
        await _get(emulator, "/speechtotext/transcriptions" + API)
        async with _events(emulator) as events:
            kind, snapshot = await events.next()
            assert kind == "snapshot"
            assert [r["seq"] for r in snapshot["requests"]] == [1]
            assert snapshot["entities"]["transcriptions"]["count"] == 0

            slow = asyncio.ensure_future(_get(emulator, "/speechtotext/projects" + API))
            kind, update = await events.next()
            assert kind == "update"
            assert [(r["seq"], r["status"]) for r in update["requests"]] == [(2, None)]
            assert update["emulator"]["received"] == 2
            slow.cancel()  # the client hangs up: the emulator stops waiting and answers
            kind, update = await events.next()
            [answered] = update["requests"]
            assert answered["seq"] == 2
            assert answered["status"] is not None
            assert "entities" not in update  # nothing else changed


async def test_stopping_the_emulator_ends_open_event_streams() -> None:
    emulator = SpeechEmulator()
    await emulator.start()
    try:
        async with _events(emulator) as events:
            assert (await events.next())[0] == "snapshot"
            await emulator.stop()
            with pytest.raises((EOFError, aiohttp.ClientPayloadError)):
                while True:
                    await events.next()
    finally:
        await emulator.stop()


async def test_the_page_is_for_loopback_clients_only() -> None:
    async def api(request: Any) -> Any:
        raise AssertionError("not reached")

    cases = [
        ("192.0.2.7", 403),
        ("::ffff:192.0.2.7", 403),
        ("2001:db8::7", 403),
        ("127.0.0.1", 200),
        ("127.0.0.2", 200),
        ("::1", 200),
        ("::ffff:127.0.0.1", 200),
    ]
    for remote, expected in cases:
        transport = mock.Mock()
        transport.get_extra_info.return_value = (remote, 1)
        request = make_mocked_request("GET", "/_emulator/api/snapshot", transport=transport)
        assert request.remote == remote
        reached = mock.AsyncMock(return_value=mock.sentinel.page)
        request.match_info.route.handler = reached
        if expected == 403:
            response = await bypass(request, api)
            assert response.status == 403
            assert "loopback" in response.text
            reached.assert_not_called()
        else:
            assert await bypass(request, api) is mock.sentinel.page
