"""Malformed or unexpected responses: a typed error naming the operation and the field, never a
bare KeyError/TypeError; newer-service extras are tolerated."""

from __future__ import annotations

import enum
import importlib
import json
import pkgutil
import types
import typing
from datetime import datetime
from typing import Any

import aiohttp
import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import speechrest.types
from speechrest import SpeechClient
from speechrest._convert import structure, wire_name
from speechrest.errors import InternalServerError, ResponseValidationError
from speechrest.testing import Fault, SpeechEmulator
from speechrest.types import Status, TranscribeResult, Transcription, WireEnum


def _models() -> list[type]:
    found: dict[str, type] = {}
    for info in pkgutil.iter_modules(speechrest.types.__path__):
        module = importlib.import_module(f"speechrest.types.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and attrs.has(value) and value.__module__ == module.__name__:
                found[f"{module.__name__}.{value.__qualname__}"] = value
    return [found[k] for k in sorted(found)]


MODELS = _models()

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
"""Any JSON value: what a broken or hostile server may send anywhere."""


def _shaped(tp: Any, depth: int) -> st.SearchStrategy[Any]:
    """Values that mostly look like ``tp`` on the wire, sometimes anything at all."""
    return st.one_of(_typed(tp, depth), JSON) if depth < 4 else JSON


def _typed(tp: Any, depth: int) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(_shaped(a, depth) for a in args))
    if origin in (list, typing.List, tuple) or (origin and issubclass(origin, list)):  # noqa: UP006
        return st.lists(_shaped(args[0] if args else Any, depth + 1), max_size=3)
    if origin is not None and issubclass(origin, dict):
        value = args[1] if len(args) == 2 else Any
        return st.dictionaries(st.text(max_size=6), _shaped(value, depth + 1), max_size=3)
    if tp is type(None):
        return st.none()
    if isinstance(tp, type) and attrs.has(tp):
        attrs.resolve_types(tp)
        fields = {
            wire_name(tp.__name__, f.name): _shaped(f.type, depth + 1) for f in attrs.fields(tp)
        }
        return st.fixed_dictionaries({}, optional={**fields, "extraField": JSON})
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from([m.value for m in tp]) | st.text(max_size=10)
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers() | st.floats(allow_nan=False)
    if tp is float:
        return st.floats() | st.integers()
    if tp is str:
        return st.text(max_size=10)
    if tp is datetime:
        return st.datetimes().map(lambda d: d.isoformat()) | st.text(max_size=25)
    return JSON


def _strategy(cls: type) -> st.SearchStrategy[Any]:
    return st.one_of(_typed(cls, 0), JSON)


def test_every_model_is_covered() -> None:
    names = {cls.__name__ for cls in MODELS}
    assert {"TranscribeResult", "Transcription", "Dataset", "CustomModel", "WebHook"} <= names
    assert len(MODELS) > 50


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_structure_raises_only_response_validation_error(cls: type, data: st.DataObject) -> None:
    body = data.draw(_strategy(cls), label="body")
    try:
        value = structure(body, cls, "Some_Operation", "req-1")
    except ResponseValidationError as exc:
        assert exc.operation == "Some_Operation"
        assert exc.request_id == "req-1"
        assert exc.problems and str(exc).startswith("Some_Operation: unexpected response")
        assert all(isinstance(p, str) and "@" in p for p in exc.problems), exc.problems
    else:
        assert isinstance(value, cls)


def test_the_error_names_the_field() -> None:
    body = {"durationMilliseconds": 10, "combinedPhrases": [], "phrases": [{"text": 5}]}
    with pytest.raises(ResponseValidationError) as caught:
        structure(body, TranscribeResult, "Transcriptions_Transcribe")
    assert "TranscribeResult.phrases[0].text" in str(caught.value)
    assert caught.value.operation == "Transcriptions_Transcribe"


