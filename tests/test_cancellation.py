"""Cancellation at any point leaves no task, open file or busy connection behind, and the
client stays usable."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from speechrest import PollPolicy, SpeechClient
from speechrest.testing import Fault, SpeechEmulator, Timing, make_wav
from tests.audio_server import AudioServer, audio_server  # noqa: F401 - fixture
from tests.test_timeouts import SlowFile

pytestmark = pytest.mark.anyio

SLOW = Timing(queue_delay=0.05, run_time=3600, retry_after=0)
POLICY = PollPolicy(initial_interval=0.02, min_interval=0.02, max_interval=0.05)


def open_fds(path: Path) -> list[int]:
    """This process's file descriptors open on ``path``."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}") == str(path):
                found.append(int(name))
        except OSError:
            pass
    return found


@pytest.fixture(autouse=True)
def _needs_proc() -> None:
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd to count open files")


async def until(condition: Callable[[], bool]) -> None:
    with anyio.fail_after(10):
        while not condition():
            await anyio.sleep(0.005)


def calls(emulator: SpeechEmulator, suffix: str) -> int:
    return sum(1 for r in emulator.requests if r.path.endswith(suffix))


def _server_side(task: asyncio.Task[Any]) -> bool:
    # The emulator's connection handlers (idle keep-alive connections included).
    return getattr(task.get_coro(), "__qualname__", "").startswith("RequestHandler.")


def _finalizer(task: asyncio.Task[Any]) -> bool:
    # asyncio closing an async generator that nobody closed, once it was garbage-collected:
    # cleanup that happens by chance, not cleanup the call did.
    return type(task.get_coro()).__name__ == "async_generator_athrow"


class Leaks:
    """Client-side tasks that exist now are the baseline; later ones must all end, and then
    no connection may be busy and no file open."""

    def __init__(self) -> None:
        self.baseline = asyncio.all_tasks()

    def _new(self) -> set[asyncio.Task[Any]]:
        tasks = asyncio.all_tasks() - self.baseline - {asyncio.current_task()}
        return {t for t in tasks if not _server_side(t) and not _finalizer(t)}

    async def check(self, client: SpeechClient, *files: Path) -> None:
        # A leaked task never ends: the bound only says how long to wait before failing.
        with anyio.move_on_after(10):
            while self._new():
                await anyio.sleep(0.01)
        left = self._new()
        assert not left, [t.get_coro() for t in left]
        assert client.stats().connections_in_use == 0
        for f in files:
            # Closed by the call itself, not later by a worker thread or by garbage collection.
            assert open_fds(f) == [], f"{f.name} is still open after the call ended"


async def cancel_when(
    work: Callable[[], Any], ready: Callable[[], bool], settle: float = 0.05
) -> list[Any]:
    """Run ``work`` and cancel it once ``ready()``; return what it produced (if anything)."""
    out: list[Any] = []

    async def run() -> None:
        out.append(await work())

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await until(ready)
        await anyio.sleep(settle)
        tg.cancel_scope.cancel()
    return out


@pytest.fixture(scope="module")
def big_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cancel") / "big.wav"
    path.write_bytes(make_wav(seconds=100, comment="Big file."))  # 3.2 MB: opened and streamed
    return path


@pytest.fixture
def full_backlog() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = [socket.socket() for _ in range(3)]
    for s in fillers:
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
    yield port
    for s in [*fillers, server]:
        s.close()


# -- transcribe -----------------------------------------------------------------------------

POINTS: dict[str, Fault | None] = {
    "waiting for the response": Fault.latency(60),
    "mid-upload": Fault.stall(after_bytes=64 * 1024),
    # (the client's fast family then pauses as long: the next call waits for it)
    "sleeping before a retry": Fault.throttled(retry_after=2),
    "reading the response": Fault.stall(),
}


@pytest.mark.parametrize("point", list(POINTS))
async def test_cancel_transcribe(emulator: SpeechEmulator, big_wav: Path, point: str) -> None:
    emulator.faults.add(POINTS[point], operation="Transcriptions_Transcribe")
    leaks = Leaks()
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        out = await cancel_when(
            lambda: client.transcribe(big_wav),
            lambda: emulator.faults.total == 1,
            settle=0.2 if point == "mid-upload" else 0.05,
        )
        assert out == []
        await leaks.check(client, big_wav)
        emulator.faults.clear()
        assert (await client.transcribe(big_wav)).text == "Big file."


async def test_cancel_while_reading_a_slow_source(emulator: SpeechEmulator) -> None:
    source = SlowFile(make_wav(seconds=160, comment="Slow."), delay=0.05)  # 5 chunks
    leaks = Leaks()
    progress: list[int] = []
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        out = await cancel_when(
            lambda: client.transcribe(source, on_progress=progress.append),
            lambda: len(progress) >= 2,
        )
        assert out == []
        await leaks.check(client)
        # (The cancelled call consumed part of that file object: send a fresh one.)
        fresh = SlowFile(make_wav(seconds=40, comment="Slow."), delay=0)
        assert (await client.transcribe(fresh)).text == "Slow."


async def test_cancel_while_connecting(full_backlog: int, big_wav: Path) -> None:
    leaks = Leaks()
    async with SpeechClient(f"http://127.0.0.1:{full_backlog}", key="k") as client:
        with anyio.move_on_after(0.2) as scope:
            await client.transcribe(big_wav)
        assert scope.cancelled_caught
        await leaks.check(client, big_wav)


