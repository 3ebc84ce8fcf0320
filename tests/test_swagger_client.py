"""A client made from the official Swagger by a third-party generator runs every operation
against the emulator, and every response must match the Swagger's schemas.

The generator is bravado (Yelp's Swagger 2.0 client, on bravado-core and jsonschema): it
builds each operation from the spec at run time, sends its requests with ``requests``, and
with ``validate_responses`` checks every response body, success or error, against the
operation's response schema (with the spec's ``uri`` and ``uuid`` formats checked too). The
Swagger 2.0 document is used as published, except that its host points at the emulator
(``x-ms-parameterized-host`` is an Azure extension bravado does not read) and its
``x-ms-examples`` (links to example files: documentation, not schemas) are left out.

One adaptation: bravado sends every ``in: body`` parameter as JSON, so the binary block of
``Datasets_UploadBlock`` (``consumes: application/octet-stream``) is sent as raw bytes by the
adapter below; its response is validated like every other.
"""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.to_thread
import pytest

from speechrest.testing import SpeechEmulator, Timing, make_wav
from tests._sink import Sink
from tests.resources.custom_speech import acoustic_zip

from .conftest import spec_dir

pytestmark = [
    pytest.mark.anyio,
    # bravado-core (and swagger-spec-validator) still resolve $refs with jsonschema's
    # RefResolver, deprecated since jsonschema 4.18 but working.
    pytest.mark.filterwarnings("ignore:jsonschema.RefResolver:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Accessing Validator.resolver:DeprecationWarning"),
    pytest.mark.skipif(
        importlib.util.find_spec("bravado") is None,
        reason="bravado is a test tool (pip install -e '.[test]')",
    ),
]

VERSION = "2025-10-15"
FAST = Timing(queue_delay=0.01, run_time=0.02, retry_after=0)


def _spec(emu: SpeechEmulator) -> dict[str, Any]:
    spec = json.loads((spec_dir() / "speechtotext-2025-10-15.json").read_text())
    del spec["x-ms-parameterized-host"]
    del spec["parameters"]["endpoint"]  # used by that extension only
    for path in spec["paths"].values():
        for operation in path.values():
            # Documentation (links to example files, not all of them published): no schema.
            operation.pop("x-ms-examples", None)
    spec["host"] = emu.endpoint.split("//", 1)[1]
    spec["basePath"] = "/speechtotext"
    spec["schemes"] = ["http"]
    return spec


class Operations:
    """Every operation of the spec, by operationId, called through bravado."""

    def __init__(self, emu: SpeechEmulator) -> None:
        from bravado.client import CallableOperation, SwaggerClient

        http = _raw_blocks_client()
        http.set_api_key(
            emu.endpoint.split("//", 1)[1],  # (host and port)
            emu.key,
            param_name="Ocp-Apim-Subscription-Key",
            param_in="header",
        )
        client = SwaggerClient.from_spec(
            _spec(emu),
            http_client=http,
            config={
                "validate_swagger_spec": True,
                "validate_requests": True,
                "validate_responses": True,
                "use_models": False,
                "formats": _formats(),
            },
        )
        self.operations = {
            op.operation_id: CallableOperation(op)
            for resource in client.swagger_spec.resources.values()
            for op in resource.operations.values()
        }
        self.called: set[str] = set()
        self.http = http

    def __call__(self, operation: str, *, status: int | None = None, **params: Any) -> Any:
        """Call ``operation``; its response was validated against the spec by bravado."""
        from bravado.exception import HTTPError

        self.called.add(operation)
        try:
            response = self.operations[operation](**params, **{"api-version": VERSION}).response(
                timeout=60
            )
        except HTTPError as exc:  # an error answer, validated against the "default" schema
            if exc.status_code != status:
                raise
            return exc.swagger_result
        assert status is None or response.incoming_response.status_code == status, operation
        return response.result

    def until(self, operation: str, entity_id: str, *, key: str = "id") -> dict[str, Any]:
        """Poll a Get operation until the entity has finished."""
        for _ in range(600):
            entity = self(operation, **{key: entity_id})
            if entity["status"] in ("Succeeded", "Failed"):
                assert entity["status"] == "Succeeded", entity
                return entity  # type: ignore[no-any-return]
            time.sleep(0.02)
        raise AssertionError(f"{operation} {entity_id} did not finish")


def _raw_blocks_client() -> Any:
    from bravado.requests_client import RequestsClient

    class RawBlocks(RequestsClient):  # type: ignore[misc]
        """bravado's requests client; the body of Datasets_UploadBlock goes out as bytes."""

        def request(self, request_params: dict[str, Any], operation: Any = None, **kw: Any) -> Any:
            if operation is not None and operation.operation_id == "Datasets_UploadBlock":
                request_params = copy.copy(request_params)
                request_params["data"] = base64.b64decode(json.loads(request_params["data"]))
                request_params["headers"] = {
                    **request_params["headers"],
                    "Content-Type": "application/octet-stream",
                }
            return super().request(request_params, operation, **kw)

    return RawBlocks()


