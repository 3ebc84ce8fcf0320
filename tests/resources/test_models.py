from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import attrs
import pytest

from speechrest import SpeechClient, make_converter
from speechrest.errors import (
    BadRequestError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    OperationFailedError,
    PermissionDeniedError,
)
from speechrest.testing import SpeechEmulator
from speechrest.types import (
    BaseModel,
    CustomModel,
    File,
    FileKind,
    ModelCopyAuthorization,
    ModelCopyAuthorizationDefinition,
    ModelManifest,
    ModelUpdate,
    Operation,
    Status,
)
from tests.conftest import load_example
from tests.resources.custom_speech import FAST, POLL

pytestmark = pytest.mark.anyio

SOURCE = "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/src"


@pytest.fixture
async def emulator() -> AsyncIterator[SpeechEmulator]:
    async with SpeechEmulator(timing=FAST) as emu:
        yield emu


def add_dataset(
    emulator: SpeechEmulator, *, locale: str = "en-US", kind: str = "Language", status="Succeeded"
) -> str:
    """A dataset as the datasets group stores it; returns its URL."""
    dataset_id = str(uuid.uuid4())
    url = emulator.state.url(f"/datasets/{dataset_id}")
    emulator.state.stores.datasets[dataset_id] = {
        "self": url,
        "displayName": "data",
        "locale": locale,
        "kind": kind,
        "status": status,
    }
    return url


async def trained(client: SpeechClient, emulator: SpeechEmulator, **options) -> CustomModel:
    model = await client.models.create(
        display_name="calls", locale="en-US", datasets=[add_dataset(emulator)], **options
    )
    return await client.models.wait(model, policy=POLL)


EXAMPLES = [
    ("create_model.json", ("parameters", "model"), CustomModel),
    ("create_model.json", ("responses", "201", "body"), CustomModel),
    ("create_model_with_weight.json", ("parameters", "model"), CustomModel),
    ("get_model.json", ("responses", "200", "body"), CustomModel),
    ("get_model_with_weight.json", ("responses", "200", "body"), CustomModel),
    ("update_model.json", ("parameters", "modelUpdate"), ModelUpdate),
    ("update_model.json", ("responses", "200", "body"), CustomModel),
    ("get_base_model.json", ("responses", "200", "body"), BaseModel),
    ("get_base_model_manifest.json", ("responses", "200", "body"), ModelManifest),
    ("get_model_file.json", ("responses", "200", "body"), File),
    (
        "create_copy_model_authorization.json",
        ("parameters", "modelCopyAuthorizationDefinition"),
        ModelCopyAuthorizationDefinition,
    ),
    ("create_copy_model_authorization.json", ("responses", "200", "body"), ModelCopyAuthorization),
    (
        "copy_model_with_authorization.json",
        ("parameters", "modelCopyAuthorization"),
        ModelCopyAuthorization,
    ),
    ("copy_model_with_authorization.json", ("responses", "202", "body"), Operation),
]
LIST_EXAMPLES = [
    ("get_running_models.json", CustomModel),
    ("get_english_base_models.json", BaseModel),
    ("get_model_files.json", File),
]


@pytest.mark.parametrize(("example", "path", "cls"), EXAMPLES)
def test_examples_round_trip_strictly(example, path, cls) -> None:
    converter = make_converter(strict=True)
    body = load_example(example)
    for key in path:
        body = body[key]
    assert converter.unstructure(converter.structure(body, cls)) == body


@pytest.mark.parametrize(("example", "cls"), LIST_EXAMPLES)
def test_list_examples_round_trip_strictly(example, cls) -> None:
    converter = make_converter(strict=True)
    for body in load_example(example)["responses"]["200"]["body"]["values"]:
        assert converter.unstructure(converter.structure(body, cls)) == body


async def test_base_models_and_locales(client: SpeechClient) -> None:
    bases = await client.models.list_base_models().to_list()
    assert {b.locale for b in bases} >= {"en-US", "de-DE"}
    for base in bases:
        assert base.status == Status.SUCCEEDED
        assert base.properties is not None and base.properties.features is not None
        assert base.properties.deprecation_dates is not None
    german = await client.models.list_base_models(filter="locale eq 'de-DE'").to_list()
    assert [b.locale for b in german] == ["de-DE"]
    assert (await client.models.get_base_model(german[0].self_ or "")).id == german[0].id
    locales = await client.models.list_supported_locales()
    assert "en-US" in locales and "de-DE" in locales


