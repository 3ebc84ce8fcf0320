from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from speechrest import SpeechClient
from speechrest.errors import BadRequestError, ConflictError, InvalidInputError, NotFoundError
from speechrest.testing import SpeechEmulator
from speechrest.types import Dataset, DatasetKind, EntityReference, FileKind, Status
from tests.resources.custom_speech import (
    FAST,
    POLL,
    acoustic_zip,
    base_model,
    custom_model,
    ready_dataset,
)

pytestmark = pytest.mark.anyio

WORDS = {f"clip{i}.wav": " ".join(f"word{i}{j}" for j in range(10)) for i in range(6)}


@pytest.fixture
async def emulator() -> AsyncIterator[SpeechEmulator]:
    async with SpeechEmulator(timing=FAST) as emu:
        yield emu


@pytest.fixture
async def dataset(client: SpeechClient, tmp_path: Path) -> Dataset:
    return await ready_dataset(client, tmp_path, data=acoustic_zip(WORDS))


async def test_evaluate_base_against_custom(
    client: SpeechClient, emulator: SpeechEmulator, dataset: Dataset
) -> None:
    base = await base_model(client)
    custom = await custom_model(client, dataset)
    project = await client.projects.create(display_name="eval", locale="en-US")
    evaluation = await client.evaluations.create(
        model1=base,  # an object
        model2=custom.split("?")[0].rsplit("/", 1)[-1],  # an id
        dataset=dataset.self_ or "",  # a URL
        locale="en-US",
        display_name="base vs custom",
        project=project,
    )
    assert evaluation.status == Status.NOT_STARTED
    assert evaluation.model1.self_ == base.self_
    assert evaluation.model2.id == EntityReference(self_=custom).id
    assert evaluation.dataset.id == dataset.id

    done = await client.evaluations.wait(evaluation, policy=POLL)
    props = done.properties
    assert props is not None
    assert props.word_count1 == props.word_count2 == 60
    assert props.sentence_count1 == props.sentence_count2 == 6
    assert props.word_error_rate1 is not None and props.word_error_rate2 is not None
    assert 0 < props.word_error_rate2 < props.word_error_rate1 < 0.2  # custom does better
    errors = (
        (props.word_substitution_count1 or 0)
        + (props.word_deletion_count1 or 0)
        + (props.word_insertion_count1 or 0)
    )
    assert props.word_error_rate1 == round(errors / 60, 4)
    assert props.correct_word_count1 == 60 - (props.word_substitution_count1 or 0) - (
        props.word_deletion_count1 or 0
    )
    assert props.token_errors2 is not None and props.token_errors2.lexical is not None

    # The same models on the same data give the same figures.
    again = await client.evaluations.create(
        model1=base, model2=custom, dataset=dataset, locale="en-US", display_name="again"
    )
    again = await client.evaluations.wait(again, policy=POLL)
    assert again.properties is not None
    assert again.properties.word_error_rate1 == props.word_error_rate1

    files = [f async for f in client.evaluations.list_files(done, top=5)]
    assert len(files) == 12
    assert {f.kind for f in files} == {FileKind.EVALUATION_DETAILS}
    assert {f.name for f in files} >= {"clip0.wav.model1_score.json", "clip5.wav.model2_score.json"}
    one = await client.evaluations.get_file(done, files[0].id, sas_lifetime_minutes=10)
    assert one.links is not None and one.links.content_url is not None
    async with aiohttp.ClientSession() as session, session.get(one.links.content_url) as resp:
        detail = json.loads(await resp.read())
    assert detail["audioFileName"] in WORDS

    listed = [e.id async for e in client.projects.list_evaluations(project)]
    assert listed == [evaluation.id]


async def test_update_list_delete(client: SpeechClient, dataset: Dataset) -> None:
    base = await base_model(client)
    created = [
        await client.evaluations.create(
            model1=base, model2=base, dataset=dataset, locale="en-US", display_name=f"e{i}"
        )
        for i in range(3)
    ]
    pages = [p async for p in client.evaluations.list(top=2).by_page()]
    assert [len(p.values) for p in pages] == [2, 1]
    updated = await client.evaluations.update(
        created[0], description="described", custom_properties={"k": "v"}
    )
    assert updated.display_name == "e0" and updated.description == "described"
    assert updated.custom_properties == {"k": "v"}
    named = [e.display_name async for e in client.evaluations.list(filter="displayName eq 'e1'")]
    assert named == ["e1"]
    for e in created:
        await client.evaluations.delete(e)
    with pytest.raises(NotFoundError):
        await client.evaluations.get(created[0])
    assert "en-US" in await client.evaluations.list_supported_locales()


async def test_dataset_in_use_cannot_be_deleted(client: SpeechClient, dataset: Dataset) -> None:
    base = await base_model(client)
    evaluation = await client.evaluations.create(
        model1=base, model2=base, dataset=dataset, locale="en-US", display_name="uses data"
    )
    with pytest.raises(ConflictError) as info:
        await client.datasets.delete(dataset)
    assert info.value.inner_code == "InUseViolation"
    await client.evaluations.delete(evaluation)
    await client.datasets.delete(dataset)
    with pytest.raises(NotFoundError):
        await client.datasets.get(dataset)


async def test_service_checks_references_and_locales(
    client: SpeechClient, dataset: Dataset, tmp_path: Path
) -> None:
    base = await base_model(client)
    german = await base_model(client, "de-DE")
    unknown = "00000000-0000-0000-0000-00000000abcd"
    language = await ready_dataset(client, tmp_path, kind=DatasetKind.LANGUAGE)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"dataset": unknown}, "InvalidDataset"),
        ({"dataset": language}, "InvalidDataset"),  # not audio with transcripts
        ({"model2": unknown}, "InvalidModel"),
        ({"model2": german}, "ModelMismatch"),
        ({"locale": "de-DE", "model1": german, "model2": german}, "InvalidLocale"),
        ({"project": unknown}, "InvalidProject"),
    ]
    for change, inner in cases:
        args: dict[str, Any] = {
            "model1": base,
            "model2": base,
            "dataset": dataset,
            "locale": "en-US",
            "display_name": "bad",
            **change,
        }
        with pytest.raises(BadRequestError) as info:
            await client.evaluations.create(**args)
        assert info.value.inner_code == inner, change
    assert [e async for e in client.evaluations.list()] == []


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"model1": 42}, "model1"),
        ({"model2": "not-a-uuid"}, "model2"),
        ({"dataset": EntityReference(self_="https://x/speechtotext/datasets/nope")}, "dataset"),
        ({"locale": ""}, "locale"),
        ({"display_name": ""}, "display_name"),
        ({"custom_properties": {"k": 1}}, "strings"),
    ],
)
async def test_bad_input_sends_nothing(
    client: SpeechClient, emulator: SpeechEmulator, change: dict[str, Any], match: str
) -> None:
    args: dict[str, Any] = {
        "model1": "8a043172-65b7-4cf3-a8b5-4449efa5a0f1",
        "model2": "827712a5-f942-4997-91c3-7c6cde35600b",
        "dataset": "9d5f4100-5f8e-4dd6-bd83-9bbbf50d57f1",
        "locale": "en-US",
        "display_name": "e",
        **change,
    }
    before = len(emulator.requests)
    with pytest.raises(InvalidInputError, match=match):
        await client.evaluations.create(**args)
    with pytest.raises(InvalidInputError):
        await client.evaluations.update("9d5f4100-5f8e-4dd6-bd83-9bbbf50d57f1")
    assert len(emulator.requests) == before
