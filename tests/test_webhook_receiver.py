from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json

import aiohttp
import aiohttp.web
import anyio
import pytest
import yarl

from speechrest.errors import InvalidInputError
from speechrest.types import WebHookEventKind
from speechrest.webhooks import (
    EVENT_HEADER,
    SIGNATURE_HEADER,
    WebHookEvent,
    WebhookReceiver,
    challenge_response,
    parse_event,
    parse_event_kind,
    sign,
    verify_signature,
)
from tests._sink import serve

pytestmark = pytest.mark.anyio

URL = "https://westus.api.cognitive.microsoft.com/speechtotext/transcriptions/9d5f4100-5f8e-4dd6-bd83-9bbbf50d57f1?api-version=2025-10-15"
BODY = json.dumps({"self": URL, "invocationId": "inv-1"}).encode()


def test_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    expected = base64.b64encode(hmac.new(b"k\xc3\xa9y", BODY, hashlib.sha256).digest()).decode()
    assert sign(BODY, "kéy") == expected
    assert verify_signature(BODY, expected, "kéy")
    assert not verify_signature(BODY + b" ", expected, "kéy")  # tampered body
    assert not verify_signature(BODY, expected, "other")  # wrong secret
    assert not verify_signature(BODY, None, "kéy")  # unsigned
    assert not verify_signature(BODY, "", "kéy")
    assert not verify_signature(BODY, "ünïcode", "kéy")


def test_challenge_response_echoes_the_token() -> None:
    assert challenge_response({"validationToken": "abc"}) == "abc"
    assert challenge_response({}) is None


@pytest.mark.parametrize("header", ["transcriptionCompletion", "TranscriptionCompletion"])
def test_event_kind_accepts_camel_and_pascal_case(header: str) -> None:
    assert parse_event_kind(header) is WebHookEventKind.TRANSCRIPTION_COMPLETION


def test_unknown_event_kind_is_kept() -> None:
    kind = parse_event_kind("SomethingNew")
    assert kind == "somethingNew" and not kind.is_known


def test_parse_event_reads_kind_entity_and_invocation() -> None:
    event = parse_event({"x-microsoftspeechservices-event": "TranscriptionCompletion"}, BODY)
    assert event.kind is WebHookEventKind.TRANSCRIPTION_COMPLETION
    assert event.self_ == URL
    assert event.entity_id == "9d5f4100-5f8e-4dd6-bd83-9bbbf50d57f1"
    assert event.invocation_id == "inv-1"


@pytest.mark.parametrize(
    ("headers", "body", "problem"),
    [
        ({}, BODY, "no X-MicrosoftSpeechServices-Event"),
        ({EVENT_HEADER: "ping"}, b"{nope", "not JSON"),
        ({EVENT_HEADER: "ping"}, b"[1]", "not a JSON object"),
        ({EVENT_HEADER: "ping"}, b'{"invocationId": "x"}', "no 'self'"),
        ({EVENT_HEADER: " "}, BODY, "empty"),
    ],
)
def test_parse_event_rejects_what_is_not_a_notification(headers, body, problem) -> None:
    with pytest.raises(InvalidInputError, match=problem):
        parse_event(headers, body)


def test_event_repr_redacts_sas_signatures() -> None:
    event = WebHookEvent(kind=WebHookEventKind.PING, self_="https://x.blob/a?se=1&sig=SECRET")
    assert "SECRET" not in repr(event)
    assert "sig=REDACTED" in repr(event)


def test_receiver_repr_hides_the_secret() -> None:
    receiver = WebhookReceiver(secret="hunter2")
    assert "hunter2" not in repr(receiver)


def test_receiver_rejects_an_empty_secret() -> None:
    with pytest.raises(InvalidInputError):
        WebhookReceiver(secret="")


async def _post(url: str, body: bytes, *, kind: str = "transcriptionCompletion", secret=None, **kw):
    headers = {EVENT_HEADER: kind}
    if secret is not None:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers, **kw) as response,
    ):
        return response.status, await response.text()


async def test_receiver_app_answers_challenge_and_delivers_signed_events_once() -> None:
    received: list[WebHookEvent] = []
    completions: list[WebHookEvent] = []
    receiver = WebhookReceiver(secret="s", on_event=received.append)

    @receiver.on("TranscriptionCompletion")
    async def on_completion(event: WebHookEvent) -> None:
        completions.append(event)

    parent = aiohttp.web.Application()
    parent.add_subapp("/speech-events", receiver.app())
    async with serve(parent) as base:
        url = base + "/speech-events/"
        # the challenge needs no signature and reaches no callback
        status, text = await _post(url, b"", kind="challenge", params={"validationToken": "tok"})
        assert (status, text) == (200, "tok")
        # unsigned and wrongly signed requests are refused
        assert (await _post(url, BODY))[0] == 401
        assert (await _post(url, BODY, secret="wrong"))[0] == 401
        assert received == []
        # a signed notification is delivered, once
        assert (await _post(url, BODY, secret="s"))[0] == 200
        assert (await _post(url, BODY, secret="s"))[0] == 200  # a repeated delivery
        assert [e.invocation_id for e in received] == ["inv-1"]
        assert completions == received
        # a signed request that is not a notification is a 400
        assert (await _post(url, b"[]", secret="s"))[0] == 400


async def test_a_failing_callback_answers_500_and_the_retry_is_delivered() -> None:
    calls: list[str | None] = []

    def flaky(event: WebHookEvent) -> None:
        calls.append(event.invocation_id)
        if len(calls) == 1:
            raise RuntimeError("database down")

    receiver = WebhookReceiver(secret=None, on_event=flaky)
    async with serve(receiver.app()) as base:
        assert (await _post(base + "/", BODY))[0] == 500
        assert (await _post(base + "/", BODY))[0] == 200
        assert (await _post(base + "/", BODY))[0] == 200
    assert calls == ["inv-1", "inv-1"]


