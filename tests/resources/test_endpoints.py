from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from speechrest import SpeechClient
from speechrest.errors import BadRequestError, ConflictError, InvalidInputError, NotFoundError
from speechrest.testing import Recording, SpeechEmulator
from speechrest.types import Endpoint, Status
from tests.resources.custom_speech import FAST, POLL, base_model, custom_model, ready_dataset

pytestmark = pytest.mark.anyio


@pytest.fixture
async def emulator() -> AsyncIterator[SpeechEmulator]:
    async with SpeechEmulator(timing=FAST) as emu:
        yield emu


@pytest.fixture
def sent(emulator: SpeechEmulator) -> Recording:
    """The creates and updates of endpoints the emulator received, with their bodies."""
    return emulator.faults.record(path=r"/endpoints", method="POST")


@pytest.fixture
def patched(emulator: SpeechEmulator) -> Recording:
    return emulator.faults.record(path=r"/endpoints", method="PATCH")


async def test_deploy_update_delete(
    client: SpeechClient, sent: Recording, patched: Recording
) -> None:
    base = await base_model(client)
    endpoint = await client.endpoints.create(
        model=base, locale="en-US", display_name="live", logging_enabled=True
    )
    assert sent.requests[-1].json()["properties"] == {"loggingEnabled": True}
    assert sent.requests[-1].json()["model"] == {"self": base.self_}
    assert endpoint.status == Status.NOT_STARTED
    assert endpoint.properties is not None and endpoint.properties.logging_enabled is True
    assert endpoint.links is not None
    assert (endpoint.links.web_socket or "").startswith("ws://")
    assert endpoint.id in (endpoint.links.web_socket or "")

    seen: list[Status | None] = []
    done = await client.endpoints.wait(
        endpoint, policy=POLL, on_status=lambda e: seen.append(e.status)
    )
    assert seen[-1] == Status.SUCCEEDED and Status.RUNNING in seen
    assert done.status == Status.SUCCEEDED

    updated = await client.endpoints.update(done, logging_enabled=False, description="quiet")
    [patch] = patched.requests
    assert patch.content_type == "application/merge-patch+json"
    assert patch.json() == {"description": "quiet", "properties": {"contentLoggingEnabled": False}}
    assert updated.properties is not None and updated.properties.logging_enabled is False
    assert updated.display_name == "live" and updated.status == Status.SUCCEEDED

    await client.endpoints.delete(endpoint.id)
    with pytest.raises(NotFoundError):
        await client.endpoints.get(endpoint)


async def test_custom_model_endpoint_and_redeploy(
    client: SpeechClient, emulator: SpeechEmulator, tmp_path: Path
) -> None:
    dataset = await ready_dataset(client, tmp_path)
    custom = await custom_model(client, dataset)
    base = await base_model(client)
    emulator.state.timing = attrs.evolve(FAST, queue_delay=1.0)  # stays NotStarted a while
    endpoint = await client.endpoints.create(model=custom, locale="en-US", display_name="custom")
    with pytest.raises(ConflictError) as info:  # still deploying
        await client.endpoints.update(endpoint, model=base)
    assert info.value.inner_code == "EndpointNotUpdatable"
    emulator.state.timing = FAST
    await client.endpoints.wait(endpoint, policy=POLL)
    redeployed = await client.endpoints.update(endpoint, model=base)
    assert redeployed.model is not None and redeployed.model.self_ == base.self_
    assert redeployed.status == Status.NOT_STARTED
    assert (await client.endpoints.wait(endpoint, policy=POLL)).status == Status.SUCCEEDED


async def test_list_pages_and_filters(client: SpeechClient) -> None:
    base = await base_model(client)
    created: list[Endpoint] = []
    for i in range(3):
        created.append(
            await client.endpoints.create(model=base, locale="en-US", display_name=f"e{i}")
        )
    await client.endpoints.wait(created[0], policy=POLL)
    pages = [p async for p in client.endpoints.list(top=2).by_page()]
    assert [[e.display_name for e in p.values] for p in pages] == [["e0", "e1"], ["e2"]]
    named = [e.id async for e in client.endpoints.list(filter="displayName eq 'e2'")]
    assert named == [created[2].id]
    assert "en-US" in await client.endpoints.list_supported_locales()


async def test_service_checks_the_model(client: SpeechClient) -> None:
    german = await base_model(client, "de-DE")
    with pytest.raises(BadRequestError) as info:
        await client.endpoints.create(model=german, locale="en-US", display_name="x")
    assert info.value.inner_code == "ModelMismatch"
    with pytest.raises(BadRequestError) as info:
        await client.endpoints.create(
            model="00000000-0000-0000-0000-00000000abcd", locale="en-US", display_name="x"
        )
    assert info.value.inner_code == "InvalidModel"


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ({"model": 42}, "model"),
        ({"model": "latest"}, "model"),
        ({"logging_enabled": "yes"}, "logging_enabled"),
        ({"locale": " en-US"}, "locale"),
        ({"project": "p"}, "project"),
        ({"custom_properties": dict.fromkeys("abcdefghijk", "v")}, "10"),
    ],
)
async def test_bad_input_sends_nothing(
    client: SpeechClient, emulator: SpeechEmulator, args: dict[str, Any], match: str
) -> None:
    full: dict[str, Any] = {
        "model": "827712a5-f942-4997-91c3-7c6cde35600b",
        "locale": "en-US",
        "display_name": "e",
        **args,
    }
    with pytest.raises(InvalidInputError, match=match):
        await client.endpoints.create(**full)
    with pytest.raises(InvalidInputError, match="logging_enabled"):
        await client.endpoints.update("827712a5-f942-4997-91c3-7c6cde35600b", logging_enabled=1)  # type: ignore[arg-type]
    assert len(emulator.requests) == 0
