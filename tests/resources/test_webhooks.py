from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from speechrest import SpeechClient, make_converter
from speechrest.errors import (
    BadRequestError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    OperationFailedError,
)
from speechrest.testing import SpeechEmulator
from speechrest.types import Status, WebHook, WebHookEventKind, WebHookEvents, WebHookUpdate
from speechrest.webhooks import SIGNATURE_HEADER, verify_signature
from tests._sink import Sink
from tests.conftest import load_example
from tests.resources.custom_speech import FAST, POLL

pytestmark = pytest.mark.anyio


@pytest.fixture
async def emulator() -> AsyncIterator[SpeechEmulator]:
    async with SpeechEmulator(timing=FAST) as emu:
        yield emu


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    async with Sink().running() as s:
        yield s


@pytest.mark.parametrize(
    ("example", "parts"),
    [
        ("create_web_hook.json", [("parameters", "webHook"), ("responses", "201", "body")]),
        ("update_web_hook.json", [("responses", "200", "body")]),
        ("get_web_hook.json", [("responses", "200", "body")]),
    ],
)
def test_examples_round_trip_strictly(example, parts) -> None:
    converter = make_converter(strict=True)
    data = load_example(example)
    for path in parts:
        body = data
        for key in path:
            body = body[key]
        hook = converter.structure(body, WebHook)
        assert converter.unstructure(hook) == body
    update = load_example("update_web_hook.json")["parameters"]["webHookUpdate"]
    assert converter.unstructure(converter.structure(update, WebHookUpdate)) == update


@pytest.mark.parametrize("example", ["get_web_hooks.json", "get_web_hooks_from_march_2020.json"])
def test_list_examples_round_trip_strictly(example) -> None:
    converter = make_converter(strict=True)
    for body in load_example(example)["responses"]["200"]["body"]["values"]:
        assert converter.unstructure(converter.structure(body, WebHook)) == body


def test_secret_is_not_in_repr() -> None:
    body = load_example("create_web_hook.json")["responses"]["201"]["body"]
    hook = make_converter().structure(body, WebHook)
    assert hook.properties is not None and hook.properties.secret
    assert hook.properties.secret not in repr(hook)


def test_events_from_kinds() -> None:
    events = WebHookEvents.of(["modelCompletion", WebHookEventKind.PING])
    assert events.model_completion is True and events.ping is True
    assert events.kinds == [WebHookEventKind.MODEL_COMPLETION, WebHookEventKind.PING]
    assert "ping" in events and "datasetCreation" not in events


async def test_create_challenges_the_url_then_activates(client: SpeechClient, sink: Sink) -> None:
    hook = await client.webhooks.create(
        sink.url, events={"modelCreation": True}, secret="s3cret", display_name="hooks"
    )
    assert hook.status == Status.NOT_STARTED
    assert hook.properties is not None and hook.properties.api_version == "2025-10-15"
    assert hook.links is not None and hook.links.ping is not None
    assert hook.links.ping.split("?")[0].endswith(f"{hook.id}:ping")
    hook = await client.webhooks.wait(hook, policy=POLL)
    assert hook.status == Status.SUCCEEDED
    [challenge] = sink.requests
    assert challenge.headers["X-MicrosoftSpeechServices-Event"] == "challenge"
    assert "validationToken" in challenge.query
    assert sink.events == []  # the challenge reaches no callback


async def test_a_failed_challenge_fails_the_hook(client: SpeechClient, sink: Sink) -> None:
    sink.wrong_token = True
    hook = await client.webhooks.create(sink.url, events=["ping"], secret="s3cret")
    with pytest.raises(OperationFailedError) as failure:
        await client.webhooks.wait(hook, policy=POLL)
    assert failure.value.code == "InvalidCallbackUri"
    with pytest.raises(ConflictError):
        await client.webhooks.ping(hook)  # not active


async def test_signed_notifications_for_registered_events(
    client: SpeechClient, emulator: SpeechEmulator, sink: Sink
) -> None:
    hook = await client.webhooks.create(sink.url, events=["modelDeletion"], secret="s3cret")
    await client.webhooks.wait(hook, policy=POLL)
    url = emulator.state.url("/models/0c2c0a2f-6a55-4f62-9d42-3f7b1b2d3e4f")
    await emulator.state.emit("modelCreation", url)  # not registered: not sent
    await emulator.state.emit("modelDeletion", url)
    event = await sink.wait_kind("modelDeletion")
    assert event.self_ == url and event.invocation_id
    assert sink.kinds() == ["modelDeletion"]
    request = sink.requests[-1]
    assert verify_signature(await request.read(), request.headers[SIGNATURE_HEADER], "s3cret")


async def test_ping_sends_the_hook_itself(client: SpeechClient, sink: Sink) -> None:
    hook = await client.webhooks.create(sink.url, events=["ping"], secret="s3cret")
    hook = await client.webhooks.wait(hook, policy=POLL)
    await client.webhooks.ping(hook.id)
    event = await sink.wait_kind("ping")
    assert event.entity_id == hook.id
    assert event.payload["webUrl"] == sink.url