async def test_dedup_memory_is_bounded() -> None:
    seen: list[str | None] = []
    receiver = WebhookReceiver(
        secret=None, on_event=lambda e: seen.append(e.invocation_id), remember=2
    )
    async with serve(receiver.app()) as base:
        for invocation in ["a", "b", "c", "a"]:  # "a" was forgotten when "c" arrived
            body = json.dumps({"self": URL, "invocationId": invocation}).encode()
            await _post(base + "/", body)
    assert seen == ["a", "b", "c", "a"]


async def test_events_without_invocation_id_are_all_delivered() -> None:
    seen: list[WebHookEvent] = []
    receiver = WebhookReceiver(secret=None, handlers={"ping": seen.append})
    body = json.dumps({"self": URL}).encode()
    async with serve(receiver.app()) as base:
        await _post(base + "/", body, kind="Ping")
        await _post(base + "/", body, kind="Ping")
        await _post(base + "/", body, kind="modelCompletion")  # no handler for it
    assert [e.kind for e in seen] == ["ping", "ping"]


# -- hostile senders: bounded bodies, client errors without tracebacks -----------------------


async def _raw(base: str, head: bytes, body_parts: list[bytes]) -> tuple[int, int]:
    """Send a raw HTTP request (``head`` ends with the blank line); the status line's code
    and how many body bytes were written before the answer came."""
    url = yarl.URL(base)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(head)
        sent = 0
        for part in body_parts:
            writer.write(part)
            sent += len(part)
            await writer.drain()
        with anyio.fail_after(10):
            status_line = await reader.readline()
        return int(status_line.split()[1]), sent
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def _head(length: int | None, extra: bytes = b"") -> bytes:
    framing = (
        b"Transfer-Encoding: chunked\r\n" if length is None else b"Content-Length: %d\r\n" % length
    )
    return (
        b"POST / HTTP/1.1\r\nHost: x\r\n" + framing + EVENT_HEADER.encode()
        + b": transcriptionCompletion\r\nContent-Type: application/json\r\n" + extra + b"\r\n"
    )  # fmt: skip


async def test_a_body_over_the_limit_is_refused_before_it_is_read(caplog) -> None:
    received: list[WebHookEvent] = []
    receiver = WebhookReceiver(secret="s", on_event=received.append)
    # mounted in an application that would accept bodies of 1 GiB
    parent = aiohttp.web.Application(client_max_size=1024**3)
    parent.add_subapp("/hooks", receiver.app())
    async with serve(parent) as base:
        url = base + "/hooks/"
        # announced: answered from the header alone, nothing of the body is needed
        status, _ = await _raw(
            url, _head(300 * 1024 * 1024).replace(b"POST /", b"POST /hooks/"), []
        )
        assert status == 413
        # not announced (chunked): answered once 64 KiB have come, not at the end
        chunk = b"%x\r\n%s\r\n" % (16 * 1024, b" " * 16 * 1024)
        status, sent = await _raw(url, _head(None).replace(b"POST /", b"POST /hooks/"), [chunk] * 8)
        assert status == 413 and sent < 200 * 1024
        # a signed notification within the limit still gets through
        assert (await _post(url, BODY, secret="s"))[0] == 200
    assert len(received) == 1
    assert not [r for r in caplog.records if r.exc_info]


async def test_the_body_limit_is_configurable() -> None:
    receiver = WebhookReceiver(secret=None, on_event=lambda e: None, max_body_bytes=len(BODY))
    async with serve(receiver.app()) as base:
        assert (await _post(base + "/", BODY))[0] == 200
        assert (await _post(base + "/", BODY + b" "))[0] == 413


@pytest.mark.parametrize("option", ["max_body_bytes", "remember"])
@pytest.mark.parametrize("value", [0, -5, 2.5, "10", None, True])
def test_receiver_options_are_checked(option: str, value: object) -> None:
    with pytest.raises(InvalidInputError, match=option):
        WebhookReceiver(secret="s", **{option: value})


async def test_a_signature_of_non_utf8_bytes_is_a_401_without_a_traceback(caplog) -> None:
    receiver = WebhookReceiver(secret="s", on_event=lambda e: None)
    async with serve(receiver.app()) as base:
        body = b'{"self": "https://x/speechtotext/transcriptions/1"}'
        head = _head(len(body), SIGNATURE_HEADER.encode() + b": \xff\xfe\x80abc\r\n")
        status, _ = await _raw(base + "/", head, [body])
    assert status == 401
    assert not [r for r in caplog.records if r.exc_info]
    assert not verify_signature(body, "\udcff\udcfe", "s")
    assert not verify_signature(body, "é" * 44, "s")


@pytest.mark.parametrize(
    "body", [b"[" * 60_000, b'{"self": ' + b"[" * 50_000 + b"}", b"\xff\xfe{}", b"{" * 3]
)
async def test_bodies_that_are_not_notifications_are_a_400_without_a_traceback(
    caplog, body: bytes
) -> None:
    receiver = WebhookReceiver(secret=None, on_event=lambda e: None)
    async with serve(receiver.app()) as base:
        assert (await _post(base + "/", body))[0] == 400
    assert not [r for r in caplog.records if r.exc_info]
    with pytest.raises(InvalidInputError):
        parse_event({EVENT_HEADER: "ping"}, body)
