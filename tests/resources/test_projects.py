from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from speechrest import SpeechClient
from speechrest.errors import BadRequestError, InvalidInputError, NotFoundError
from speechrest.testing import Recording, SpeechEmulator, make_wav
from tests.audio_server import AudioServer
from tests.resources.custom_speech import FAST, POLL, base_model, custom_model, ready_dataset

pytestmark = pytest.mark.anyio


@pytest.fixture
async def emulator() -> AsyncIterator[SpeechEmulator]:
    async with SpeechEmulator(timing=FAST) as emu:
        yield emu


@pytest.fixture
def patched(emulator: SpeechEmulator) -> Recording:
    """The updates the emulator received, with their bodies."""
    return emulator.faults.record(method="PATCH")


async def test_create_get_update_delete(client: SpeechClient, patched: Recording) -> None:
    project = await client.projects.create(
        display_name="My speech project",
        locale="en-US",
        description="first",
        custom_properties={"team": "speech"},
        foundry_project_name="my-foundry-project",
    )
    assert project.foundry_project_name == "my-foundry-project"
    assert project.created_date_time is not None
    assert project.links is not None
    assert project.links.datasets is not None and project.id in project.links.datasets
    for ref in (project.id, project.self_ or "", project):
        assert (await client.projects.get(ref)).display_name == "My speech project"

    updated = await client.projects.update(
        project, foundry_project_name="other", display_name="Renamed"
    )
    [patch] = patched.requests
    assert patch.content_type == "application/merge-patch+json"
    assert patch.json() == {"displayName": "Renamed", "foundryProjectName": "other"}
    assert updated.display_name == "Renamed"
    assert updated.foundry_project_name == "other"
    assert updated.description == "first"  # untouched
    assert updated.custom_properties == {"team": "speech"}

    await client.projects.delete(project)
    await client.projects.delete(project)  # deleting again succeeds
    with pytest.raises(NotFoundError):
        await client.projects.get(project)


async def test_list_pages_and_filters(client: SpeechClient, emulator: SpeechEmulator) -> None:
    for i in range(5):
        await client.projects.create(
            display_name=f"p{i}", locale="en-US" if i % 2 else "de-DE", foundry_project_name=f"f{i}"
        )
    pages = [p async for p in client.projects.list(top=2).by_page()]
    assert [[x.display_name for x in p.values] for p in pages] == [
        ["p0", "p1"],
        ["p2", "p3"],
        ["p4"],
    ]
    assert pages[0].next_link is not None and "skip=2" in pages[0].next_link
    german = [p.display_name async for p in client.projects.list(filter="locale eq 'de-DE'")]
    assert german == ["p0", "p2", "p4"]
    foundry = [
        p.display_name async for p in client.projects.list(filter="foundryProjectName eq 'f3'")
    ]
    assert foundry == ["p3"]
    with pytest.raises(BadRequestError) as info:  # projects have no status
        await client.projects.list(filter="status eq 'Succeeded'").to_list()
    assert info.value.inner_code == "UnsupportedFilter"
    assert "en-US" in await client.projects.list_supported_locales()


async def test_project_lists_its_entities(client: SpeechClient, tmp_path: Path) -> None:
    project = await client.projects.create(display_name="all", locale="en-US")
    other = await client.projects.create(display_name="other", locale="en-US")
    dataset = await ready_dataset(client, tmp_path, project=project)
    await ready_dataset(client, tmp_path, project=other, locale="de-DE")
    base = await base_model(client)
    model = await custom_model(client, dataset, project=project)
    endpoint = await client.endpoints.create(
        model=model, locale="en-US", display_name="live", project=project
    )
    evaluation = await client.evaluations.create(
        model1=base,
        model2=model,
        dataset=dataset,
        locale="en-US",
        display_name="e",
        project=project,
    )
    async with AudioServer() as server:
        url = server.add("audio/a.wav", make_wav(seconds=0.5, comment="hello"))
        transcription = await client.transcriptions.submit(
            locale="en-US", content_urls=[url], display_name="t", project=project
        )
        # (its audio is fetched before the server that serves it stops)
        await client.transcriptions.wait(transcription, policy=POLL)

    assert [d.id async for d in client.projects.list_datasets(project)] == [dataset.id]
    assert [m.self_ async for m in client.projects.list_models(project)] == [model]
    assert [e.id async for e in client.projects.list_endpoints(project)] == [endpoint.id]
    assert [e.id async for e in client.projects.list_evaluations(project)] == [evaluation.id]
    assert [t.self_ async for t in client.projects.list_transcriptions(project)] == [
        transcription.self_
    ]
    succeeded = client.projects.list_datasets(project, filter="status eq 'Succeeded'", top=1)
    assert [d.id async for d in succeeded] == [dataset.id]
    assert [d.id async for d in client.projects.list_endpoints(other)] == []
    with pytest.raises(NotFoundError):
        await client.projects.list_datasets("00000000-0000-0000-0000-000000000000").to_list()
    await client.evaluations.wait(evaluation, policy=POLL)


async def test_service_rejects_unsupported_locale(client: SpeechClient) -> None:
    with pytest.raises(BadRequestError) as info:
        await client.projects.create(display_name="x", locale="xx-XX")
    assert info.value.inner_code == "InvalidLocale"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda c: c.projects.create(display_name="", locale="en-US"), "display_name"),
        (lambda c: c.projects.create(display_name="p", locale=""), "locale"),
        (lambda c: c.projects.create(display_name="p", locale=None), "locale"),
        (
            lambda c: c.projects.create(display_name="p", locale="en-US", custom_properties=[]),
            "dict",
        ),
        (
            lambda c: c.projects.create(display_name="p", locale="en-US", description=3),
            "description",
        ),
        (lambda c: c.projects.get("abc"), "UUID"),
        (lambda c: c.projects.get(None), "id"),
        (lambda c: c.projects.update("c6f6b6a4-1f0e-4a40-9a1c-0c4c1d1f1a2b"), "nothing"),
        (lambda c: c.projects.update("abc", display_name="x"), "UUID"),
        (lambda c: c.projects.delete("https://h/speechtotext/projects/nope"), "UUID"),
        (lambda c: c.projects.list(skip=-1).to_list(), "skip"),
        (lambda c: c.projects.list_models("abc").to_list(), "UUID"),
        (lambda c: c.projects.list_transcriptions(42).to_list(), "project"),
    ],
)
async def test_bad_input_sends_nothing(
    client: SpeechClient, emulator: SpeechEmulator, call: Any, match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        await call(client)
    assert len(emulator.requests) == 0
