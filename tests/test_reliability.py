"""Retries under injected faults: complete uploads, no duplicates, bounded loops."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import traceback
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from aiohttp import web

from speechrest import SpeechClient
from speechrest.errors import (
    APIConnectionError,
    InternalServerError,
    NotReplayableError,
    RateLimitError,
)
from speechrest.testing import Fault, FaultPlan, ScriptedRecognizer, SpeechEmulator, make_wav
from speechrest.testing._operations import OPERATIONS

pytestmark = pytest.mark.anyio

TRANSCRIBE = "/speechtotext/transcriptions:transcribe"

TRANSIENT = [
    Fault.throttled(retry_after=0),
    Fault.unavailable(retry_after=None, retry_after_ms=5),
    Fault.server_error(),
    Fault.server_error(504),
    Fault.gateway_error(502),
    Fault.reset_during_upload(after_bytes=100_000),
    Fault.reset_during_response(),
    Fault.stall(),
    Fault.latency(0.05),
]


def quick(client: SpeechClient, **config: Any) -> SpeechClient:
    """A view of the client with a short backoff, so that retry tests run in milliseconds."""
    return client.with_options(**{"backoff_base": 0.01, **config})


class Hashing:
    """A recognizer that records what the service received and says its SHA-256."""

    def __init__(self) -> None:
        self.received: list[tuple[int, str]] = []

    def __call__(self, audio: Any) -> str:
        digest = hashlib.sha256(audio.path.read_bytes()).hexdigest()
        self.received.append((audio.size, digest))
        return digest


def attempts(emulator: SpeechEmulator, path: str = TRANSCRIBE) -> int:
    return sum(1 for r in emulator.requests if r.path == path)


@pytest.fixture
async def hashing() -> AsyncIterator[tuple[SpeechEmulator, Hashing]]:
    recognizer = Hashing()
    async with SpeechEmulator(recognizer=ScriptedRecognizer(recognizer)) as emulator:
        yield emulator, recognizer


@pytest.fixture(scope="module")
def big_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "big.wav"
    path.write_bytes(make_wav(seconds=50, comment="big"))  # 1.6 MB: streamed in chunks
    return path


def _source(path: Path, kind: str) -> Any:
    if kind == "path":
        return path
    if kind == "bytes":
        return path.read_bytes()
    if kind == "file":
        return open(path, "rb")
    offset = io.BytesIO(b"junk" + path.read_bytes())
    offset.seek(4)  # a file object is rewound to where it was, not to 0
    return offset


@pytest.mark.parametrize("kind", ["path", "bytes", "file", "file@offset"])
async def test_every_transient_fault_is_retried_and_the_upload_is_complete(
    hashing, big_wav: Path, kind: str
) -> None:
    emulator, recognizer = hashing
    for fault in TRANSIENT:
        emulator.faults.add(fault, operation="Transcriptions_Transcribe")
    expected = hashlib.sha256(big_wav.read_bytes()).hexdigest()
    async with SpeechClient(emulator.endpoint, key=emulator.key, read_timeout=0.2) as client:
        client = quick(client, max_retries=len(TRANSIENT))
        for _ in TRANSIENT:  # each call meets one fault, then succeeds
            source = _source(big_wav, kind)
            result = await client.transcribe(source)
            assert result.text == expected
            if hasattr(source, "close"):
                source.close()
    # Every fault fired once; every upload the service processed had every byte (one more
    # than the calls: reset_during_response lost the answer of a processed upload).
    assert emulator.faults.total == len(TRANSIENT)
    assert {n: c for n, c in emulator.faults.injected.items() if c != 1} == {}
    assert recognizer.received == [(big_wav.stat().st_size, expected)] * (len(TRANSIENT) + 1)


async def test_retries_keep_the_request_id_and_count_attempts(emulator, sample_wav) -> None:
    emulator.faults.add(Fault.unavailable(retry_after=0), times=2)
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        await client.transcribe(sample_wav)
    seen = [r.headers for r in emulator.requests if r.path == TRANSCRIBE]
    assert len(seen) == 3
    assert len({h["x-ms-client-request-id"] for h in seen}) == 1
    assert [h.get("x-ms-retry-count") for h in seen] == [None, "1", "2"]


async def test_retry_after_ms_wins_over_retry_after(emulator, sample_wav) -> None:
    # Retry-After says 1000 s (over the cap); retry-after-ms says 1 ms: that one counts.
    emulator.faults.add(Fault.throttled(retry_after=1000, retry_after_ms=1))
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        result = await client.transcribe(sample_wav)
    assert result.text
    assert attempts(emulator) == 2


async def _one_shot(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), 64 * 1024):
        yield data[i : i + 64 * 1024]


@pytest.mark.parametrize("kind", ["async iterable", "pipe"])
async def test_a_one_shot_source_is_not_retried_after_a_broken_upload(
    emulator, big_wav: Path, kind: str
) -> None:
    data = big_wav.read_bytes()
    emulator.faults.add(Fault.reset_during_upload(after_bytes=100_000))
    async with (
        SpeechClient(emulator.endpoint, key=emulator.key) as client,
        anyio.create_task_group() as tg,
    ):
        client = quick(client)
        if kind == "pipe":
            read_fd, write_fd = os.pipe()
            source: Any = open(read_fd, "rb")  # noqa: SIM115 - closed below
            tg.start_soon(anyio.to_thread.run_sync, _write_all, write_fd, data)
        else:
            source = _one_shot(data)
        try:
            with pytest.raises(NotReplayableError) as caught:
                await client.transcribe(source)
        finally:
            if kind == "pipe":
                source.close()  # the writer gets EPIPE and stops
    assert "one-shot" in str(caught.value)
    assert "Connection reset" in str(caught.value) or "failed during" in str(caught.value)
    assert attempts(emulator) == 1


def _write_all(fd: int, data: bytes) -> None:
    try:
        with open(fd, "wb") as f:
            f.write(data)
    except BrokenPipeError:
        pass


async def test_a_one_shot_source_is_not_retried_after_503_and_the_error_says_why(
    emulator, sample_wav
) -> None:
    emulator.faults.add(Fault.unavailable(retry_after=0))
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        with pytest.raises(InternalServerError) as caught:
            await client.transcribe(_one_shot(sample_wav.read_bytes()))
    assert caught.value.status == 503
    assert "one-shot" in "".join(traceback.format_exception(caught.value))
    assert attempts(emulator) == 1


# -- bounded retry loops --------------------------------------------------------------------


@pytest.mark.parametrize("retry_after", [None, 10**6])
async def test_quota_exhausted_is_surfaced_not_retried(emulator, sample_wav, retry_after) -> None:
    emulator.faults.add(Fault.quota_exhausted(retry_after=retry_after), times=None)
    async with SpeechClient(emulator.endpoint, key=emulator.key, max_retries=10) as client:
        with pytest.raises(RateLimitError, match="quota") as caught:
            await client.transcribe(sample_wav)
    assert caught.value.status == 429
    assert attempts(emulator) == 1


async def test_retry_after_over_the_cap_is_surfaced(emulator, sample_wav) -> None:
    emulator.faults.add(Fault.throttled(retry_after=30))
    async with SpeechClient(emulator.endpoint, key=emulator.key, max_retry_after=5) as client:
        with pytest.raises(RateLimitError) as caught:
            await client.transcribe(sample_wav)
    assert caught.value.retry_after == 30
    assert attempts(emulator) == 1


@pytest.mark.parametrize("fault", [Fault.server_error(), Fault.reset_during_response()])
async def test_retries_are_bounded_in_count(emulator, sample_wav, fault) -> None:
    emulator.faults.add(fault, times=None)
    async with SpeechClient(emulator.endpoint, key=emulator.key, max_retries=4) as client:
        client = quick(client)
        with pytest.raises((InternalServerError, APIConnectionError)):
            await client.transcribe(sample_wav)
    assert attempts(emulator) == 5


async def test_retries_are_bounded_in_total_time(emulator, sample_wav) -> None:
    # Each 503 asks for 0.2 s; at most 0.5 s of sleeping is allowed: 0.2 + 0.2, then give up.
    emulator.faults.add(Fault.unavailable(retry_after=0.2), times=None)
    async with SpeechClient(
        emulator.endpoint, key=emulator.key, max_retries=100, max_retry_time=0.5
    ) as client:
        with pytest.raises(InternalServerError):
            await client.transcribe(sample_wav)
    assert attempts(emulator) == 3


async def test_a_throttled_call_waits_its_turn_until_the_callers_deadline(
    emulator, sample_wav
) -> None:
    """429s are retried past max_retries and max_retry_time: only the caller's deadline
    (or a Retry-After longer than max_retry_after) ends the wait."""
    throttle = emulator.faults.add(Fault.throttled(retry_after=0.01), times=8)
    async with SpeechClient(
        emulator.endpoint, key=emulator.key, max_retries=1, max_retry_time=0.01
    ) as client:
        result = await client.transcribe(sample_wav)
        assert result.text and throttle.injected == 8
        stats = client.stats().fast
        assert (stats.throttled, stats.retried, stats.requests) == (8, 8, 9)
        emulator.faults.add(Fault.throttled(retry_after=0.01), times=None)
        with pytest.raises(TimeoutError), anyio.fail_after(0.5):
            await client.transcribe(sample_wav)
        assert client.stats().fast.in_flight == 0


async def test_random_faults_every_input_gets_its_transcript(wav_file) -> None:
    plan = FaultPlan(seed=1234)
    for fault in (Fault.unavailable(retry_after=0), Fault.reset_during_response()):
        plan.add(fault, operation="Transcriptions_Transcribe", rate=0.15)
    paths = [wav_file(f"{i}.wav", text=f"Sentence number {i}.") for i in range(60)]
    async with (
        SpeechEmulator(faults=plan) as emulator,
        SpeechClient(emulator.endpoint, key=emulator.key, max_retries=8) as client,
    ):
        client = quick(client)
        async with client.transcribe_many(paths, concurrency=8) as stream:
            outcomes = [o async for o in stream]
    assert sorted(o.index for o in outcomes) == list(range(60))
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    assert {o.result.text for o in outcomes if o.result} == {
        f"Sentence number {i}." for i in range(60)
    }
    assert plan.total > 5
    assert attempts(emulator) == 60 + plan.total


# -- creating requests are never duplicated -------------------------------------------------


class Creator:
    """A tiny service with one creating operation (at the path of Transcriptions_Submit)."""

    def __init__(self, plan: FaultPlan) -> None:
        self.created: list[str] = []
        self.app = web.Application(middlewares=[plan.middleware])
        self.app.router.add_post("/speechtotext/transcriptions:submit", self.create)

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.created.append(body["displayName"])
        return web.json_response({"self": f"x/{len(self.created)}"}, status=201)

    async def serve(self, port: int = 0) -> tuple[web.AppRunner, int]:
        runner = web.AppRunner(self.app, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


async def _create(client: SpeechClient) -> Any:
    return await client.transcriptions._api.request(
        "POST",
        "/transcriptions:submit",
        operation="Transcriptions_Submit",
        json={"displayName": "job"},
        creates=True,
    )


@pytest.mark.parametrize(
    ("fault", "retried", "created"),
    [
        (Fault.reset_during_response(), False, 1),  # created; only the answer was lost
        (Fault.reset_during_upload(after_bytes=1), False, 0),  # it may have arrived
        (Fault.stall(), False, 0),  # it may be processing
        (Fault.server_error(), False, 0),  # a 5xx may come after the entity was created
        (Fault.unavailable(retry_after=None), False, 0),  # 503 without Retry-After
        (Fault.throttled(retry_after=0), True, 1),  # the service said: not done, retry
        (Fault.unavailable(retry_after=0), True, 1),
    ],
)
async def test_a_creating_post_is_never_duplicated(
    fault: Fault, retried: bool, created: int
) -> None:
    plan = FaultPlan()
    plan.add(fault, operation="Transcriptions_Submit")
    creator = Creator(plan)
    runner, port = await creator.serve()
    try:
        async with SpeechClient(f"http://127.0.0.1:{port}", key="k", read_timeout=0.3) as c:
            c = quick(c)
            if retried:
                response = await _create(c)
                assert response.status == 201
            else:
                with pytest.raises((APIConnectionError, InternalServerError)):
                    await _create(c)
    finally:
        await runner.cleanup()
    assert plan.total == 1
    assert len(creator.created) == created


async def test_a_creating_post_is_retried_when_the_connection_was_refused() -> None:
    """A refused connection provably did not reach the service: retrying is safe."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    creator = Creator(FaultPlan())
    async with SpeechClient(f"http://127.0.0.1:{port}", key="k") as client:
        client = quick(client, backoff_base=0.4)  # the first retry comes after 0.2-0.4 s

        async def late_start() -> None:
            await anyio.sleep(0.05)
            runner, _ = await creator.serve(port)
            runners.append(runner)

        runners: list[web.AppRunner] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(late_start)
            response = await _create(client)
        await runners[0].cleanup()
    assert response.status == 201
    assert creator.created == ["job"]


