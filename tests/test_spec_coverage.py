"""Every operation of the API has a client method whose docstring names its operationId."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

from speechrest import SpeechClient
from speechrest.resources._base import Resource
from tests.conftest import spec_dir

OPERATIONS_FILE = Path(__file__).parent / "data" / "operations.txt"
OPERATION_ID = re.compile(r"\b([A-Z][A-Za-z]+_[A-Z][A-Za-z]+)\b")


def known_operations() -> set[str]:
    lines = OPERATIONS_FILE.read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def documented_operations() -> dict[str, list[str]]:
    """operationId -> the public client methods whose docstrings name it."""
    client = SpeechClient("http://127.0.0.1:9", key="unused")  # no I/O until opened
    methods = [("SpeechClient.transcribe", SpeechClient.transcribe)]
    for name, resource in vars(client).items():
        if isinstance(resource, Resource) and not name.startswith("_"):
            for attr, member in inspect.getmembers(type(resource), inspect.isfunction):
                if not attr.startswith("_"):
                    methods.append((f"client.{name}.{attr}", member))
    found: dict[str, list[str]] = {}
    for where, method in methods:
        for operation in OPERATION_ID.findall(inspect.getdoc(method) or ""):
            found.setdefault(operation, []).append(where)
    return found


def test_the_operation_list_has_all_67() -> None:
    assert len(known_operations()) == 67


def test_every_operation_has_a_client_method() -> None:
    missing = sorted(known_operations() - set(documented_operations()))
    assert not missing, f"no client method names these operationIds: {missing}"


def test_docstrings_name_only_real_operations() -> None:
    unknown = {
        op: where for op, where in documented_operations().items() if op not in known_operations()
    }
    assert not unknown, f"docstrings name operationIds the API does not have: {unknown}"


def test_the_operation_list_matches_the_spec() -> None:
    spec = json.loads((spec_dir() / "speechtotext-2025-10-15.json").read_text())
    in_spec = {
        operation["operationId"]
        for path in spec["paths"].values()
        for method, operation in path.items()
        if method != "parameters"
    }
    assert in_spec == known_operations()
