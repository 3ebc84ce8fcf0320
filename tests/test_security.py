"""Secrets stay secret: not in logs, reprs, errors or tracebacks; the key goes only to the
configured endpoint; TLS is verified; web hook notifications are authenticated."""

from __future__ import annotations

import logging
import ssl
import traceback
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import attrs
import pytest
import trustme
from aiohttp import web

from speechrest import PollPolicy, SpeechClient
from speechrest.errors import (
    APIConnectionError,
    AuthenticationError,
    InvalidInputError,
    RedirectError,
    SpeechRestError,
)
from speechrest.testing import Fault, SpeechEmulator, Timing, make_wav
from speechrest.testing._emulator import EmulatorState, build_app
from speechrest.webhooks import (
    EVENT_HEADER,
    SIGNATURE_HEADER,
    WebHookEvent,
    WebhookReceiver,
    sign,
)
from tests.audio_server import AudioServer, audio_server  # noqa: F401 - fixture

pytestmark = pytest.mark.anyio

KEY = "KEY-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
TOKEN = "TOKEN-eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXBheWxvYWQ"
FAST = Timing(queue_delay=0.02, run_time=0.05, retry_after=0)
POLICY = PollPolicy(initial_interval=0.02, min_interval=0.02, max_interval=0.05)
EMPTY_RESULT = {"durationMilliseconds": 0, "combinedPhrases": [], "phrases": []}


@attrs.frozen
class _Access:
    token: str
    expires_on: float


class Credential:
    async def get_token(self, *scopes: str) -> _Access:
        return _Access(TOKEN, 4102444800.0)


