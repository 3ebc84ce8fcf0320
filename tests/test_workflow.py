"""Acceptance: the whole custom speech workflow against the emulator, observed by a web hook.

project -> dataset uploaded from a local file -> model trained -> evaluation -> endpoint
-> model copy -> manifests -> clean-up, with ``speechrest.webhooks`` served on loopback
receiving a signed notification for each step.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from speechrest import SpeechClient
from speechrest.testing import SpeechEmulator
from speechrest.types import DatasetKind, Status
from speechrest.webhooks import SIGNATURE_HEADER, verify_signature
from tests._sink import Sink
from tests.conftest import UNMETERED
from tests.resources.custom_speech import FAST, POLL, acoustic_zip

pytestmark = pytest.mark.anyio

SOURCE = "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/src"
EVENTS = [
    f"{entity}{stage}"
    for entity in ("dataset", "model", "evaluation", "endpoint")
    for stage in ("Creation", "Processing", "Completion", "Deletion")
]


async def test_custom_speech_workflow(tmp_path: Path) -> None:
    sink = Sink(secret="workflow-secret")
    async with (
        sink.running(),
        SpeechEmulator(timing=FAST) as emulator,
        SpeechClient(emulator.endpoint, key=emulator.key, rest_quota=UNMETERED) as client,
    ):
        hook = await client.webhooks.create(
            sink.url, events=[*EVENTS, "ping"], secret="workflow-secret", display_name="flow"
        )
        hook = await client.webhooks.wait(hook, policy=POLL)
        assert hook.status == Status.SUCCEEDED
        await client.webhooks.ping(hook)
        assert (await sink.wait_kind("ping")).entity_id == hook.id

        project = await client.projects.create(display_name="calls", locale="en-US")

        data = tmp_path / "calls.zip"
        data.write_bytes(acoustic_zip())
        dataset = await client.datasets.upload(
            data, display_name="calls", locale="en-US", kind=DatasetKind.ACOUSTIC, project=project
        )
        dataset = await client.datasets.wait(dataset, policy=POLL)
        assert dataset.status == Status.SUCCEEDED
        for stage in ("Creation", "Processing", "Completion"):
            await sink.wait_kind(f"dataset{stage}", dataset.id)

        model = await client.models.create(
            display_name="calls", locale="en-US", datasets=[dataset], project=project
        )
        model = await client.models.wait(model, policy=POLL)
        assert model.status == Status.SUCCEEDED
        for stage in ("Creation", "Processing", "Completion"):
            await sink.wait_kind(f"model{stage}", model.id)
        assert [m.id for m in await client.projects.list_models(project).to_list()] == [model.id]

        base = await client.models.get_base_model(
            model.base_model.self_ if model.base_model else ""
        )
        evaluation = await client.evaluations.create(
            model1=base, model2=model, dataset=dataset, locale="en-US", display_name="base vs calls"
        )
        evaluation = await client.evaluations.wait(evaluation, policy=POLL)
        assert evaluation.status == Status.SUCCEEDED
        await sink.wait_kind("evaluationCompletion", evaluation.id)

        endpoint = await client.endpoints.create(model=model, locale="en-US", display_name="calls")
        endpoint = await client.endpoints.wait(endpoint, policy=POLL)
        assert endpoint.status == Status.SUCCEEDED
        await sink.wait_kind("endpointCompletion", endpoint.id)

        authorization = await client.models.authorize_copy(SOURCE)
        copied = await client.models.copy_and_wait(model, authorization, policy=POLL)
        assert copied.result is not None and copied.result.link is not None
        twin = await client.models.get(copied.result.link)
        assert twin.status == Status.SUCCEEDED and twin.id != model.id
        await sink.wait_kind("modelCreation", twin.id)

        for manifest in (
            await client.models.get_manifest(model, sas_lifetime_minutes=60),
            await client.models.get_base_model_manifest(base, sas_lifetime_minutes=60),
        ):
            assert manifest.model_files
            async with (  # the files download with their SAS URL alone
                aiohttp.ClientSession() as session,
                session.get(manifest.model_files[0].content_url or "") as response,
            ):
                assert response.status == 200

        # Clean up, children first: the endpoint holds the model.
        await client.endpoints.delete(endpoint)
        await client.evaluations.delete(evaluation)
        for each in (model, twin):
            await client.models.delete(each)
        await client.datasets.delete(dataset)
        await client.projects.delete(project)
        for kind, entity in [
            ("endpointDeletion", endpoint.id),
            ("evaluationDeletion", evaluation.id),
            ("modelDeletion", model.id),
            ("modelDeletion", twin.id),
            ("datasetDeletion", dataset.id),
        ]:
            await sink.wait_kind(kind, entity)
        await client.webhooks.delete(hook)
        assert await client.models.list().to_list() == []

    # Every notification was signed with the hook's secret and delivered exactly once.
    assert sink.events, "no notification arrived"
    invocations = [e.invocation_id for e in sink.events if e.invocation_id]
    assert len(invocations) == len(set(invocations))
    for request in sink.requests:
        if "validationToken" not in request.query:
            body = await request.read()
            assert verify_signature(body, request.headers[SIGNATURE_HEADER], "workflow-secret")