async def test_test_sends_the_last_entity_of_each_kind(
    client: SpeechClient, emulator: SpeechEmulator, sink: Sink
) -> None:
    hook = await client.webhooks.create(
        sink.url, events=["transcriptionCompletion"], secret="s3cret"
    )
    hook = await client.webhooks.wait(hook, policy=POLL)
    assert await client.webhooks.test(hook) is False  # nothing to send yet
    url = emulator.state.url("/transcriptions/5f0f5a29-58f7-4e26-a8a8-8a3b8f5a2c11")
    await emulator.state.emit("transcriptionCompletion", url)
    await sink.wait_kind("transcriptionCompletion")
    assert await client.webhooks.test(hook) is True
    await sink.wait_for(lambda events: len(events) == 2)
    assert [e.self_ for e in sink.events] == [url, url]
    assert sink.events[0].invocation_id != sink.events[1].invocation_id


async def test_failing_deliveries_disable_the_hook_and_ensure_active_recovers(
    client: SpeechClient, emulator: SpeechEmulator, sink: Sink
) -> None:
    hook = await client.webhooks.create(sink.url, events=["datasetCompletion"], secret="s3cret")
    await client.webhooks.wait(hook, policy=POLL)
    assert (await client.webhooks.ensure_active(hook)).status == Status.SUCCEEDED  # no-op
    sink.status = 500
    await emulator.state.emit("datasetCompletion", emulator.state.url("/datasets/x"))
    with anyio.fail_after(20):  # Failed after 3 attempts
        while (failed := await client.webhooks.get(hook)).status != Status.FAILED:
            await anyio.sleep(0.01)
    assert failed.properties is not None and failed.properties.error is not None
    assert failed.properties.error.code == "InvalidCallbackUri"
    assert len(sink.requests) == 1 + 3  # the challenge, then three attempts
    sink.status = 200
    hook = await client.webhooks.ensure_active(hook, wait=True, policy=POLL)
    assert hook.status == Status.SUCCEEDED
    assert hook.properties is not None and hook.properties.error is None
    await emulator.state.emit("datasetCompletion", emulator.state.url("/datasets/y"))
    await sink.wait_kind("datasetCompletion")


async def test_update_changes_url_events_and_secret(client: SpeechClient, sink: Sink) -> None:
    hook = await client.webhooks.create(sink.url, events=["ping"], secret="s3cret")
    await client.webhooks.wait(hook, policy=POLL)
    async with Sink(secret=None).running() as other:
        hook = await client.webhooks.update(
            hook, web_url=other.url, events=["ping", "modelCompletion"], secret=""
        )
        assert hook.status == Status.NOT_STARTED  # the new URL is challenged
        hook = await client.webhooks.wait(hook, policy=POLL)
        assert hook.events.kinds == [WebHookEventKind.MODEL_COMPLETION, WebHookEventKind.PING]
        assert hook.properties is not None and hook.properties.secret is None
        await client.webhooks.ping(hook)
        await other.wait_kind("ping")
        assert SIGNATURE_HEADER not in other.requests[-1].headers  # no secret, no signature


async def test_list_get_delete(client: SpeechClient, sink: Sink) -> None:
    first = await client.webhooks.create(sink.url, events=["ping"], display_name="first")
    second = await client.webhooks.create(sink.url, events=["ping"], display_name="second")
    listed = await client.webhooks.list(top=1).to_list()
    assert {h.id for h in listed} == {first.id, second.id}
    named = await client.webhooks.list(filter="displayName eq 'second'").to_list()
    assert [h.id for h in named] == [second.id]
    assert (await client.webhooks.get(first.self_ or "")).display_name == "first"
    await client.webhooks.delete(first)
    with pytest.raises(NotFoundError):
        await client.webhooks.get(first.id)


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"web_url": "not a url", "events": ["ping"]}, "web_url"),
        ({"web_url": "ftp://x/y", "events": ["ping"]}, "web_url"),
        ({"web_url": "https://x/y", "events": ["transcriptionDone"]}, "event kind"),
        ({"web_url": "https://x/y", "events": []}, "no event"),
        ({"web_url": "https://x/y", "events": {"ping": False}}, "no event"),
        ({"web_url": "https://x/y", "events": ["ping"], "secret": 5}, "secret"),
    ],
)
async def test_bad_input_is_refused_before_any_request(
    client: SpeechClient, emulator: SpeechEmulator, kwargs, problem
) -> None:
    before = len(emulator.requests)
    with pytest.raises(InvalidInputError, match=problem):
        await client.webhooks.create(**kwargs)
    with pytest.raises(InvalidInputError, match="UUID"):
        await client.webhooks.ping("not-an-id")
    assert len(emulator.requests) == before


async def test_emulator_refuses_unknown_event_kinds(client: SpeechClient) -> None:
    with pytest.raises(BadRequestError) as error:
        await client.webhooks._api.request(
            "POST",
            "/webhooks",
            operation="WebHooks_Create",
            json={"displayName": "x", "webUrl": "https://x/y", "events": {"nope": True}},
        )
    assert error.value.code == "InvalidArgument"
    assert error.value.inner_code == "InvalidWebHookEventKind"
