from __future__ import annotations

import re

import pytest

from speechrest.testing._filter import FILTERABLE, FilterError, apply_filter, compile_filter

JOBS = [
    {
        "displayName": "calls",
        "status": "Running",
        "locale": "en-US",
        "createdDateTime": "2022-02-01T12:00:00Z",
    },
    {
        "displayName": "It's mine",
        "status": "Failed",
        "locale": "de-DE",
        "createdDateTime": "2021-06-30T08:00:00Z",
        "description": "old",
    },
    {
        "displayName": "later",
        "status": "Succeeded",
        "locale": "en-US",
        "createdDateTime": "2023-01-01T00:00:00Z",
    },
]
ALLOWED = set(FILTERABLE["transcriptions"])


def names(expr: str) -> list[str]:
    return [str(j["displayName"]) for j in apply_filter(JOBS, expr, ALLOWED)]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("status eq 'Running'", ["calls"]),
        ("status ne 'Running'", ["It's mine", "later"]),
        ("displayName eq 'It''s mine'", ["It's mine"]),
        ("createdDateTime gt 2022-02-01T11:00:00Z", ["calls", "later"]),
        ("createdDateTime ge 2022-02-01T12:00:00Z", ["calls", "later"]),
        ("createdDateTime lt 2022-02-01T12:00:00Z", ["It's mine"]),
        ("createdDateTime le 2022-02-01T12:00:00Z", ["calls", "It's mine"]),
        ("createdDateTime gt 2022-02-01T13:00:00+02:00", ["calls", "later"]),
        ("createdDateTime gt '2022-06-01'", ["later"]),
        (
            "createdDateTime gt 2022-02-01T11:00:00Z and displayName eq 'calls'",
            ["calls"],
        ),
        (
            "status eq 'Failed' or locale eq 'en-US' and status eq 'Succeeded'",
            ["It's mine", "later"],
        ),
        (
            "(status eq 'Failed' or locale eq 'en-US') and not status eq 'Running'",
            ["It's mine", "later"],
        ),
        ("not (status eq 'Running' or status eq 'Failed')", ["later"]),
        ("STATUS EQ 'Running'".replace("STATUS", "status"), ["calls"]),
        ("description eq null", ["calls", "later"]),
        ("description ne null", ["It's mine"]),
        ("locale eq 'en-us'", []),
    ],
)
def test_filter_selects(expr: str, expected: list[str]) -> None:
    assert names(expr) == expected


@pytest.mark.parametrize(
    ("expr", "why"),
    [
        ("kind eq 'Audio'", "cannot be filtered on"),
        ("Status eq 'Running'", "cannot be filtered on"),
        ("status gt 'Running'", "only to date-time"),
        ("createdDateTime gt 'yesterday'", "not an ISO 8601"),
        ("status eq", "expected a value"),
        ("status 'Running'", "expected eq"),
        ("(status eq 'Running'", "expected ')'"),
        ("status eq 'Running')", "unexpected"),
        ("status eq 'Running' and", "expected a comparison"),
        ("status eq 'Running' status eq 'Failed'", "unexpected"),
        ("status eq 'unterminated", "unexpected text"),
        ("displayName eq 2022-01-01T00:00:00Z", "quote the text"),
        ("", "empty"),
        ("and eq 'x'", "expected a property name"),
    ],
)
def test_filter_errors(expr: str, why: str) -> None:
    with pytest.raises(FilterError, match=re.escape(why)):
        compile_filter(expr, ALLOWED)


def test_per_list_property_sets() -> None:
    files = [
        {"name": "report.json", "kind": "TranscriptionReport"},
        {"name": "a.json", "kind": "Transcription"},
    ]
    assert apply_filter(files, "kind eq 'Transcription'", set(FILTERABLE["files"])) == [files[1]]
    with pytest.raises(FilterError):
        apply_filter(files, "status eq 'Running'", set(FILTERABLE["files"]))
    assert "foundryProjectName" in FILTERABLE["projects"]
    assert "webUrl" in FILTERABLE["webhooks"]
    assert "kind" in FILTERABLE["datasets"] and "kind" not in FILTERABLE["models"]