CREATORS = {
    "Transcriptions_Submit": (
        lambda c: c.transcriptions.submit(content_urls=["https://a.example/a.wav"], locale="en-US"),
        lambda c: c.transcriptions.list(),
    ),
    "Projects_Create": (
        lambda c: c.projects.create(display_name="p", locale="en-US"),
        lambda c: c.projects.list(),
    ),
    "Datasets_Create": (
        lambda c: c.datasets.create(
            display_name="d", locale="en-US", kind="Language", content_url="https://a.example/d"
        ),
        lambda c: c.datasets.list(),
    ),
}


@pytest.mark.parametrize("operation", list(CREATORS))
@pytest.mark.parametrize(
    ("fault", "retried"),
    [(Fault.reset_during_response(), False), (Fault.throttled(retry_after=0), True)],
    ids=["reset mid-response", "429 with Retry-After"],
)
async def test_the_service_holds_exactly_one_entity_after_a_faulted_create(
    emulator: SpeechEmulator, operation: str, fault: Fault, retried: bool
) -> None:
    create, listing = CREATORS[operation]
    emulator.faults.add(fault, operation=operation)
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        client = quick(client)
        if retried:
            await create(client)
        else:
            with pytest.raises(APIConnectionError):
                await create(client)
        assert len([e async for e in listing(client)]) == 1
    path = "/speechtotext" + OPERATIONS[operation][1]
    posts = [r for r in emulator.requests if r.method == "POST" and r.path == path]
    assert len(posts) == (2 if retried else 1)