async def test_manifests_need_a_sas_lifetime(
    client: SpeechClient, emulator: SpeechEmulator
) -> None:
    base = (await client.models.list_base_models().to_list())[0]
    before = len(emulator.requests)
    with pytest.raises(InvalidInputError, match="sas_lifetime_minutes is required"):
        await client.models.get_base_model_manifest(base, sas_lifetime_minutes=None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="sas_lifetime_minutes"):
        await client.models.get_manifest(str(uuid.uuid4()), sas_lifetime_minutes=0)
    assert len(emulator.requests) == before
    manifest = await client.models.get_base_model_manifest(base, sas_lifetime_minutes=30)
    assert manifest.model.self_ == base.self_
    assert manifest.model_files and manifest.properties["IN_BeamSize"] == 5000
    se = datetime.fromisoformat(manifest.model_files[0].content_url.split("se=")[1].split("&")[0])
    assert timedelta(minutes=29) < se - datetime.now(UTC) <= timedelta(minutes=30)
    async with (  # a SAS URL: no key needed
        aiohttp.ClientSession() as session,
        session.get(manifest.model_files[0].content_url or "") as response,
    ):
        assert response.status == 200


async def test_train_a_model(client: SpeechClient, emulator: SpeechEmulator) -> None:
    dataset = add_dataset(emulator)
    created = await client.models.create(
        display_name="calls",
        locale="en-US",
        datasets=[dataset],
        description="call centre",
        custom_properties={"team": "support"},
        custom_model_weight_percent=42,
    )
    assert created.status == Status.NOT_STARTED
    assert (
        created.datasets is not None
        and created.datasets[0].id == dataset.split("/")[-1].split("?")[0]
    )
    assert created.base_model is not None  # the newest base model of the locale
    seen: list[Status | None] = []
    model = await client.models.wait(
        created, policy=POLL, on_status=lambda m: seen.append(m.status)
    )
    assert model.status == Status.SUCCEEDED and seen[-1] == Status.SUCCEEDED
    assert model.properties is not None and model.properties.custom_model_weight_percent == 42
    assert model.properties.features is not None
    assert model.properties.features.supports_transcriptions_submit is True
    [report] = await client.models.list_files(model, sas_lifetime_minutes=5).to_list()
    assert report.kind == FileKind.MODEL_REPORT and report.name == "report.json"
    assert (await client.models.get_file(model, report)).name == "report.json"
    manifest = await client.models.get_manifest(model.id, sas_lifetime_minutes=60)
    assert manifest.model.id == model.id
    assert any(model.id in (f.name or "") for f in manifest.model_files)
    assert [m.id for m in await client.models.list(filter="displayName eq 'calls'").to_list()] == [
        model.id
    ]
    updated = await client.models.update(model, display_name="calls v2")
    assert updated.display_name == "calls v2" and updated.description == "call centre"
    await client.models.delete(model)
    with pytest.raises(NotFoundError):
        await client.models.get(model.id)
    await client.models.delete(model)  # deleting again is fine (204)


async def test_a_manifest_waits_for_training(
    client: SpeechClient, emulator: SpeechEmulator
) -> None:
    model = await client.models.create(
        display_name="m", locale="en-US", datasets=[add_dataset(emulator)]
    )
    with pytest.raises(BadRequestError) as error:
        await client.models.get_manifest(model, sas_lifetime_minutes=5)
    assert error.value.inner_code == "InvalidModel"


async def test_training_fails_when_a_dataset_disappears(
    client: SpeechClient, emulator: SpeechEmulator
) -> None:
    dataset = add_dataset(emulator)
    model = await client.models.create(display_name="m", locale="en-US", datasets=[dataset])
    emulator.state.stores.datasets.clear()
    with pytest.raises(OperationFailedError) as failure:
        await client.models.wait(model, policy=POLL)
    assert failure.value.code == "FailedDataset"
    assert failure.value.entity.status == Status.FAILED


@pytest.mark.parametrize(
    ("dataset", "base", "inner"),
    [
        ({"status": "Running"}, None, "InvalidDataset"),
        ({"status": "Failed"}, None, "FailedDataset"),
        ({"locale": "de-DE"}, None, "InvalidDataset"),
        ({"kind": "AudioFiles"}, None, "InvalidAdaptationMapping"),
        ({}, "1aae1070-7972-47e9-a977-87e3b05c457d", "ModelDeprecated"),
        ({}, "5b6ee0f3-5f54-4b24-a2f7-fcd0c5ab6b6a", "InvalidBaseModel"),  # a de-DE base
    ],
)
async def test_the_service_checks_datasets_and_base_model(
    client: SpeechClient, emulator: SpeechEmulator, dataset, base, inner
) -> None:
    with pytest.raises(BadRequestError) as error:
        await client.models.create(
            display_name="m",
            locale="en-US",
            datasets=[add_dataset(emulator, **dataset)],
            base_model=base,
        )
    assert error.value.inner_code == inner


