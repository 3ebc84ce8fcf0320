"""The blocking client (``speechrest.sync``) against the emulator, served from a thread of
its own (the calling thread here has no event loop, or one that the calls block)."""

from __future__ import annotations

import inspect
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import pytest

import speechrest
from speechrest import PollPolicy, _syncgen, sync
from speechrest.errors import ClientStateError, InvalidInputError, NotFoundError
from speechrest.testing import Fault, SpeechEmulator, Timing, make_wav
from speechrest.types import Status, TranscriptionLocales
from tests._threaded import emulator_thread

FAST = Timing(queue_delay=0.05, run_time=0.1, retry_after=0)
POLICY = PollPolicy(initial_interval=0.02, min_interval=0.02, max_interval=0.1)
GROUPS = [
    "datasets",
    "endpoints",
    "evaluations",
    "models",
    "operations",
    "projects",
    "transcriptions",
    "webhooks",
]
MISSING = "00000000-0000-0000-0000-00000000abcd"


@pytest.fixture(scope="module")
def emulator() -> Iterator[SpeechEmulator]:
    with emulator_thread(timing=FAST) as emu:
        yield emu


@pytest.fixture
def client(emulator: SpeechEmulator) -> Iterator[sync.SpeechClient]:
    with sync.SpeechClient(emulator.endpoint, key=emulator.key) as c:
        yield c


def test_the_generated_methods_are_current() -> None:
    assert _syncgen.TARGET.read_text(encoding="utf-8") == _syncgen.generate(), (
        "run `python -m speechrest._syncgen`"
    )


def test_every_group_and_method_of_the_async_client_is_there_with_its_signature() -> None:
    made = speechrest.SpeechClient("http://127.0.0.1:1", key="k")
    for name in GROUPS:
        async_group = getattr(made, name)
        sync_group = sync.__dict__[type(async_group).__name__]
        for method, function in inspect.getmembers(type(async_group), inspect.isfunction):
            if method.startswith("_") or not hasattr(sync_group, method):
                assert method.startswith("_") or not (
                    inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)
                ), f"{name}.{method} has no blocking form"
                continue
            blocking = getattr(sync_group, method)
            assert list(inspect.signature(blocking).parameters) == list(
                inspect.signature(function).parameters
            )
            assert blocking.__doc__
    for method in ("transcribe", "transcribe_many", "with_options", "__init__"):
        assert list(inspect.signature(getattr(sync.SpeechClient, method)).parameters) == list(
            inspect.signature(getattr(speechrest.SpeechClient, method)).parameters
        )


def test_every_group_is_reachable(client: sync.SpeechClient) -> None:
    assert isinstance(client.transcriptions.list_supported_locales(), TranscriptionLocales)
    for name in ("datasets", "endpoints", "evaluations", "models", "projects"):
        group = getattr(client, name)
        assert group.list_supported_locales(), name
        assert group.list().to_list() == [], name
    assert client.webhooks.list().to_list() == []
    with pytest.raises(NotFoundError):
        client.operations.get_model_copy(MISSING)
    with pytest.raises(InvalidInputError):  # checked before sending, raised in this thread
        client.transcriptions.submit(locale="en-US", content_urls=[])


def test_transcribe_and_a_fan_out(client: sync.SpeechClient, tmp_path: Path) -> None:
    result = client.transcribe(make_wav(comment="Hello there."), locales=["en-US"])
    assert result.text == "Hello there."
    paths = []
    for i in range(5):
        path = tmp_path / f"{i}.wav"
        path.write_bytes(make_wav(comment=f"File {i}."))
        paths.append(path)
    with client.transcribe_many(paths, concurrency=2, locales=["en-US"]) as outcomes:
        done = {item.source: item.result.text for item in outcomes}
    assert done == {p: f"File {i}." for i, p in enumerate(paths)}


def test_leaving_a_fan_out_early_cancels_the_rest(client: sync.SpeechClient) -> None:
    sources = [make_wav(comment=f"File {i}.") for i in range(20)]
    with client.transcribe_many(sources, concurrency=2, locales=["en-US"]) as outcomes:
        first = next(iter(outcomes))
    assert first.ok
    assert client.stats().connections_in_use == 0
    assert client.transcribe(sources[0], locales=["en-US"]).text == "File 0."


def test_a_batch_job_submitted_waited_for_and_read(
    client: sync.SpeechClient, emulator: SpeechEmulator
) -> None:
    urls = [
        emulator.serve_bytes(make_wav(comment="One."), "one.wav"),
        emulator.serve_bytes(make_wav(comment="Two."), "two.wav"),
    ]
    seen: list[Status] = []
    job = client.transcriptions.submit(content_urls=urls, locale="en-US")
    job = client.transcriptions.wait(job, policy=POLICY, on_status=lambda j: seen.append(j.status))
    assert job.status == Status.SUCCEEDED and seen[-1] == Status.SUCCEEDED
    assert sorted(r.text for r in client.transcriptions.results(job)) == ["One.", "Two."]
    other = client.transcriptions.submit(content_urls=urls[:1], locale="en-US")
    with client.transcriptions.wait_many([job, other], policy=POLICY) as outcomes:
        assert {o.id for o in outcomes if o.ok} == {job.id, other.id}
    pages = list(client.transcriptions.list(top=1).by_page())
    assert len(pages) >= 2 and all(len(page.values) == 1 for page in pages)
    assert {t.id for t in client.transcriptions.list()} >= {job.id, other.id}


