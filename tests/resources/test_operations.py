from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from speechrest import SpeechClient, make_converter
from speechrest.errors import InvalidInputError, NotFoundError, OperationFailedError
from speechrest.testing import SpeechEmulator, Timing
from speechrest.types import Operation, Status
from tests.conftest import load_example
from tests.resources.custom_speech import POLL
from tests.resources.test_models import SOURCE, trained

pytestmark = pytest.mark.anyio

# Long enough to delete the source model while the copy is queued.
TIMING = Timing(queue_delay=0.3, run_time=0.05, retry_after=0)


@pytest.fixture
async def emulator() -> AsyncIterator[SpeechEmulator]:
    async with SpeechEmulator(timing=TIMING) as emu:
        yield emu


@pytest.mark.parametrize(
    "example", ["get_operation_copy_model.json", "get_operation_copy_model_pending.json"]
)
def test_examples_round_trip_strictly(example) -> None:
    converter = make_converter(strict=True)
    body = load_example(example)["responses"]["200"]["body"]
    assert converter.unstructure(converter.structure(body, Operation)) == body


async def test_get_model_copy_by_object_id_or_url(
    client: SpeechClient, emulator: SpeechEmulator
) -> None:
    model = await trained(client, emulator)
    operation = await client.models.copy(model, await client.models.authorize_copy(SOURCE))
    assert operation.self_ is not None
    for reference in (operation, operation.id, operation.self_):
        fetched = await client.operations.get_model_copy(reference)
        assert fetched.id == operation.id
        assert fetched.status in (Status.NOT_STARTED, Status.RUNNING, Status.SUCCEEDED)
    statuses: list[Status | None] = []
    done = await client.operations.wait(
        operation.self_, policy=POLL, on_status=lambda op: statuses.append(op.status)
    )
    assert done.status == Status.SUCCEEDED and statuses[-1] == Status.SUCCEEDED
    assert done.result is not None and done.result.link is not None


async def test_a_copy_whose_source_disappears_fails(
    client: SpeechClient, emulator: SpeechEmulator
) -> None:
    model = await trained(client, emulator)
    operation = await client.models.copy(model, await client.models.authorize_copy(SOURCE))
    await client.models.delete(model)
    with pytest.raises(OperationFailedError) as failure:
        await client.operations.wait(operation, policy=POLL)
    assert failure.value.code == "InvalidModel"  # from the operation's own ``error``
    assert failure.value.entity.status == Status.FAILED


async def test_unknown_and_malformed_operations(
    client: SpeechClient, emulator: SpeechEmulator
) -> None:
    with pytest.raises(NotFoundError):
        await client.operations.get_model_copy(str(uuid.uuid4()))
    before = len(emulator.requests)
    with pytest.raises(InvalidInputError, match="UUID"):
        await client.operations.get_model_copy("copy-1")
    with pytest.raises(InvalidInputError, match="Operation"):
        await client.operations.wait(42)  # type: ignore[arg-type]
    assert len(emulator.requests) == before


async def test_copy_responses_carry_operation_location_and_retry_after(
    client: SpeechClient, emulator: SpeechEmulator
) -> None:
    model = await trained(client, emulator)
    authorization = await client.models.authorize_copy(SOURCE)
    response = await client.models._api.request(
        "POST", f"/models/{model.id}:copy", operation="Models_Copy", json=authorization
    )
    assert response.status == 202
    assert response.headers["operation-location"] == response.data["self"]
    assert "/operations/models/copy/" in response.headers["operation-location"]
    assert response.headers["retry-after"] == "0"