async def test_unknown_dataset_is_refused(client: SpeechClient) -> None:
    with pytest.raises(BadRequestError) as error:
        await client.models.create(display_name="m", locale="en-US", datasets=[str(uuid.uuid4())])
    assert error.value.inner_code == "InvalidDataset"


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"datasets": []}, "datasets is empty"),
        ({"datasets": "abc"}, "list of datasets"),
        ({"datasets": ["not-a-uuid"]}, "UUID"),
        ({"custom_model_weight_percent": 0}, "between 1 and 100"),
        ({"custom_model_weight_percent": 101}, "between 1 and 100"),
        ({"custom_model_weight_percent": True}, "custom_model_weight_percent must be an integer"),
        ({"display_name": " "}, "display_name"),
        ({"base_model": "nope"}, "UUID"),
    ],
)
async def test_bad_input_is_refused_before_any_request(
    client: SpeechClient, emulator: SpeechEmulator, kwargs, problem
) -> None:
    arguments = {"display_name": "m", "locale": "en-US", "datasets": [str(uuid.uuid4())], **kwargs}
    before = len(emulator.requests)
    with pytest.raises(InvalidInputError, match=problem):
        await client.models.create(**arguments)
    assert len(emulator.requests) == before


async def test_a_model_in_use_by_an_endpoint_cannot_be_deleted(
    client: SpeechClient, emulator: SpeechEmulator
) -> None:
    model = await trained(client, emulator)
    endpoint_id = str(uuid.uuid4())
    emulator.state.stores.endpoints[endpoint_id] = {
        "self": emulator.state.url(f"/endpoints/{endpoint_id}"),
        "model": {"self": model.self_},
    }
    with pytest.raises(ConflictError) as error:
        await client.models.delete(model)
    assert error.value.inner_code == "InUseViolation"
    assert (await client.models.get(model)).id == model.id


async def test_copy_a_model(client: SpeechClient, emulator: SpeechEmulator) -> None:
    model = await trained(client, emulator)
    authorization = await client.models.authorize_copy(SOURCE)
    assert authorization.source_resource_id == SOURCE
    assert authorization.expiration_date_time > datetime.now(UTC)
    operation = await client.models.copy(model, authorization)
    assert operation.status == Status.NOT_STARTED
    record = emulator.requests[-1]
    assert record.path.endswith(f"/models/{model.id}:copy")
    done = await client.operations.wait(operation, policy=POLL)
    assert done.status == Status.SUCCEEDED and done.result is not None
    copied = await client.models.get(done.result.link or "")
    assert copied.id != model.id and copied.status == Status.SUCCEEDED
    assert copied.display_name == model.display_name
    assert [f.name for f in await client.models.list_files(copied).to_list()] == ["report.json"]
    again = await client.models.copy_and_wait(model.id, authorization, policy=POLL)
    assert again.result is not None and again.result.link != done.result.link


async def test_copy_checks_the_authorization(
    client: SpeechClient, emulator: SpeechEmulator
) -> None:
    model = await trained(client, emulator)
    authorization = await client.models.authorize_copy(SOURCE)
    expired = attrs.evolve(authorization, expiration_date_time=datetime.now(UTC) - timedelta(1))
    before = len(emulator.requests)
    with pytest.raises(InvalidInputError, match="expired"):
        await client.models.copy(model, expired)
    with pytest.raises(InvalidInputError, match="authorize_copy"):
        await client.models.copy(model, {"id": "x"})  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="resource id"):
        await client.models.authorize_copy("my-resource")
    assert len(emulator.requests) == before
    forged = attrs.evolve(authorization, id=str(uuid.uuid4()))
    with pytest.raises(PermissionDeniedError):
        await client.models.copy(model, forged)
    emulator.state.stores.copy_authorizations[authorization.id]["expirationDateTime"] = (
        "2020-01-01T00:00:00Z"
    )
    with pytest.raises(BadRequestError) as error:
        await client.models.copy(model, authorization)
    assert error.value.inner_code == "ModelCopyAuthorizationExpired"