class Recorder:
    """A loopback server on another port that records every request's headers."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.methods: list[str] = []
        self.body_sizes: list[int] = []
        self.base = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((request.path, {k.lower(): v for k, v in request.headers.items()}))
        self.methods.append(request.method)
        self.body_sizes.append(len(await request.read()))
        if request.path.endswith("/transcriptions"):
            return web.json_response({"values": []})
        return web.json_response(EMPTY_RESULT)

    def credentials_seen(self) -> list[str]:
        return [
            h
            for _, headers in self.seen
            for h in ("ocp-apim-subscription-key", "authorization")
            if h in headers
        ]


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    rec = Recorder()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", rec.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.base = f"http://localhost:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    yield rec
    await runner.cleanup()


@pytest.fixture
async def emulator() -> AsyncIterator[SpeechEmulator]:
    async with SpeechEmulator(key=KEY, tokens=[TOKEN], timing=FAST) as emu:
        yield emu


def _quick(client: SpeechClient) -> SpeechClient:
    client = client.with_options(backoff_base=0.001)
    return client


# -- no secret in logs, reprs, errors or tracebacks -----------------------------------------


async def _collect(errors: list[BaseException], coro: Any) -> Any:
    try:
        return await coro
    except SpeechRestError as exc:
        errors.append(exc)
        return None


async def test_a_full_session_never_shows_a_secret(
    emulator: SpeechEmulator,
    audio_server: AudioServer,  # noqa: F811
    caplog,
    sample_wav,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: speechrest, aiohttp.*, asyncio
    errors: list[BaseException] = []
    url = audio_server.add("audio/a.wav", make_wav(comment="Hello there."))
    emulator.faults.add(Fault.throttled(retry_after=0), operation="Transcriptions_Transcribe")
    emulator.faults.add(Fault.reset_during_response(), operation="Transcriptions_Transcribe")
    shown: list[str] = []
    async with SpeechClient(emulator.endpoint, key=KEY, read_timeout=0.3) as client:
        _quick(client)
        shown.append(repr(client))
        await client.transcribe(sample_wav)  # two retries on the way
        emulator.faults.add(Fault.server_error(), times=None)
        await _collect(errors, client.with_options(max_retries=1).transcribe(sample_wav))
        emulator.faults.clear()
        emulator.faults.add(Fault.stall(), operation="Transcriptions_Transcribe")
        await _collect(errors, client.with_options(max_retries=0).transcribe(sample_wav))
        job = await client.transcriptions.submit_and_wait(
            content_urls=[url], locale="en-US", policy=POLICY
        )
        results = [r async for r in client.transcriptions.results(job)]
        assert results and results[0].text == "Hello there."
        files = [f async for f in client.transcriptions.list_files(job)]
        shown += [repr(f) for f in files] + [repr(job)]
        # a result download that fails shows its URL: redacted
        emulator.faults.add(Fault.server_error(), path="^/blobs/", times=None)
        await _collect(errors, client.with_options(max_retries=0).transcriptions.report(job))
        emulator.faults.clear()
    async with SpeechClient(emulator.endpoint, credential=Credential()) as client:
        emulator.faults.add(Fault.unavailable(retry_after=0))
        await client.transcribe(sample_wav)
        shown.append(repr(client))
    async with SpeechClient(emulator.endpoint, key=KEY[::-1]) as client:
        await _collect(errors, client.transcribe(sample_wav))  # a wrong key: 401

    assert len(errors) == 4 and isinstance(errors[-1], AuthenticationError)
    signatures = {
        r.query["sig"]
        for r in emulator.requests
        if r.path.startswith("/blobs/") and "sig" in r.query
    }
    assert signatures, "the session downloaded SAS-signed result files"
    text = "\n".join(
        [
            caplog.text,
            *shown,
            *("".join(traceback.format_exception(e)) for e in errors),
            *(repr(e) for e in errors),
            *(repr(getattr(e, "body", None)) for e in errors),
            *(str(e.args) for e in errors),
        ]
    )
    # The capture really holds the session: requests, retries, redacted URLs.
    assert "Transcriptions_Transcribe POST" in text and "retry" in text
    assert "sig=REDACTED" in text
    for secret in (KEY, KEY[::-1], TOKEN, *signatures):
        assert secret not in text


async def test_the_key_is_not_in_reprs_or_pickles() -> None:
    import pickle

    client = SpeechClient("https://eastus.api.cognitive.microsoft.com", key=KEY)
    auth = client._api.transport.auth
    for obj in (client, client._api, client._api.transport, auth, auth._key):
        assert KEY not in repr(obj) and KEY not in str(obj)
    assert KEY not in repr(vars(auth))
    with pytest.raises(TypeError):
        pickle.dumps(auth._key)


# -- the key goes only to the configured endpoint -------------------------------------------


@pytest.mark.parametrize("auth", ["key", "token"])
async def test_no_credentials_across_a_redirect_to_another_host(
    emulator: SpeechEmulator, recorder: Recorder, auth: str
) -> None:
    target = recorder.base + "/elsewhere/transcriptions"
    emulator.faults.add(Fault.redirect(target), operation="Transcriptions_List")
    kwargs: dict[str, Any] = {"key": KEY} if auth == "key" else {"credential": Credential()}
    async with SpeechClient(emulator.endpoint, **kwargs) as client:
        assert await client.transcriptions.list().to_list() == []  # the other host answered
    assert [p for p, _ in recorder.seen] == ["/elsewhere/transcriptions"]
    assert recorder.credentials_seen() == []


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_request_body_never_follows_a_redirect_to_another_origin(
    emulator: SpeechEmulator, recorder: Recorder, sample_wav, status: int
) -> None:
    """The audio would go, in the clear, to whoever the redirect names: refused."""
    target = recorder.base + "/elsewhere/transcriptions:transcribe"
    emulator.faults.add(Fault.redirect(target, status=status), times=None)
    async with SpeechClient(emulator.endpoint, key=KEY) as client:
        with pytest.raises(RedirectError, match="another origin") as caught:
            await client.transcribe(sample_wav)
    assert caught.value.location == target and "request body is not sent" in str(caught.value)
    assert recorder.seen == []
    assert emulator.faults.injected["redirect"] == 1  # never retried


async def test_a_303_to_another_origin_becomes_a_get_without_body_or_key(
    emulator: SpeechEmulator, recorder: Recorder, sample_wav
) -> None:
    emulator.faults.add(Fault.redirect(recorder.base + "/result", status=303))
    async with SpeechClient(emulator.endpoint, key=KEY) as client:
        result = await client.transcribe(sample_wav)
    assert result.phrases == []  # what the other host answered
    assert recorder.methods == ["GET"] and recorder.body_sizes == [0]
    assert recorder.credentials_seen() == []


async def test_a_same_origin_redirect_sends_the_body_again(
    emulator: SpeechEmulator, sample_wav
) -> None:
    target = emulator.endpoint + "/speechtotext/transcriptions:transcribe?api-version=2025-10-15"
    emulator.faults.add(Fault.redirect(target, status=308))
    async with SpeechClient(emulator.endpoint, key=KEY) as client:
        assert (await client.transcribe(sample_wav)).text


@pytest.fixture
async def tls_redirector(recorder: Recorder) -> AsyncIterator[tuple[str, ssl.SSLContext, list]]:
    """An https server that redirects every request to the same path on ``recorder`` (plain
    http on another port) or, with ``?same-host``, on its own host over http."""
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_ctx)
    seen: list[str] = []

    async def redirect(request: web.Request) -> web.Response:
        seen.append(request.path)
        await request.read()
        return web.Response(status=307, headers={"Location": recorder.base + request.path})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", redirect)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"https://localhost:{port}", client_ctx, seen
    await runner.cleanup()


async def test_never_from_https_down_to_http(tls_redirector, recorder: Recorder) -> None:
    endpoint, ctx, seen = tls_redirector
    async with SpeechClient(endpoint, key=KEY, ssl=ctx) as client:
        with pytest.raises(RedirectError, match="from https to plain http"):
            await client.transcriptions.list().to_list()  # a GET: no body, still refused
        with pytest.raises(RedirectError, match="from https to plain http"):
            await client.transcriptions.get("00000000-0000-0000-0000-000000000001")
    assert len(seen) == 2 and recorder.seen == []


async def test_a_redirect_loop_ends_with_a_redirect_error(emulator: SpeechEmulator) -> None:
    target = emulator.endpoint + "/speechtotext/transcriptions?api-version=2025-10-15"
    emulator.faults.add(Fault.redirect(target, status=302), times=None)
    async with SpeechClient(emulator.endpoint, key=KEY) as client:
        with pytest.raises(RedirectError, match="redirects in a row"):
            await client.transcriptions.list().to_list()
    assert emulator.faults.injected["redirect"] == 6  # one call, never retried


async def test_credentials_are_kept_on_a_same_origin_redirect(
    emulator: SpeechEmulator, sample_wav
) -> None:
    target = emulator.endpoint + "/speechtotext/transcriptions:transcribe?api-version=2025-10-15"
    emulator.faults.add(Fault.redirect(target))
    async with SpeechClient(emulator.endpoint, key=KEY) as client:
        assert (await client.transcribe(sample_wav)).text  # a 401 would have failed it
    assert emulator.faults.injected["redirect"] == 1


async def test_no_credentials_to_a_next_link_on_another_host(
    emulator: SpeechEmulator, recorder: Recorder
) -> None:
    emulator.faults.add(
        Fault.replace_json({"values": [], "@nextLink": recorder.base + "/st/transcriptions"}),
        operation="Transcriptions_List",
    )
    async with SpeechClient(emulator.endpoint, key=KEY) as client:
        assert [t async for t in client.transcriptions.list()] == []
    assert [p for p, _ in recorder.seen] == ["/st/transcriptions"]
    assert recorder.credentials_seen() == []


async def test_no_credentials_to_absolute_urls_elsewhere(
    emulator: SpeechEmulator, recorder: Recorder
) -> None:
    """Location, operation-location, contentUrl: any absolute URL of another origin."""
    async with SpeechClient(emulator.endpoint, key=KEY) as client:
        for url in (
            recorder.base + "/speechtotext/transcriptions/x",
            recorder.base.replace("localhost", "127.0.0.1") + "/speechtotext/models/y",
        ):
            await client.transcriptions._api.request("GET", url, operation="Transcriptions_Get")
    assert len(recorder.seen) == 2
    assert recorder.credentials_seen() == []
    assert all("api-version" not in p for p, _ in recorder.seen)


async def test_result_files_are_downloaded_without_the_key(
    emulator: SpeechEmulator, recorder: Recorder
) -> None:
    job_files = {
        "values": [
            {
                "self": emulator.endpoint + "/speechtotext/transcriptions/j/files/f",
                "name": "contenturl_0.json",
                "kind": "Transcription",
                "links": {"contentUrl": recorder.base + "/blob/f.json?sig=abc&se=x"},
            }
        ]
    }
    emulator.faults.add(Fault.replace_json(job_files), operation="Transcriptions_ListFiles")
    async with SpeechClient(emulator.endpoint, key=KEY) as client:
        job = "00000000-0000-0000-0000-000000000001"
        with pytest.raises(SpeechRestError):  # the recorder's answer is not a result file
            [r async for r in client.transcriptions.results(job)]
    assert [p for p, _ in recorder.seen] == ["/blob/f.json"]
    assert recorder.credentials_seen() == []


# -- TLS ------------------------------------------------------------------------------------


@pytest.fixture
async def tls_emulator() -> AsyncIterator[tuple[str, trustme.CA]]:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_ctx)
    state = EmulatorState(keys={KEY})
    runner = web.AppRunner(build_app(state), access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.base_url = f"https://localhost:{port}"
    yield state.base_url, ca
    await runner.cleanup()


async def test_tls_is_verified_by_default(tls_emulator, sample_wav) -> None:
    endpoint, _ = tls_emulator
    async with SpeechClient(endpoint, key=KEY, max_retries=0) as client:
        with pytest.raises(APIConnectionError, match=r"(?i)certificate") as caught:
            await client.transcribe(sample_wav)
    assert KEY not in "".join(traceback.format_exception(caught.value))


async def test_a_custom_ssl_context_is_used(tls_emulator, sample_wav) -> None:
    endpoint, ca = tls_emulator
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    async with SpeechClient(endpoint, key=KEY, ssl=ctx) as client:
        result = await client.transcribe(sample_wav)
    assert result.text


@pytest.mark.parametrize(
    ("endpoint", "ok"),
    [
        ("http://127.0.0.1:5000", True),
        ("http://localhost:5000", True),
        ("http://[::1]:5000", True),
        ("http://eastus.api.cognitive.microsoft.com", False),
        ("http://10.0.0.7", False),
        ("http://127.0.0.1.evil.example", False),
        ("http://127.1.2.3:80", True),
        ("http://localhost.evil.example", False),
    ],
)
def test_plain_http_only_for_loopback(endpoint: str, ok: bool) -> None:
    if ok:
        SpeechClient(endpoint, key=KEY)
    else:
        with pytest.raises(InvalidInputError, match="allow_insecure_http") as caught:
            SpeechClient(endpoint, key=KEY)
        assert KEY not in str(caught.value)
        SpeechClient(endpoint, key=KEY, allow_insecure_http=True)


# -- web hook notifications -----------------------------------------------------------------

BODY = b'{"self": "https://x/speechtotext/transcriptions/1", "invocationId": "inv-9"}'


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[WebHookEvent]]]:
    received: list[WebHookEvent] = []
    hook = WebhookReceiver(secret="hook-secret-value", on_event=received.append)
    runner = web.AppRunner(hook.app(), access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/", received  # type: ignore[union-attr]
    await runner.cleanup()


async def _deliver(url: str, body: bytes, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as s, s.post(url, data=body, headers=headers) as r:
        return r.status


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "not base64 !!",
        sign(BODY, "another-secret"),
        sign(BODY + b" ", "hook-secret-value"),
        sign(BODY, "hook-secret-value").lower(),
        "A" * 4_000,
    ],
    ids=["missing", "empty", "garbage", "other-secret", "other-body", "case-changed", "huge"],
)
async def test_webhook_rejects_unsigned_and_wrongly_signed(receiver, caplog, signature) -> None:
    url, received = receiver
    headers = {EVENT_HEADER: "transcriptionCompletion"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    assert await _deliver(url, BODY, headers) == 401
    assert received == []
    assert "hook-secret-value" not in caplog.text


async def test_webhook_rejects_a_tampered_body_and_replays(receiver) -> None:
    url, received = receiver
    good = sign(BODY, "hook-secret-value")
    tampered = BODY.replace(b"/1", b"/2")
    assert (
        await _deliver(
            url, tampered, {EVENT_HEADER: "transcriptionCompletion", SIGNATURE_HEADER: good}
        )
        == 401
    )
    headers = {EVENT_HEADER: "transcriptionCompletion", SIGNATURE_HEADER: good}
    assert await _deliver(url, BODY, headers) == 200
    # Replays of the captured notification: as is, and with another (unsigned) event header.
    assert await _deliver(url, BODY, headers) == 200
    assert await _deliver(url, BODY, {**headers, EVENT_HEADER: "transcriptionDeletion"}) == 200
    assert [(e.kind, e.invocation_id) for e in received] == [("transcriptionCompletion", "inv-9")]
