from __future__ import annotations

import json
from typing import Any

import pytest

from speechrest import make_converter
from speechrest._convert import structure
from speechrest.errors import ResponseValidationError
from speechrest.types import (
    File,
    FileKind,
    Status,
    Transcription,
    TranscriptionLocales,
    TranscriptionReport,
    TranscriptionResultFile,
    TranscriptionUpdate,
)
from speechrest.types.batch_results import ticks_to_ms
from tests.conftest import load_example, spec_dir

STRICT = make_converter(strict=True)


def round_trip(data: dict[str, Any], cls: type) -> Any:
    value = STRICT.structure(data, cls)
    assert STRICT.unstructure(value) == data
    return value


def test_result_file_example_round_trips() -> None:
    result = round_trip(load_example("batch_result_file.json"), TranscriptionResultFile)
    assert result.source == "https://crbn.us/hello.wav"
    assert result.duration_ms == 2580
    assert result.text == "Hello world."
    phrase = result.recognized_phrases[0]
    # The example prints phrase ticks as floats and has no millisecond fields there.
    assert phrase.offset_milliseconds is None
    assert (phrase.offset_ms, phrase.duration_ms) == (760, 1320)
    assert phrase.succeeded and phrase.text == "Hello world."
    assert phrase.best is not None and phrase.best.masked_itn == "hello world"
    words = phrase.best.display_words
    assert words is not None and [w.display_text for w in words] == ["Hello", "world."]
    assert [(w.offset_ms, w.duration_ms) for w in words] == [(760, 760), (1520, 560)]
    # nBest is kept in service order, not sorted by confidence.
    assert [n.confidence for n in phrase.n_best or []][:2] == [0.5643338, 0.1769063]


def test_report_example_round_trips() -> None:
    report = round_trip(load_example("batch_report_file.json"), TranscriptionReport)
    assert report.successful_transcriptions_count == 2
    assert [d.input_url for d in report.details] == [
        "https://crbn.us/hello.wav",
        "https://crbn.us/whatstheweatherlike.wav",
    ]
    assert report.failed == []


def test_report_with_failures_and_old_source_name() -> None:
    report = STRICT.structure(
        {
            "successfulTranscriptionsCount": 0,
            "failedTranscriptionsCount": 1,
            "details": [
                {
                    "sourceUrl": "https://x/a.wav",
                    "status": "Failed",
                    "errorKind": "InvalidAudioFormat",
                    "errorMessage": "bad",
                }
            ],
        },
        TranscriptionReport,
    )
    (detail,) = report.failed
    assert detail.input_url == "https://x/a.wav" and not detail.ok
    assert detail.status == Status.FAILED and detail.error_kind == "InvalidAudioFormat"


def test_millisecond_fields_win_over_ticks_and_unknown_status_is_kept() -> None:
    phrase = {
        "recognitionStatus": "NoMatch",
        "channel": 1,
        "speaker": 2,
        "locale": "de-DE",
        "offset": "PT0.07S",
        "duration": "PT1H2M3.45S",
        "offsetInTicks": 700000.0,
        "durationInTicks": 37234500000,
        "offsetMilliseconds": 70,
        "durationMilliseconds": 3723450,
    }
    doc = {
        "source": "https://x/a.wav",
        "timestamp": "2025-05-24T13:37:05Z",
        "durationInTicks": 37234500000,
        "duration": "PT1H2M3.45S",
        "combinedRecognizedPhrases": [],
        "recognizedPhrases": [phrase],
    }
    result = round_trip(doc, TranscriptionResultFile)
    p = result.recognized_phrases[0]
    assert (p.offset_ms, p.duration_ms, p.speaker, p.locale) == (70, 3723450, 2, "de-DE")
    assert not p.succeeded and p.best is None and p.text == ""
    assert result.duration_ms == 3723450 and result.text == ""


def test_fractional_ticks_are_refused() -> None:
    doc = load_example("batch_result_file.json")
    doc["durationInTicks"] = 1.5
    with pytest.raises(ResponseValidationError, match=r"expected int @ .*duration_in_ticks"):
        structure(doc, TranscriptionResultFile, "download")


def test_ticks_to_ms_rounds() -> None:
    assert [ticks_to_ms(t) for t in (0, 4999, 5000, 7600000)] == [0, 0, 1, 760]


TRANSCRIPTION_EXAMPLES = [
    "create_uri_transcription.json",
    "create_lid_transcription.json",
    "create_container_transcription.json",
    "create_multispeaker_diarization_transcription.json",
    "get_transcription.json",
    "update_transcription.json",
]


@pytest.mark.parametrize("name", TRANSCRIPTION_EXAMPLES)
def test_transcription_examples_round_trip(name: str) -> None:
    example = load_example(name)
    request = example["parameters"].get("transcription")
    if request is not None:
        round_trip(request, Transcription)
    update = example["parameters"].get("transcriptionUpdate")
    if update is not None:
        round_trip(update, TranscriptionUpdate)
    (response,) = example["responses"].values()
    job = round_trip(response["body"], Transcription)
    assert job.id == "ba7ea6f5-3065-40b7-b49a-a90f48584683"
    assert job.status == Status.SUCCEEDED
    assert job.properties.time_to_live_hours == 48


@pytest.mark.parametrize("name", ["get_transcriptions.json", "get_failed_transcriptions.json"])
def test_transcription_list_examples_round_trip(name: str) -> None:
    body = load_example(name)["responses"]["200"]["body"]
    for item in body["values"]:
        # get_*transcriptions.json show contentUrls in a response, which the schema says is
        # never returned; the model keeps the field (it is a request field), so it round-trips.
        round_trip(item, Transcription)


@pytest.mark.parametrize(
    "name",
    [
        "get_transcription_file.json",
        "get_transcription_files.json",
        "get_transcription_files_filtered_by_name.json",
    ],
)
def test_transcription_file_examples_round_trip(name: str) -> None:
    # Known example mistake: the files' self URLs say api-version=3.2; it is only a string.
    body = load_example(name)["responses"]["200"]["body"]
    for item in body.get("values", [body]):
        file = round_trip(item, File)
        assert file.kind in (FileKind.TRANSCRIPTION, FileKind.TRANSCRIPTION_REPORT)
        assert file.links is not None and file.links.content_url


def test_locales_example_round_trips() -> None:
    body = load_example("get_supported_transcription_locales.json")["responses"]["200"]["body"]
    locales = round_trip(body, TranscriptionLocales)
    assert locales.submit == ["en-US", "de-DE", "es-ES"]


def test_every_transcription_example_is_covered() -> None:
    names = {p.name for p in (spec_dir() / "examples").glob("*transcription*.json")}
    # Fast transcription (transcribe_*), project listings and file listings are covered
    # by the tests of their own groups and of the files API.
    batch = {
        n
        for n in names
        if not n.startswith("transcribe_") and "project" not in n and "files" not in n
    }
    covered = set(TRANSCRIPTION_EXAMPLES) | {
        "get_transcriptions.json",
        "get_failed_transcriptions.json",
        "get_supported_transcription_locales.json",
        "delete_transcription.json",
        "get_transcription_file.json",
    }
    files = {n for n in names if "files" in n and "project" not in n}
    assert files == {
        "get_transcription_files.json",
        "get_transcription_files_filtered_by_name.json",
    }
    assert batch <= covered, batch - covered
    assert (
        json.dumps(load_example("delete_transcription.json")["responses"])
        == '{"204": {"headers": {}}}'
    )
