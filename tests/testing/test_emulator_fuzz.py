"""A fuzzer driven by the official Swagger (schemathesis) finds no 5xx in the emulator.

Every operation of the spec is called with requests generated from its schema, both valid
ones and ones that break it (negative mode), on entities that exist and on ids that do not.
Whatever it sends, the emulator must answer as the service does: below 500, and a 4xx in
the service's error shape. Generation is derandomized, so a run is repeatable.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from speechrest.testing import SpeechEmulator, Timing, make_wav
from tests._threaded import emulator_thread
from tests.conftest import spec_dir

API = {"api-version": "2025-10-15"}
EXAMPLES = 12
"""Requests per operation, mode and kind of id (about 2,500 in all)."""


@pytest.fixture(scope="module")
def served() -> Iterator[SpeechEmulator]:
    with emulator_thread(timing=Timing(queue_delay=0.05, run_time=0.1, retry_after=0)) as emu:
        yield emu


def _entities(emulator: SpeechEmulator) -> dict[str, str]:
    """An entity of each group that is quick to make: its id, by collection path."""
    base = emulator.endpoint + "/speechtotext"
    headers = {"Ocp-Apim-Subscription-Key": emulator.key}
    wav = emulator.serve_bytes(make_wav(seconds=1), "a.wav")
    bodies: dict[str, tuple[str, dict[str, Any]]] = {
        "/projects": ("/projects", {"displayName": "p", "locale": "en-US"}),
        "/transcriptions": (
            "/transcriptions:submit",
            {
                "displayName": "t",
                "locale": "en-US",
                "contentUrls": [wav],
                "properties": {"timeToLiveHours": 6},
            },
        ),
        "/datasets": ("/datasets", {"displayName": "d", "locale": "en-US", "kind": "Acoustic"}),
        "/webhooks": (
            "/webhooks",
            {"displayName": "w", "webUrl": "https://example.com/h", "events": {"ping": True}},
        ),
    }
    ids = {}
    for collection, (path, body) in bodies.items():
        response = requests.post(base + path, params=API, headers=headers, json=body, timeout=30)
        assert response.status_code == 201, response.text
        ids[collection] = response.json()["self"].split("?")[0].rsplit("/", 1)[-1]
    return ids


def _service_shaped(response: requests.Response) -> bool:
    try:
        data = response.json()
    except ValueError:
        return False
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        data = data["error"]  # the gateway's shape (401)
    return isinstance(data, dict) and isinstance(data.get("code"), str)


def test_a_swagger_driven_fuzzer_finds_no_server_error(served: SpeechEmulator) -> None:
    schema = schemathesis.openapi.from_path(str(spec_dir() / "speechtotext-2025-10-15.json"))
    base = served.endpoint + "/speechtotext"
    headers = {"Ocp-Apim-Subscription-Key": served.key}
    ids = _entities(served)
    failures: dict[str, list[str]] = collections.defaultdict(list)
    sent = collections.Counter[str]()
    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda op: op.method.upper() == "DELETE")  # deletions last
    for operation in operations:
        collection = "/" + operation.path.strip("/").split("/")[0].split(":")[0]
        known = ids.get(collection) if "{id}" in operation.path else None
        runs = [(mode, None) for mode in GenerationMode]
        if known is not None and operation.method.upper() != "DELETE":
            runs += [(mode, {"id": known}) for mode in GenerationMode]
        for mode, path_parameters in runs:
            strategy = operation.as_strategy(
                mode, query=API, headers=headers, path_parameters=path_parameters
            )
            _fuzz(strategy, operation.label, base, sent, failures)
    assert len(sent) == len(operations) == 67, "every operation was called"
    assert not failures, "\n".join(f"{op}: {msgs[0]}" for op, msgs in failures.items())


def _fuzz(
    strategy: Any,
    label: str,
    base: str,
    sent: collections.Counter[str],
    failures: dict[str, list[str]],
) -> None:
    """Send ``EXAMPLES`` requests drawn from ``strategy``; note each 5xx (or a 4xx not in
    the service's error shape) in ``failures``."""

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def call(case: Any) -> None:
        response = case.call(base_url=base, timeout=30)
        sent[label] += 1
        status = response.status_code
        if status >= 500 or (status >= 400 and not _service_shaped(response)):
            failures[label].append(
                f"HTTP {status} {response.text[:200]!r} for {case.as_curl_command()[:400]}"
            )

    with contextlib.suppress(Unsatisfiable):  # nothing of it can be broken that way
        call()
