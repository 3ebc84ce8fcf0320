from __future__ import annotations

import base64
import hashlib
import hmac
import json

import aiohttp
import pytest

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