def test_leaving_a_paged_list_early_closes_it(client: sync.SpeechClient) -> None:
    for _ in range(3):
        client.projects.create(display_name="p", locale="en-US")
    for project in client.projects.list(top=1):
        assert project.display_name == "p"
        break
    assert client.stats().connections_in_use == 0


@pytest.mark.anyio
async def test_it_works_in_a_thread_that_runs_an_event_loop(
    emulator: SpeechEmulator,
) -> None:
    # as in a notebook: the calls block this loop, and run on the client's own
    with sync.SpeechClient(emulator.endpoint, key=emulator.key) as client:
        assert client.transcribe(make_wav(comment="In a loop."), locales=["en-US"]).text == (
            "In a loop."
        )
        assert isinstance(client.transcriptions.list_supported_locales(), TranscriptionLocales)
    await anyio.sleep(0)


def test_several_threads_at_once_share_one_loop(client: sync.SpeechClient) -> None:
    loops: set[threading.Thread] = set()

    def work(i: int) -> str:
        result = client.transcribe(
            make_wav(comment=f"Thread {i}."),
            locales=["en-US"],
            on_progress=lambda _: loops.add(threading.current_thread()),
        )
        return result.text

    with ThreadPoolExecutor(8) as pool:
        texts = list(pool.map(work, range(32)))
    assert texts == [f"Thread {i}." for i in range(32)]
    assert loops == {client._loop.thread}  # every call ran on the client's one loop


def test_close_stops_the_loop_thread_and_later_calls_fail_clearly(
    emulator: SpeechEmulator,
) -> None:
    client = sync.SpeechClient(emulator.endpoint, key=emulator.key)
    thread = client._loop.thread
    assert thread.is_alive() and thread is not threading.current_thread()
    client.transcriptions.list_supported_locales()
    client.close()
    client.close()  # closing twice is harmless
    assert not thread.is_alive()
    with pytest.raises(ClientStateError, match="closed"):
        client.transcriptions.list_supported_locales()
    with pytest.raises(ClientStateError, match="closed"):
        list(client.projects.list())


def test_a_view_shares_the_loop_and_cannot_close_it(client: sync.SpeechClient) -> None:
    view = client.with_options(max_retries=0)
    assert view.transcriptions.list_supported_locales()
    with pytest.raises(ClientStateError, match="view"):
        view.close()
    assert repr(client).startswith("speechrest.sync.SpeechClient(")


def test_a_client_left_open_is_closed_at_exit_without_hanging_or_warnings(
    emulator: SpeechEmulator,
) -> None:
    script = textwrap.dedent(
        f"""
        import atexit, gc

        def after_exit():  # runs after the client's own exit hook (registered later)
            print("session closed:", session.closed, "loop stopped:", not thread.is_alive())

        atexit.register(after_exit)
        from speechrest.sync import SpeechClient
        client = SpeechClient({emulator.endpoint!r}, key={emulator.key!r})
        client.transcriptions.list_supported_locales()
        session, thread = client._async._api.transport._session, client._loop.thread
        other = SpeechClient({emulator.endpoint!r}, key={emulator.key!r})
        other.projects.list_supported_locales()
        other_session, other_thread = other._async._api.transport._session, other._loop.thread
        del other
        gc.collect()  # collected: closed then
        print("collected:", other_session.closed, not other_thread.is_alive())
        """
    )
    ran = subprocess.run(
        [sys.executable, "-W", "always", "-c", script], capture_output=True, text=True, check=False
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == [
        "collected: True True",
        "session closed: True loop stopped: True",
    ]
    assert ran.stderr == ""


def test_an_unreachable_endpoint_fails_on_the_call_and_the_client_still_closes() -> None:
    with (
        sync.SpeechClient("http://127.0.0.1:9", key="k", max_retries=0) as client,
        pytest.raises(speechrest.errors.APIConnectionError),
    ):
        client.transcriptions.list_supported_locales()
    assert not client._loop.thread.is_alive()


def test_an_interrupted_call_is_cancelled(emulator: SpeechEmulator) -> None:
    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    emulator.faults.add(Fault.latency(600), operation="Projects_ListSupportedLocales")
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        with sync.SpeechClient(emulator.endpoint, key=emulator.key, max_connections=1) as client:
            signal.setitimer(signal.ITIMER_REAL, 0.2)  # Ctrl+C while the answer is awaited
            with pytest.raises(KeyboardInterrupt):
                client.projects.list_supported_locales()
            # the call was cancelled: its connection is free for the next one
            assert client.transcriptions.list_supported_locales()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