# -- transcribe_many ------------------------------------------------------------------------


@pytest.fixture
def paths(tmp_path: Path, big_wav: Path) -> list[Path]:
    out = []
    for i in range(12):
        p = tmp_path / f"{i}.wav"
        os.link(big_wav, p) if i % 2 else p.write_bytes(make_wav(comment=f"File {i}."))
        out.append(p)
    return out


@pytest.mark.parametrize("how", ["async with + break", "outer cancel"])
async def test_leaving_transcribe_many_early(
    emulator: SpeechEmulator, paths: list[Path], how: str
) -> None:
    # The first request is answered; the rest stall mid-upload or wait forever.
    emulator.faults.add(Fault.stall(after_bytes=64 * 1024), times=None, skip=1)
    leaks = Leaks()
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        got = []
        if how == "async with + break":
            async with client.transcribe_many(paths, concurrency=4) as stream:
                async for outcome in stream:
                    got.append(outcome)
                    break
        else:
            with anyio.move_on_after(5) as scope:
                async with client.transcribe_many(paths, concurrency=4) as stream:
                    async for outcome in stream:
                        got.append(outcome)
                        await until(lambda: emulator.faults.total >= 3)
                        scope.cancel()
            assert scope.cancelled_caught
        assert len(got) == 1 and got[0].ok
        await leaks.check(client, *paths)
        emulator.faults.clear()
        async with client.transcribe_many(paths[:4], concurrency=4) as stream:
            outcomes = [o async for o in stream]
        assert all(o.ok for o in outcomes)


# -- batch waits ----------------------------------------------------------------------------


@pytest.fixture
async def slow_jobs(audio_server: AudioServer) -> AsyncIterator[tuple[SpeechEmulator, list[str]]]:  # noqa: F811
    url = audio_server.add("audio/a.wav", make_wav(comment="Hello."))
    async with (
        SpeechEmulator(timing=SLOW) as emulator,
        SpeechClient(emulator.endpoint, key=emulator.key) as client,
    ):
        jobs = [
            await client.transcriptions.submit(content_urls=[url], locale="en-US") for _ in range(4)
        ]
        yield emulator, [job.id for job in jobs]


@pytest.mark.parametrize("during", ["sleep between polls", "a stalled poll"])
async def test_cancel_wait(slow_jobs, during: str) -> None:
    emulator, ids = slow_jobs
    if during == "a stalled poll":
        emulator.faults.add(Fault.stall(), operation="Transcriptions_Get", skip=2)
    leaks = Leaks()
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        out = await cancel_when(
            lambda: client.transcriptions.wait(ids[0], policy=POLICY),
            lambda: calls(emulator, ids[0]) >= 3,
        )
        assert out == []
        await leaks.check(client)
        emulator.faults.clear()
        assert (await client.transcriptions.get(ids[0])).id == ids[0]


@pytest.mark.parametrize(
    "how", ["async with + break", "outer cancel of async with", "outer cancel of a bare loop"]
)
async def test_cancel_wait_many(slow_jobs, audio_server: AudioServer, how: str) -> None:  # noqa: F811
    emulator, ids = slow_jobs
    leaks = Leaks()
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        # One job that ends at once (it does not exist), so that there is an outcome. The
        # jobs are waited on by list sweeps: the third one stalls.
        gone = "00000000-0000-0000-0000-000000000000"
        emulator.faults.add(Fault.stall(), operation="Transcriptions_List", skip=2, times=None)
        got = []
        if how == "async with + break":
            async with client.transcriptions.wait_many([gone, *ids], policy=POLICY) as stream:
                async for outcome in stream:
                    got.append(outcome)
                    break
            assert got[0].id == gone and not got[0].ok
        else:

            async def consume() -> None:
                stream = client.transcriptions.wait_many(ids, policy=POLICY)
                async with stream:
                    async for _ in stream:
                        pass

            sweeps = lambda: calls(emulator, "/transcriptions")  # noqa: E731
            assert await cancel_when(consume, lambda: sweeps() >= 3) == []
        await leaks.check(client)
        emulator.faults.clear()
        assert len([t async for t in client.transcriptions.list()]) == len(ids)


# -- dataset upload -------------------------------------------------------------------------


@pytest.mark.parametrize("stall", ["an upload block", "the commit"])
async def test_cancel_dataset_upload(emulator: SpeechEmulator, tmp_path: Path, stall: str) -> None:
    path = tmp_path / "corpus.txt"
    path.write_bytes(b"hello world this is a sentence\n" * 100_000)  # 3.1 MB
    operation = "Datasets_UploadBlock" if stall == "an upload block" else "Datasets_CommitBlocks"
    skip = 1 if stall == "an upload block" else 0  # one block goes through first
    emulator.faults.add(Fault.stall(after_bytes=1024), operation=operation, skip=skip)
    leaks = Leaks()
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        out = await cancel_when(
            lambda: client.datasets.upload(
                path,
                display_name="corpus",
                locale="en-US",
                kind="Language",
                block_size=512 * 1024,
                concurrency=3,
            ),
            lambda: emulator.faults.total >= 1,
        )
        assert out == []
        await leaks.check(client, path)
        # The half-made dataset was deleted, and the client still works.
        assert [d async for d in client.datasets.list()] == []
        emulator.faults.clear()
        dataset = await client.datasets.upload(
            path, display_name="again", locale="en-US", kind="Language"
        )
        assert dataset.display_name == "again"