def test_extra_fields_and_unknown_enum_values_are_tolerated() -> None:
    body = {
        "self": "https://x/speechtotext/transcriptions/abc",
        "displayName": "job",
        "locale": "en-US",
        "status": "Paused",  # a status a newer service might add
        "properties": {
            "timeToLiveHours": 48,
            "newKnob": {"nested": [1, 2]},
            "punctuationMode": "Telepathic",
        },
        "brandNewField": True,
    }
    job = structure(body, Transcription, "Transcriptions_Get")
    assert job.status == "Paused" and isinstance(job.status, Status)
    assert not job.status.is_known
    assert job.properties is not None
    assert isinstance(job.properties.punctuation_mode, WireEnum)
    assert job.properties.punctuation_mode == "Telepathic"


# -- through the client ---------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault.replace_json({"durationMilliseconds": "long"}), "duration_ms"),
        (Fault.replace_json({"durationMilliseconds": 1, "combinedPhrases": []}), "phrases"),
        (Fault.replace_json([1, 2, 3]), "TranscribeResult"),
        (Fault.replace_json(None), "TranscribeResult"),
        (Fault.replace_json("ok"), "TranscribeResult"),
        (Fault.malformed_json(), "not valid JSON"),
        (Fault.malformed_json(b"<html>502 Bad Gateway</html>"), "not valid JSON"),
        (Fault.malformed_json(b"\xff\xfe\x00garbage"), "not valid JSON"),
        (Fault.malformed_json(b""), "TranscribeResult"),
        (Fault.truncated_json(), "not valid JSON"),
    ],
    ids=lambda v: getattr(v, "name", None) or str(v)[:20],
)
async def test_fast_transcription_bad_bodies(
    client: SpeechClient, emulator: SpeechEmulator, sample_wav, fault, expected
) -> None:
    emulator.faults.add(fault, operation="Transcriptions_Transcribe")
    with pytest.raises(ResponseValidationError) as caught:
        await client.transcribe(sample_wav)
    assert caught.value.operation == "Transcriptions_Transcribe"
    assert expected in str(caught.value)
    assert caught.value.request_id is not None
    assert emulator.faults.total == 1  # a bad body is not retried


@pytest.mark.anyio
@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>502 Bad Gateway</body></html>",
        b'{"error": "just a string"}',
        b'{"error": {"code": 7, "message": ["x"]}}',
        b"[1, 2]",
        b"",
    ],
)
async def test_error_statuses_with_odd_bodies(
    client: SpeechClient, emulator: SpeechEmulator, sample_wav, body: bytes
) -> None:
    emulator.faults.add(Fault.malformed_json(body, status=502), times=None)
    client = client.with_options(backoff_base=0.001)
    with pytest.raises(InternalServerError) as caught:
        await client.transcribe(sample_wav)
    assert caught.value.status == 502
    assert caught.value.operation == "Transcriptions_Transcribe"
    if body.startswith(b"<html>"):
        assert "502 Bad Gateway" in str(caught.value)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ({"values": "nope"}, "'values' list"),
        ({"items": []}, "'values' list"),
        ([], "'values' list"),
        ({"values": [{"displayName": 5}]}, "display_name"),
    ],
)
async def test_list_pages_with_bad_shapes(
    client: SpeechClient, emulator: SpeechEmulator, page: Any, expected: str
) -> None:
    emulator.faults.add(Fault.replace_json(page), operation="Transcriptions_List")
    with pytest.raises(ResponseValidationError) as caught:
        [t async for t in client.transcriptions.list()]
    assert caught.value.operation == "Transcriptions_List"
    assert expected in str(caught.value)


@pytest.mark.anyio
async def test_a_newer_service_version_is_tolerated_end_to_end(
    client: SpeechClient, emulator: SpeechEmulator
) -> None:
    job = await client.transcriptions.submit(
        content_urls=["https://a.example/a.wav"], locale="en-US"
    )
    async with aiohttp.ClientSession() as raw:
        url = f"{emulator.endpoint}/speechtotext/transcriptions/{job.id}?api-version=2025-10-15"
        async with raw.get(url, headers={"Ocp-Apim-Subscription-Key": emulator.key}) as resp:
            body = json.loads(await resp.read())
    body.update(status="Archived", aiSummary={"text": "new"}, etag="W/1")
    body["properties"]["newOption"] = [1, 2, 3]
    emulator.faults.add(Fault.replace_json(body), operation="Transcriptions_Get")
    got = await client.transcriptions.get(job.id)
    assert got.id == job.id and got.status == "Archived" and not got.status.is_known
