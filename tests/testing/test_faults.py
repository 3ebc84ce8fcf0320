"""The emulator's fault plan: matching, counting, seeding; the operation table."""

from __future__ import annotations

import json

import aiohttp
import pytest

from speechrest.testing import Fault, FaultPlan, SpeechEmulator
from speechrest.testing._operations import OPERATIONS, operation_of
from tests.conftest import spec_dir

pytestmark = pytest.mark.anyio


def test_the_operation_table_matches_the_spec() -> None:
    spec = json.loads((spec_dir() / "speechtotext-2025-10-15.json").read_text())
    expected = {
        op["operationId"]: (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if isinstance(op, dict) and "operationId" in op
    }
    assert expected == OPERATIONS


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("GET", "/speechtotext/models/base", "Models_ListBaseModels"),
        ("GET", "/speechtotext/models/base/abc", "Models_GetBaseModel"),
        ("GET", "/speechtotext/models/abc", "Models_GetCustomModel"),
        ("GET", "/speechtotext/transcriptions/locales", "Transcriptions_ListSupportedLocales"),
        ("GET", "/speechtotext/transcriptions/abc", "Transcriptions_Get"),
        ("POST", "/speechtotext/transcriptions:submit", "Transcriptions_Submit"),
        ("POST", "/speechtotext/models/abc:copy", "Models_Copy"),
        ("PUT", "/speechtotext/datasets/abc/blocks", "Datasets_UploadBlock"),
        ("GET", "/blobs/x/contenturl_0.json", None),
        ("DELETE", "/speechtotext/transcriptions:submit", None),
    ],
)
def test_operation_of(method: str, path: str, operation: str | None) -> None:
    assert operation_of(method, path) == operation


def test_add_checks_its_arguments() -> None:
    plan = FaultPlan()
    with pytest.raises(ValueError, match="operationId"):
        plan.add(Fault.server_error(), operation="Transcriptions_Nope")
    with pytest.raises(ValueError, match="rate"):
        plan.add(Fault.server_error(), rate=1.5)


def test_rules_fire_in_order_for_their_count_after_skipping() -> None:
    plan = FaultPlan()
    plan.add(Fault.server_error(), operation="Transcriptions_Get", skip=1, times=2)
    plan.add(Fault.throttled(), method="get", path=r"/transcriptions/")
    get = ("GET", "/speechtotext/transcriptions/abc")
    picked = [plan._pick(*get) for _ in range(5)]
    assert [f.name if f else None for f in picked] == [
        "http_429",  # skipped by the first rule, so the second one fires (once)
        "http_500",
        "http_500",
        None,
        None,
    ]
    assert plan._pick("POST", "/speechtotext/transcriptions:submit") is None
    assert plan.injected == {"http_500": 2, "http_429": 1} and plan.total == 3
    plan.clear()
    assert plan.rules == [] and plan.total == 3


def test_random_faults_are_reproducible_with_a_seed() -> None:
    def run(seed: int) -> list[bool]:
        plan = FaultPlan(seed=seed)
        plan.add(Fault.unavailable(), rate=0.3)
        return [plan._pick("GET", "/x") is not None for _ in range(200)]

    assert run(1) == run(1)
    assert run(1) != run(2)
    assert 30 < sum(run(1)) < 90


def test_fault_names() -> None:
    assert Fault.unavailable().name == "http_503"
    assert Fault.gateway_error().name == "http_502"
    assert Fault.quota_exhausted().name == "quota_exhausted"
    assert Fault.reset_during_upload().name == "reset_upload"
    assert Fault.stall().name == "stall"
    assert Fault.throttled(retry_after=2, retry_after_ms=1500).headers == {
        "Retry-After": "2",
        "retry-after-ms": "1500",
    }


async def test_faults_over_raw_http_and_at_runtime() -> None:
    """The plan works for any HTTP client, before authentication, and can change live."""
    async with SpeechEmulator() as emulator, aiohttp.ClientSession() as session:
        url = emulator.endpoint + "/speechtotext/transcriptions?api-version=2025-10-15"
        emulator.faults.add(Fault.quota_exhausted(retry_after=86400))
        async with session.get(url) as resp:  # no key: the fault comes first
            assert resp.status == 429 and resp.headers["Retry-After"] == "86400"
            body = await resp.json()
            assert "quota" in body["error"]["message"]
        emulator.faults.add(Fault.gateway_error(503, "Upstream is down."))
        async with session.get(url) as resp:
            assert resp.status == 503
            assert await resp.json() == {"error": {"code": "503", "message": "Upstream is down."}}
        async with session.get(url) as resp:
            assert resp.status == 401  # the plan is used up: the real service answers
        assert emulator.faults.total == 2
        assert [r.path for r in emulator.requests] == ["/speechtotext/transcriptions"] * 3
