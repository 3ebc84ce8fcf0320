from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from speechrest import SpeechClient
from speechrest.errors import BadRequestError, ConflictError, InvalidInputError, NotFoundError
from speechrest.testing import ScriptedRecognizer, SpeechEmulator
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
REFERENCE = {
    "one.wav": "hello world",
    "two.wav": "the weather today is sunny",
    "three.wav": "please call me back tomorrow morning",
}
HEARD = {
    "one.wav": "Hello world.",  # no error (case and punctuation are not word errors)
    "two.wav": "The weather is sunny.",  # "today" deleted
    "three.wav": "Please call me back tomorrow evening today.",  # 1 substitution, 1 insertion
}


@pytest.fixture
async def emulator() -> AsyncIterator[SpeechEmulator]:
    async with SpeechEmulator(timing=FAST) as emu:
        yield emu


@pytest.fixture
async def dataset(client: SpeechClient, tmp_path: Path) -> Dataset:
    return await ready_dataset(client, tmp_path, data=acoustic_zip(WORDS))


async def test_word_error_rates_are_computed_from_what_is_heard(
    client: SpeechClient, emulator: SpeechEmulator, tmp_path: Path
) -> None:
    dataset = await ready_dataset(
        client, tmp_path, data=acoustic_zip(REFERENCE, heard=HEARD, seconds=1)
    )
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
    # WER = (I + D + S) / N over the reference's 13 words (Learn): (1 + 1 + 1) / 13.
    assert props.word_count1 == props.word_count2 == 13
    assert props.sentence_count1 == 3
    assert (
        props.word_substitution_count1,
        props.word_deletion_count1,
        props.word_insertion_count1,
    ) == (1, 1, 1)
    assert props.word_error_rate1 == props.word_error_rate2 == round(3 / 13, 4)
    assert props.correct_word_count1 == 11
    assert props.sentence_error_rate1 == round(2 / 3, 4)
    # Display-form tokens: the reference has no punctuation or capitals, so the three
    # sentences' first capitals and final full stops are token errors too.
    assert props.token_errors1 is not None
    assert props.token_errors1.punctuation.number_of_edits == 3  # type: ignore[union-attr]
    assert props.token_errors1.capitalization.number_of_edits == 3  # type: ignore[union-attr]
    assert props.token_errors1.lexical.number_of_edits == 3  # type: ignore[union-attr]

    files = [f async for f in client.evaluations.list_files(done, top=5)]
    assert len(files) == 6
    assert {f.kind for f in files} == {FileKind.EVALUATION_DETAILS}
    assert {f.name for f in files} >= {"one.wav.model1_score.json", "two.wav.model2_score.json"}
    [two] = [f for f in files if f.name == "two.wav.model1_score.json"]
    one = await client.evaluations.get_file(done, two.id, sas_lifetime_minutes=10)
    assert one.links is not None and one.links.content_url is not None
    async with aiohttp.ClientSession() as session, session.get(one.links.content_url) as resp:
        detail = json.loads(await resp.read())
    assert detail["audioFileName"] == "two.wav"
    assert detail["recognized"] == "The weather is sunny."  # what was heard
    assert (detail["wordErrorRate"], detail["wordDeletionCount"]) == (0.2, 1)

    listed = [e.id async for e in client.projects.list_evaluations(project)]
    assert listed == [evaluation.id]


async def test_transcriptions_given_are_scored(
    client: SpeechClient, emulator: SpeechEmulator, tmp_path: Path
) -> None:
    """transcription1/transcription2: batch transcriptions of the dataset's audio (a
    dataset source) are scored instead of transcribing anew."""
    dataset = await ready_dataset(
        client, tmp_path, data=acoustic_zip(REFERENCE, heard=REFERENCE, seconds=1)
    )
    base = await base_model(client)
    job = await client.transcriptions.submit(dataset=dataset, locale="en-US")
    job = await client.transcriptions.wait(job, policy=POLL)
    # From now on the recognizer hears something else: only model2 is transcribed anew.
    emulator.state.recognizer = ScriptedRecognizer(lambda audio: "Nothing like it.")
    evaluation = await client.evaluations.create(
        model1=base,
        model2=base,
        dataset=dataset,
        locale="en-US",
        display_name="given",
        transcription1=job,
    )
    assert evaluation.transcription1 is not None and evaluation.transcription1.id == job.id
    done = await client.evaluations.wait(evaluation, policy=POLL)
    assert done.properties is not None
    assert done.properties.word_error_rate1 == 0.0  # the job heard the references exactly
    # "Nothing like it." for each: (2 S + 1 I) + (3 S + 2 D) + (3 S + 3 D) = 14 over 13 words.
    assert done.properties.word_error_rate2 == round(14 / 13, 4)


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
