"""Hostile servers: every read is bounded (gzip bombs, endless bodies, huge result files),
links that loop or do not parse, JSON nested too deeply, a client closed while its calls
are in flight. Whatever the server does, the caller gets a result or one of our errors,
soon, and memory stays bounded."""

from __future__ import annotations

import contextlib
import gzip
import json
import tracemalloc
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from speechrest import SpeechClient, errors
from speechrest.testing import Fault, SpeechEmulator

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024
JOB = "9d5f4100-5f8e-4dd6-bd83-9bbbf50d57f1"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Hostile:
    """A loopback server whose answer each test scripts (``handler``); it counts requests."""

    def __init__(self) -> None:
        self.base = ""
        self.requests: list[tuple[str, str]] = []
        self.handler: Handler = self._empty

    async def _empty(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({})

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs))
        return await self.handler(request)

    def client(self, **options: Any) -> SpeechClient:
        options.setdefault("backoff_base", 0.001)
        return SpeechClient(self.base, key="hostile-test-key", **options)


@pytest.fixture
async def hostile() -> AsyncIterator[Hostile]:
    server = Hostile()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    yield server
    await runner.cleanup()


def gzip_bomb(mib: int) -> bytes:
    """A gzip body that inflates to ``mib`` MiB of JSON-looking spaces (about 1 KB per MiB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b" " * MIB
    parts = [packer.compress(b"{")]
    parts += [packer.compress(block) for _ in range(mib)]
    return b"".join([*parts, packer.flush()])


def respond(body: bytes, status: int = 200, **headers: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=body, status=status, content_type="application/json", headers=headers
        )

    return handler


# -- bounded reads ------------------------------------------------------------------------


@pytest.mark.parametrize("cap", [None, MIB], ids=["default-cap", "1MiB-cap"])
async def test_a_gzip_bomb_is_stopped_while_it_inflates(hostile: Hostile, cap: int | None) -> None:
    bomb = gzip_bomb(512)  # ~0.5 MB on the wire, 512 MiB inflated
    hostile.handler = respond(bomb, **{"Content-Encoding": "gzip"})
    options = {} if cap is None else {"max_response_bytes": cap}
    async with hostile.client(**options) as client:
        tracemalloc.start()
        try:
            with pytest.raises(errors.ResponseTooLargeError) as caught:
                await client.transcriptions.get(JOB)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    limit = cap or 16 * MIB
    assert caught.value.limit == limit and caught.value.option == "max_response_bytes"
    assert "max_response_bytes" in str(caught.value)
    assert peak < 2 * limit + 8 * MIB  # the cap, not the 512 MiB the body inflates to
    assert len(hostile.requests) == 1  # never retried: it would get the same body


async def test_an_endless_body_is_cut_at_the_cap(hostile: Hostile) -> None:
    sent = 0

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        chunk = b"[" + b" " * (64 * 1024)
        try:
            while sent < 4096 * MIB:
                await response.write(chunk)
                sent += len(chunk)
        except (ConnectionError, RuntimeError):
            pass  # the client hung up: what this test wants
        return response

    hostile.handler = endless
    async with hostile.client(max_response_bytes=MIB) as client:
        with pytest.raises(errors.ResponseTooLargeError, match="larger than 1048576 bytes"):
            await client.transcriptions.list().to_list()
    assert len(hostile.requests) == 1
    assert sent < 64 * MIB  # the client stopped reading; the server did not send 4 GiB


async def test_a_content_length_over_the_cap_is_refused_before_the_body(hostile: Hostile) -> None:
    release = anyio.Event()

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 2**40
        await response.prepare(request)
        await response.write(b"{")
        with anyio.move_on_after(30):
            await release.wait()  # the rest never comes: only the header can tell
        return response

    hostile.handler = huge
    async with hostile.client(max_response_bytes=MIB) as client:
        with anyio.fail_after(10), pytest.raises(errors.ResponseTooLargeError):
            await client.transcriptions.get(JOB)
    release.set()


async def test_an_oversized_error_body_still_gives_its_status(hostile: Hostile) -> None:
    hostile.handler = respond(
        b'{"code": "InternalServerError", "message": "' + b"x" * (8 * MIB) + b'"}', status=500
    )
    async with hostile.client(max_response_bytes=MIB, max_retries=1) as client:
        with pytest.raises(errors.InternalServerError) as caught:
            await client.transcriptions.get(JOB)
    assert len(str(caught.value)) < 2000 and len(hostile.requests) == 2  # retried as a 500


async def test_a_gzip_bomb_error_body_is_cut_too(hostile: Hostile) -> None:
    hostile.handler = respond(gzip_bomb(256), status=503, **{"Content-Encoding": "gzip"})
    async with hostile.client(max_retries=0) as client:
        tracemalloc.start()
        try:
            with pytest.raises(errors.InternalServerError):
                await client.transcriptions.get(JOB)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 8 * MIB


def result_file(padding: int) -> bytes:
    return json.dumps(
        {
            "source": "https://example.blob.core.windows.net/audio/a.wav",
            "timestamp": "2025-10-15T10:00:00Z",
            "durationInTicks": 10_000_000,
            "duration": "PT1S",
            "combinedRecognizedPhrases": [],
            "recognizedPhrases": [],
            "padding": "x" * padding,
        }
    ).encode()


async def test_result_files_are_read_with_their_own_larger_cap(
    emulator: SpeechEmulator, hostile: Hostile
) -> None:
    def files(url: str) -> Fault:
        page = {
            "values": [
                {
                    "self": f"{emulator.endpoint}/speechtotext/transcriptions/{JOB}/files/{JOB}",
                    "name": "contenturl_0.json",
                    "kind": "Transcription",
                    "links": {"contentUrl": url},
                }
            ]
        }
        return Fault.replace_json(page)

    hostile.handler = respond(result_file(3 * MIB))
    caps = {"max_response_bytes": MIB, "max_download_bytes": 4 * MIB}
    async with SpeechClient(emulator.endpoint, key=emulator.key, **caps) as client:
        emulator.faults.add(files(hostile.base + "/r.json?sig=x"), times=None)
        (result,) = [r async for r in client.transcriptions.results(JOB)]
        assert result.duration_ms == 1000  # 3 MiB: over the API cap, within the file cap

        hostile.handler = respond(result_file(5 * MIB))
        with pytest.raises(errors.ResponseTooLargeError) as caught:
            [r async for r in client.transcriptions.results(JOB)]
        assert caught.value.option == "max_download_bytes" and caught.value.limit == 4 * MIB

        hostile.handler = respond(gzip_bomb(256), **{"Content-Encoding": "gzip"})
        with pytest.raises(errors.ResponseTooLargeError, match="max_download_bytes"):
            [r async for r in client.transcriptions.results(JOB)]


@pytest.mark.parametrize("option", ["max_response_bytes", "max_download_bytes"])
@pytest.mark.parametrize("value", [0, -1, 1.5, "1", None, True])
def test_the_caps_are_checked(option: str, value: object) -> None:
    with pytest.raises(errors.InvalidInputError, match=option):
        SpeechClient("http://127.0.0.1:1", key="k", **{option: value})


# -- JSON and URLs the service should never send ------------------------------------------


async def test_json_nested_too_deeply_is_a_validation_error(hostile: Hostile) -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    async with hostile.client(max_retries=0) as client:
        hostile.handler = respond(deep)
        with pytest.raises(errors.ResponseValidationError, match="nested too deeply"):
            await client.transcriptions.get(JOB)
        hostile.handler = respond(deep, status=400)
        with pytest.raises(errors.BadRequestError):
            await client.transcriptions.get(JOB)
        hostile.handler = respond(b'{"values": ' + deep + b"}")
        with pytest.raises(errors.ResponseValidationError):
            await client.transcriptions.list().to_list()


BAD_URLS = [
    "http://[::1",
    "http://host:99999999/x",
    "ftp://example.com/x",
    "javascript:alert(1)",
    "http://",
    "http:///path-only",
    "http://exa mple.com/",
    "//no-scheme.example.com/x",
]


@pytest.mark.parametrize("link", BAD_URLS)
async def test_an_unusable_next_link_is_a_validation_error(hostile: Hostile, link: str) -> None:
    hostile.handler = respond(json.dumps({"values": [], "@nextLink": link}).encode())
    async with hostile.client() as client:
        with pytest.raises(errors.ResponseValidationError, match="http"):
            await client.transcriptions.list().to_list()
    assert len(hostile.requests) == 1


@pytest.mark.parametrize("link", BAD_URLS)
async def test_an_unusable_content_url_is_a_validation_error(
    emulator: SpeechEmulator, link: str
) -> None:
    page = {
        "values": [{"self": "https://x/f", "kind": "Transcription", "links": {"contentUrl": link}}]
    }
    emulator.faults.add(Fault.replace_json(page), operation="Transcriptions_ListFiles")
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        with pytest.raises(errors.ResponseValidationError, match="http"):
            [r async for r in client.transcriptions.results(JOB)]


@pytest.mark.parametrize(
    "location", [u for u in BAD_URLS if not u.startswith("//")] + ["file:///etc/passwd"]
)
async def test_an_unusable_location_is_a_redirect_error(hostile: Hostile, location: str) -> None:
    async def redirect(request: web.Request) -> web.StreamResponse:
        return web.Response(status=302, headers={"Location": location})

    hostile.handler = redirect
    async with hostile.client() as client:
        with pytest.raises(errors.RedirectError):
            await client.transcriptions.get(JOB)
    assert len(hostile.requests) == 1


async def test_a_next_link_loop_is_detected(hostile: Hostile) -> None:
    async def pages(request: web.Request) -> web.StreamResponse:
        page = int(request.query.get("page", "1"))
        following = 2 if page == 3 else page + 1  # 1 -> 2 -> 3 -> 2 -> 3 ...
        link = f"{hostile.base}/speechtotext/transcriptions?page={following}&api-version=x"
        return web.json_response({"values": [], "@nextLink": link})

    hostile.handler = pages
    async with hostile.client() as client:
        with anyio.fail_after(10), pytest.raises(errors.ResponseValidationError, match="loops"):
            await client.transcriptions.list().to_list()
    assert len(hostile.requests) == 3  # pages 1, 2 and 3, each once


async def test_a_next_link_to_the_same_page_is_detected(hostile: Hostile) -> None:
    async def same(request: web.Request) -> web.StreamResponse:
        link = f"{hostile.base}/speechtotext/transcriptions?skip=0&api-version=x"
        return web.json_response({"values": [], "@nextLink": link})

    hostile.handler = same
    async with hostile.client() as client:
        with pytest.raises(errors.ResponseValidationError, match="already read"):
            async for _ in client.transcriptions.list():
                pass
    assert len(hostile.requests) == 2


# -- closing the client while calls are in flight ------------------------------------------


async def test_closing_the_client_during_a_call_ends_it_with_a_state_error(
    emulator: SpeechEmulator,
) -> None:
    emulator.faults.add(Fault.latency(30), operation="Transcriptions_Get")
    client = SpeechClient(emulator.endpoint, key=emulator.key)
    await client.__aenter__()
    outcome: list[BaseException] = []

    async def call() -> None:
        try:
            await client.transcriptions.get(JOB)
        except BaseException as exc:
            outcome.append(exc)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            while not any(r.path.endswith(JOB) for r in emulator.requests):
                await anyio.sleep(0.01)
            await client.aclose()
    (error,) = outcome
    assert isinstance(error, errors.ClientStateError) and "closed" in str(error)
    assert sum(r.path.endswith(JOB) for r in emulator.requests) == 1  # not retried


async def test_closing_the_client_during_a_retry_wait_sends_nothing_more(
    emulator: SpeechEmulator,
) -> None:
    """The call was to sleep 30 s before its retry: closing the client ends it now."""
    emulator.faults.add(Fault.unavailable(retry_after=30), operation="Transcriptions_Get")
    client = SpeechClient(emulator.endpoint, key=emulator.key)
    await client.__aenter__()
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:

            async def close_soon() -> None:
                while emulator.faults.injected["http_503"] == 0:
                    await anyio.sleep(0.01)
                await anyio.sleep(0.1)
                await client.aclose()

            tg.start_soon(close_soon)
            with pytest.raises(errors.ClientStateError, match="closed"):
                await client.transcriptions.get(JOB)
    assert sum(r.path.endswith(JOB) for r in emulator.requests) == 1


# -- anything at all: only our errors ----------------------------------------------------------

_HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40)
_RESPONSES = st.fixed_dictionaries(
    {
        "status": st.sampled_from([200, 201, 202, 204, 301, 302, 303, 307, 308, 400, 404, 500]),
        "headers": st.dictionaries(
            st.sampled_from(
                ["Location", "Retry-After", "retry-after-ms", "Content-Encoding", "Content-Type"]
            ),
            st.one_of(
                _HEADER_TEXT,
                st.sampled_from(["gzip", "deflate", "br", "http://[::1", "/x", "nan", "1e309"]),
            ),
        ),
        "body": st.one_of(
            st.binary(max_size=200),
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                lambda inner: (
                    st.lists(inner, max_size=3)
                    | st.dictionaries(
                        st.sampled_from(["values", "@nextLink", "self", "status", "code"]), inner
                    )
                ),
                max_leaves=10,
            ).map(lambda v: json.dumps(v).encode()),
            st.just(gzip.compress(b'{"values": []}')),
        ),
    }
)


def _draw_responses(count: int) -> list[dict[str, Any]]:
    drawn: list[dict[str, Any]] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(_RESPONSES)
    def collect(response: dict[str, Any]) -> None:
        drawn.append(response)

    collect()
    return drawn


async def test_whatever_the_server_answers_only_our_errors_escape(hostile: Hostile) -> None:
    """A Swagger-free fuzz of the transport: random statuses, headers (Location,
    Retry-After, Content-Encoding, ...) and bodies, for a GET, a list and a POST."""
    current: dict[str, Any] = {}

    async def scripted(request: web.Request) -> web.StreamResponse:
        await request.read()
        headers = dict(current["headers"])
        headers.setdefault("Content-Type", "application/json")
        return web.Response(status=current["status"], body=current["body"], headers=headers)

    hostile.handler = scripted
    calls: list[Callable[[SpeechClient], Awaitable[object]]] = [
        lambda c: c.transcriptions.get(JOB),
        lambda c: c.transcriptions.list().to_list(),
        lambda c: c.projects.create(display_name="p", locale="en-US"),
    ]
    async with hostile.client(max_retries=1, max_retry_after=0.01) as client:
        for index, response in enumerate(_draw_responses(150)):
            current.update(response)
            try:
                with anyio.fail_after(10):
                    await calls[index % len(calls)](client)
            except errors.SpeechRestError:
                pass
            except BaseException as exc:
                raise AssertionError(f"{type(exc).__name__}: {exc} for {response!r}") from exc


async def test_the_transcribe_post_never_leaks_a_foreign_error(hostile: Hostile) -> None:
    hostile.handler = respond(b"[" * 100_000)
    async with hostile.client() as client:
        with pytest.raises(errors.ResponseValidationError):
            await client.transcribe(b"RIFF" + bytes(100))
    assert uuid.UUID(JOB)


# -- Retry-After values that no wait honours ----------------------------------------------------


@pytest.mark.parametrize("value", ["100000", "1e309", "nan", "-1", "inf", "1_000", "٣"])
async def test_no_wait_sits_out_a_retry_after_the_transport_refused(
    emulator: SpeechEmulator, value: str
) -> None:
    """A 429 whose Retry-After is too long (or not a delay at all): wait() raises it and
    wait_many() reports it, at once, instead of sleeping it out."""
    from speechrest import PollPolicy

    throttled = Fault.respond(
        429, json.dumps({"code": "TooManyRequests", "message": "slow down"}),
        headers={"Retry-After": value},
    )  # fmt: skip
    emulator.faults.add(throttled, operation="Transcriptions_Get", times=None)
    policy = PollPolicy(initial_interval=0.01)
    async with SpeechClient(
        emulator.endpoint, key=emulator.key, max_retries=1, backoff_base=0.01
    ) as client:
        with anyio.fail_after(10):
            with pytest.raises(errors.RateLimitError):
                await client.transcriptions.wait(JOB, policy=policy)
            if value == "100000":  # over max_retry_after: refused, and so not waited out
                async with client.transcriptions.wait_many([JOB], policy=policy) as outcomes:
                    (outcome,) = [o async for o in outcomes]
                assert isinstance(outcome.error, errors.RateLimitError)


@pytest.mark.parametrize(
    "body",
    [
        {"values": [{"self": "https://x/t/1", "customProperties": "DEEP"}]},
        {"values": "DEEP"},
        {"values": [], "@nextLink": "DEEP"},
        {"values": [{"self": "https://x/t/1", "properties": {"error": "DEEP"}}]},
    ],
)
async def test_json_nested_just_within_the_parser_limit_is_still_only_our_error(
    hostile: Hostile, body: dict[str, Any]
) -> None:
    """Nesting that the JSON parser accepts (a few hundred levels) but that would take
    a recursive walk over the limit later: still a result or our error."""
    deep = "[" * 700 + "]" * 700
    hostile.handler = respond(json.dumps(body).replace('"DEEP"', deep).encode())
    async with hostile.client(max_retries=0) as client:
        with contextlib.suppress(errors.SpeechRestError):
            await client.transcriptions.list().to_list()


async def test_closing_the_client_during_an_upload_ends_it_with_a_state_error(
    emulator: SpeechEmulator,
) -> None:
    emulator.faults.add(Fault.stall(after_bytes=64 * 1024), operation="Transcriptions_Transcribe")
    client = SpeechClient(emulator.endpoint, key=emulator.key)
    await client.__aenter__()
    outcome: list[BaseException] = []

    async def call() -> None:
        try:
            await client.transcribe(bytes(16 * MIB))
        except BaseException as exc:
            outcome.append(exc)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            while emulator.faults.injected["stall"] == 0:
                await anyio.sleep(0.01)
            await client.aclose()
    (error,) = outcome
    assert isinstance(error, errors.ClientStateError)