def _formats() -> list[Any]:
    """The Swagger's string formats bravado-core does not know, validated as they read
    (``binary``: any string)."""
    from bravado_core.exception import SwaggerValidationError
    from bravado_core.formatter import SwaggerFormat

    def check(name: str, ok: Callable[[str], bool]) -> Callable[[str], None]:
        def validate(value: str) -> None:
            if not ok(value):
                raise SwaggerValidationError(f"{value!r} is not a valid {name}")

        return validate

    def is_uri(value: str) -> bool:  # an absolute URI (RFC 3986): http(s), ws(s), ...
        parts = urllib.parse.urlsplit(value)
        return bool(parts.scheme and parts.netloc) and " " not in value

    def is_uuid(value: str) -> bool:
        try:
            uuid.UUID(value)
        except ValueError:
            return False
        return True

    return [
        SwaggerFormat(
            format=name,
            to_wire=str,
            to_python=str,
            validate=check(name, ok),
            description=f"a {name}",
        )
        for name, ok in (("uri", is_uri), ("uuid", is_uuid), ("binary", lambda v: True))
    ]


def _id(entity: dict[str, Any]) -> str:
    return str(entity["self"]).split("?")[0].rsplit("/", 1)[-1]


def _ref(entity: dict[str, Any]) -> dict[str, str]:
    return {"self": entity["self"]}


@pytest.fixture
async def emulator() -> AsyncIterator[SpeechEmulator]:
    async with SpeechEmulator(timing=FAST) as emu:
        yield emu


async def test_every_operation_matches_the_swagger(emulator: SpeechEmulator) -> None:
    spec = json.loads((spec_dir() / "speechtotext-2025-10-15.json").read_text())
    every = {
        op["operationId"]
        for path in spec["paths"].values()
        for method, op in path.items()
        if method in ("get", "put", "post", "patch", "delete")
    }
    audio = emulator.serve_bytes(make_wav(seconds=1, comment="Hello world."), "hello.wav")
    data = emulator.serve_bytes(acoustic_zip(), "acoustic.zip")
    async with Sink(secret="s3cret").running() as sink:
        api = await anyio.to_thread.run_sync(Operations, emulator)
        await anyio.to_thread.run_sync(_workflow, api, audio, data, sink.url)
    assert api.called == every, sorted(every - api.called)
    assert len(every) == 67


