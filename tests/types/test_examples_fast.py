"""The official fast-transcription examples structure and unstructure losslessly."""

from __future__ import annotations

import json

import cattrs
import pytest

from speechrest import make_converter
from speechrest.types import TranscribeDefinition, TranscribeResult

from ..conftest import load_example, spec_dir

EXAMPLES = [
    "transcribe_file.json",
    "transcribe_audio_url.json",
    "transcribe_enhanced_mode.json",
    "transcribe_enhanced_model_options.json",
]


@pytest.mark.parametrize("name", EXAMPLES)
def test_transcribe_examples_round_trip(name: str) -> None:
    strict = make_converter(strict=True)
    example = load_example(name)
    body = example["responses"]["200"]["body"]
    result = strict.structure(body, TranscribeResult)
    assert strict.unstructure(result) == body
    definition = json.loads(example["parameters"]["definition"])
    parsed = strict.structure(definition, TranscribeDefinition)
    assert strict.unstructure(parsed) == definition


def test_every_transcribe_example_is_covered() -> None:
    names = {p.name for p in (spec_dir() / "examples").glob("transcribe_*.json")}
    assert names == set(EXAMPLES)


def test_strict_converter_rejects_unknown_keys_and_lenient_keeps_going() -> None:
    body = {"durationMilliseconds": 1, "combinedPhrases": [], "phrases": [], "newField": 1}
    with pytest.raises(cattrs.BaseValidationError) as info:
        make_converter(strict=True).structure(body, TranscribeResult)
    assert "newField" in " ".join(cattrs.transform_error(info.value))
    assert make_converter().structure(body, TranscribeResult).duration_ms == 1
