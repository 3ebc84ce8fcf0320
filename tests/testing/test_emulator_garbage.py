"""The emulator answers garbage as the service does: a 4xx in the service's error shape,
never a 5xx (which clients retry) and never a traceback."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from speechrest.testing import SpeechEmulator, make_wav

pytestmark = pytest.mark.anyio

API = "2025-10-15"
NESTED = b"[" * 100_000 + b"]" * 100_000
JSON_GARBAGE = [
    b"",
    b"   ",
    b"garbage \xff\xfe\x00",
    b"{",
    NESTED,
    b'{"displayName": ' + b"[" * 50_000 + b"}",
    b'{"displayName": "x", "locale": "en-US", "kind": "Acoustic", "a": NaN}',
    b'{"timeToLiveHours": 1e999999}',
    b"\xef\xbb\xbf{}",
    b"\xff\xfe{\x00}\x00",
    b'{"displayName": "\xff\xfe"}',
    b"null",
    b"[]",
    b'"text"',
    b"12",
]


async def _send(
    emulator: SpeechEmulator,
    method: str,
    path: str,
    body: bytes,
    content_type: str | None = "application/json",
) -> tuple[int, Any]:
    headers = {"Ocp-Apim-Subscription-Key": emulator.key}
    if content_type is not None:
        headers["Content-Type"] = content_type
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method,
            f"{emulator.endpoint}/speechtotext{path}",
            params={"api-version": API},
            data=body,
            headers=headers,
            skip_auto_headers=["Content-Type"],
        ) as response,
    ):
        text = await response.text(errors="replace")
        try:
            data = await response.json(content_type=None)
        except ValueError:
            data = text
        return response.status, data


def _assert_service_error(status: int, data: Any, what: str) -> None:
    assert 400 <= status < 500, f"{what}: HTTP {status} {data!r}"[:500]
    assert isinstance(data, dict) and isinstance(data.get("code"), str), f"{what}: {data!r}"
    assert isinstance(data.get("message"), str) and "Traceback" not in data["message"]


@pytest.fixture
async def entities(emulator: SpeechEmulator) -> AsyncIterator[dict[str, str]]:
    """One entity of the groups that are quick to make, to send bodies to their PATCH."""

    async def create(path: str, body: dict[str, Any]) -> str:
        status, data = await _send(emulator, "POST", path, _json(body))
        assert status == 201, data
        return str(data["self"]).split("?")[0].rsplit("/", 1)[-1]

    wav = emulator.serve_bytes(make_wav(seconds=1), "a.wav")
    yield {
        "projects": await create("/projects", {"displayName": "p", "locale": "en-US"}),
        "transcriptions": await create(
            "/transcriptions:submit",
            {
                "displayName": "t",
                "locale": "en-US",
                "contentUrls": [wav],
                "properties": {"timeToLiveHours": 6},
            },
        ),
        "datasets": await create(
            "/datasets", {"displayName": "d", "locale": "en-US", "kind": "Acoustic"}
        ),
        "webhooks": await create(
            "/webhooks",
            {
                "displayName": "w",
                "webUrl": "https://example.com/hook",
                "events": {"transcriptionCompletion": True},
            },
        ),
    }


def _json(data: Any) -> bytes:
    import json

    return json.dumps(data).encode()


def _routes(entities: dict[str, str]) -> list[tuple[str, str]]:
    unknown = "9d5f4100-5f8e-4dd6-bd83-9bbbf50d57f1"
    routes = [
        ("POST", "/transcriptions:submit"),
        ("POST", "/projects"),
        ("POST", "/datasets"),
        ("POST", "/endpoints"),
        ("POST", "/evaluations"),
        ("POST", "/models"),
        ("POST", "/models:authorizecopy"),
        ("POST", f"/models/{unknown}:copy"),
        ("POST", "/webhooks"),
        ("POST", f"/datasets/{entities['datasets']}/blocks:commit"),
    ]
    for group in ("endpoints", "evaluations", "models"):
        routes.append(("PATCH", f"/{group}/{unknown}"))
    for group, entity in entities.items():
        routes.append(("PATCH", f"/{group}/{entity}"))
    return routes


async def test_every_json_body_operation_answers_garbage_with_a_400(
    emulator: SpeechEmulator, entities: dict[str, str], caplog
) -> None:
    caplog.set_level(logging.ERROR)
    for method, path in _routes(entities):
        for body in JSON_GARBAGE:
            status, data = await _send(emulator, method, path, body)
            _assert_service_error(status, data, f"{method} {path} {body[:40]!r}")
        for content_type in (None, "text/plain", "a/b; x=\xff", "multipart/form-data"):
            status, data = await _send(emulator, method, path, b"{}", content_type)
            _assert_service_error(status, data, f"{method} {path} as {content_type!r}")
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_body_over_the_emulators_limit_is_a_413_in_the_service_shape(
    emulator: SpeechEmulator,
) -> None:
    big = io.BytesIO(b" " * (65 * 1024 * 1024))
    status, data = await _send(emulator, "POST", "/projects", big)  # type: ignore[arg-type]
    _assert_service_error(status, data, "65 MiB of JSON")
    assert status == 413


async def test_unknown_paths_and_methods_answer_in_the_service_shape(
    emulator: SpeechEmulator,
) -> None:
    for method, path in [("GET", "/nothing/here"), ("DELETE", "/transcriptions/locales")]:
        status, data = await _send(emulator, method, path, b"")
        _assert_service_error(status, data, f"{method} {path}")


BOUNDARY = "b0undary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def _part(name: bytes, value: bytes, extra: bytes = b"") -> bytes:
    return (
        b"--" + BOUNDARY.encode() + b"\r\n"
        b'Content-Disposition: form-data; name="' + name + b'"' + extra + b"\r\n\r\n"
        + value + b"\r\n"
    )  # fmt: skip


END = b"--" + BOUNDARY.encode() + b"--\r\n"
AUDIO = make_wav(seconds=1)
MULTIPART_GARBAGE: dict[str, tuple[bytes, str | None]] = {
    "empty body": (b"", MULTIPART),
    "garbage": (b"\x00\xff garbage \r\n\r\n--", MULTIPART),
    "no boundary parameter": (_part(b"definition", b"{}") + END, "multipart/form-data"),
    "an empty boundary": (b"--\r\n\r\n----\r\n", "multipart/form-data; boundary="),
    "no closing boundary": (_part(b"definition", b"{}"), MULTIPART),
    "a truncated part": (_part(b"audio", AUDIO)[:-200], MULTIPART),
    "a field name of invalid bytes": (_part(b"\xff\xfe\x80", b"{}") + END, MULTIPART),
    "a broken part header": (
        b"--" + BOUNDARY.encode() + b"\r\nno colon here\r\n\r\nx\r\n" + END,
        MULTIPART,
    ),
    "a deeply nested definition": (_part(b"definition", NESTED) + END, MULTIPART),
    "a definition of invalid UTF-8": (
        _part(b"definition", b'{"locales": ["\xff"]}') + END,
        MULTIPART,
    ),
    "a definition with NaN": (_part(b"definition", b'{"x": NaN}') + END, MULTIPART),
    "a definition that is a list": (_part(b"definition", b"[1]") + END, MULTIPART),
    "bad diarization": (
        _part(b"definition", b'{"diarization": {"enabled": "yes", "maxSpeakers": 1.5}}') + END,
        MULTIPART,
    ),
    "bad channels": (_part(b"definition", b'{"channels": [true, -1]}') + END, MULTIPART),
    "a bad audioUrl": (_part(b"definition", b'{"audioUrl": ["http://x"]}') + END, MULTIPART),
    "an audioUrl that is no URL": (
        _part(b"definition", b'{"audioUrl": "http://[::1"}') + END,
        MULTIPART,
    ),
    "a non-multipart body": (b'{"definition": {}}', "application/json"),
    "no content type": (b"x", None),
    "a part that is itself multipart": (
        b"--" + BOUNDARY.encode() + b"\r\nContent-Type: multipart/mixed; boundary=inner\r\n\r\n"
        b"--inner\r\n\r\nx\r\n" + END,
        MULTIPART,
    ),
    "a gzip part that is not gzip": (
        _part(b"definition", b"{}", b"\r\nContent-Encoding: gzip") + END,
        MULTIPART,
    ),
}


async def test_a_file_name_of_invalid_bytes_is_tolerated(emulator: SpeechEmulator) -> None:
    body = _part(b"audio", AUDIO, b'; filename="\xff\xfe.wav"') + END
    status, _ = await _send(emulator, "POST", "/transcriptions:transcribe", body, MULTIPART)
    assert status == 200


@pytest.mark.parametrize("case", list(MULTIPART_GARBAGE))
async def test_fast_transcription_answers_broken_multipart_with_a_4xx(
    emulator: SpeechEmulator, case: str, caplog
) -> None:
    caplog.set_level(logging.ERROR)
    body, content_type = MULTIPART_GARBAGE[case]
    status, data = await _send(emulator, "POST", "/transcriptions:transcribe", body, content_type)
    _assert_service_error(status, data, case)
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_block_upload_of_garbage_is_a_4xx(
    emulator: SpeechEmulator, entities: dict[str, str]
) -> None:
    dataset = entities["datasets"]
    for query in ("", "?blockid=%%%", "?blockid=" + "QQ==" * 40):
        status, data = await _send(
            emulator, "PUT", f"/datasets/{dataset}/blocks{query}", b"", "application/octet-stream"
        )
        _assert_service_error(status, data, f"block {query}")