def _workflow(api: Operations, audio: str, data: str, hook_url: str) -> None:
    for group in ("Datasets", "Endpoints", "Evaluations", "Models", "Projects", "Transcriptions"):
        api(f"{group}_ListSupportedLocales")

    project = api("Projects_Create", project={"displayName": "p", "locale": "en-US"}, status=201)
    pid = _id(project)
    api("Projects_Get", id=pid)
    api("Projects_Update", id=pid, projectUpdate={"description": "described"})
    api("Projects_List", top=10)

    hook = api(
        "WebHooks_Create",
        webHook={
            "displayName": "hook",
            "webUrl": hook_url,
            "events": {"transcriptionCompletion": True},
            "properties": {"secret": "s3cret"},
        },
        status=201,
    )
    hid = _id(hook)
    api.until("WebHooks_Get", hid)
    api("WebHooks_List")
    api("WebHooks_Update", id=hid, webHookUpdate={"description": "described"})
    api("WebHooks_Ping", id=hid, status=202)
    api("WebHooks_Test", id=hid)

    dataset = api(
        "Datasets_Create",
        dataset={
            "displayName": "acoustic",
            "locale": "en-US",
            "kind": "Acoustic",
            "contentUrl": data,
            "project": _ref(project),
        },
        status=201,
    )
    did = _id(dataset)
    dataset = api.until("Datasets_Get", did)
    api("Datasets_List", filter="kind eq 'Acoustic'")
    api("Datasets_Update", id=did, datasetUpdate={"description": "described"})
    files = api("Datasets_ListFiles", id=did, sasLifetimeMinutes=10)["values"]
    api("Datasets_GetFile", id=did, fileId=_id(files[0]))

    blocks = api(
        "Datasets_Create",
        dataset={"displayName": "blocks", "locale": "en-US", "kind": "Language"},
        status=201,
    )
    bid = _id(blocks)
    block = base64.b64encode(b"one line of text\n").decode()
    api("Datasets_UploadBlock", id=bid, blockid="AAA=", body=block, status=201)
    api("Datasets_GetBlocks", id=bid)
    api("Datasets_CommitBlocks", id=bid, blockList=[{"kind": "Uncommitted", "id": "AAA="}])
    api.until("Datasets_Get", bid)

    base = api("Models_ListBaseModels", filter="locale eq 'en-US'")["values"][0]
    api("Models_GetBaseModel", id=_id(base))
    api("Models_GetBaseModelManifest", id=_id(base), sasLifetimeMinutes=10)
    model = api(
        "Models_Create",
        model={
            "displayName": "custom",
            "locale": "en-US",
            "baseModel": _ref(base),
            "datasets": [_ref(dataset)],
            "project": _ref(project),
        },
        status=201,
    )
    mid = _id(model)
    model = api.until("Models_GetCustomModel", mid)
    api("Models_ListCustomModels")
    api("Models_Update", id=mid, modelUpdate={"description": "described"})
    model_files = api("Models_ListFiles", id=mid)["values"]
    if model_files:
        api("Models_GetFile", id=mid, fileId=_id(model_files[0]))
    else:  # a model without files: the service's 404, in the Error schema
        api("Models_GetFile", id=mid, fileId="00000000-0000-0000-0000-000000000000", status=404)
    api("Models_GetCustomModelManifest", id=mid, sasLifetimeMinutes=10)

    authorization = api(
        "Models_AuthorizeCopy",
        modelCopyAuthorizationDefinition={"sourceResourceId": _emulator_resource_id()},
    )
    operation = api("Models_Copy", id=mid, modelCopyAuthorization=authorization, status=202)
    api.until("Operations_GetModelCopy", _id(operation))

    endpoint = api(
        "Endpoints_Create",
        endpoint={
            "displayName": "ep",
            "locale": "en-US",
            "model": _ref(model),
            "project": _ref(project),
        },
        status=201,
    )
    eid = _id(endpoint)
    api.until("Endpoints_Get", eid)
    api("Endpoints_List")
    api("Endpoints_Update", id=eid, endpointUpdate={"description": "described"})

    job = api(
        "Transcriptions_Submit",
        transcription={
            "displayName": "job",
            "locale": "en-US",
            "contentUrls": [audio],
            "project": _ref(project),
            "properties": {"timeToLiveHours": 6, "wordLevelTimestampsEnabled": True},
        },
        status=201,
    )
    tid = _id(job)
    api.until("Transcriptions_Get", tid)
    api("Transcriptions_List", filter="status eq 'Succeeded'")
    api("Transcriptions_Update", id=tid, transcriptionUpdate={"description": "described"})
    job_files = api("Transcriptions_ListFiles", id=tid, sasLifetimeMinutes=10)["values"]
    api("Transcriptions_GetFile", id=tid, fileId=_id(job_files[0]))
    api(
        "Transcriptions_Transcribe",
        audio=("hello.wav", make_wav(comment="Hello there.")),
        definition=json.dumps({"locales": ["en-US"], "diarization": {"enabled": True}}),
    )
    api(
        "Transcriptions_Transcribe",
        audio=("x.wav", b"not audio"),
        definition="{}",
        status=422,  # InvalidAudioFormat, in the Error schema
    )
    # Without a file, bravado (requests) sends the form urlencoded, which the operation does
    # not consume ("consumes": ["multipart/form-data"]): 415, in the Error schema.
    api("Transcriptions_Transcribe", definition=json.dumps({"audioUrl": audio}), status=415)

    evaluation = api(
        "Evaluations_Create",
        evaluation={
            "displayName": "eval",
            "locale": "en-US",
            "model1": _ref(base),
            "model2": _ref(model),
            "dataset": _ref(dataset),
            "project": _ref(project),
        },
        status=201,
    )
    vid = _id(evaluation)
    api.until("Evaluations_Get", vid)
    api("Evaluations_List")
    api("Evaluations_Update", id=vid, evaluationUpdate={"description": "described"})
    eval_files = api("Evaluations_ListFiles", id=vid)["values"]
    api("Evaluations_GetFile", id=vid, fileId=_id(eval_files[0]))

    for listing in ("Datasets", "Endpoints", "Evaluations", "Models", "Transcriptions"):
        assert api(f"Projects_List{listing}", id=pid)["values"], listing

    api("Evaluations_Delete", id=vid, status=204)
    api("Endpoints_Delete", id=eid, status=204)
    api("Transcriptions_Delete", id=tid, status=204)
    api("WebHooks_Delete", id=hid, status=204)
    api("Datasets_Delete", id=bid, status=204)
    api("Models_Delete", id=mid, status=204)
    api("Projects_Delete", id=pid, status=204)
    api("Projects_Get", id=pid, status=404)


def _emulator_resource_id() -> str:
    from speechrest.testing._model_copy import EMULATOR_RESOURCE_ID

    return EMULATOR_RESOURCE_ID
