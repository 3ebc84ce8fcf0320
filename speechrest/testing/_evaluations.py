"""Emulated ``/speechtotext/evaluations``: two models scored on an ``Acoustic`` dataset.

The figures are computed: the emulator's recognizer transcribes the dataset's audio (or the
``transcription1``/``transcription2`` given are read), and each transcript is scored against
the dataset's reference transcripts with jiwer (the ``speechrest[emulator]`` extra). Each
audio file gets an ``EvaluationDetails`` file per model with what was heard and its errors.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import itertools
import json
import re
from typing import Any

from aiohttp import web

from ._audio import AudioFormatError, open_audio
from ._entities import (
    SUPPORTED_LOCALES,
    bad,
    check_fields,
    check_project,
    find_model,
    id_of,
    read_json,
    resolve_ref,
)
from ._entity_routes import Group, add_file
from ._filter import FILTERABLE
from ._spool import open_spool
from ._state import EmulatorState, get_state
from ._stores import Entity

__all__ = ["register", "scores"]

_FIELDS = (
    "displayName",
    "description",
    "customProperties",
    "locale",
    "model1",
    "model2",
    "dataset",
    "project",
    "transcription1",
    "transcription2",
)

GROUP = Group(
    name="evaluations",
    store=lambda stores: stores.evaluations,
    filterable=FILTERABLE["evaluations"],
)


def register(app: web.Application, state: EmulatorState) -> None:
    GROUP.register(app, create=_create, locales=list(SUPPORTED_LOCALES))
    GROUP.register_files(app)


async def _create(request: web.Request) -> web.StreamResponse:
    state = get_state(request)
    body = await read_json(request)
    required = ("displayName", "locale", "model1", "model2", "dataset")
    check_fields(body, _FIELDS, required=required, create=True)
    locale = body["locale"]
    dataset = resolve_ref(state.stores.datasets, body, "dataset", "datasets", "InvalidDataset")
    assert dataset is not None
    if dataset["kind"] != "Acoustic":
        raise bad(
            "An evaluation needs an Acoustic dataset (audio with transcripts).", "InvalidDataset"
        )
    if dataset.get("status") == "Failed":
        raise bad("The dataset failed to process.", "FailedDataset")
    if dataset.get("status") != "Succeeded":
        raise bad(
            "The dataset is not processed yet; wait until it has succeeded.", "InvalidDataset"
        )
    if dataset["locale"] != locale:
        raise bad(
            f"The dataset's locale '{dataset['locale']}' is not the evaluation's '{locale}'.",
            "InvalidLocale",
        )
    for name in ("model1", "model2"):
        find_model(state, body, name, locale)
    for name in ("transcription1", "transcription2"):
        _check_transcription(state, body, name, locale)
    check_project(state, body)
    entity = GROUP.new_entity(state, body)
    entity.pop("locale")
    for name in ("model1", "model2", "dataset", "project", "transcription1", "transcription2"):
        if body.get(name) is not None:
            entity[name] = body[name]
    entity["links"] = {"files": state.url(f"/evaluations/{id_of(entity)}/files")}
    entity["locale"] = locale
    entity["status"] = "NotStarted"
    return await GROUP.create(state, entity, _evaluate)


def _check_transcription(
    state: EmulatorState, body: dict[str, Any], name: str, locale: str
) -> None:
    """``transcription1``/``transcription2`` (writable in the Swagger's ``Evaluation``): a
    finished batch transcription of the dataset's audio, whose results are scored instead of
    a new transcription with the model."""
    job = resolve_ref(
        state.stores.transcriptions, body, name, "transcriptions", "InvalidTranscription"
    )
    if job is None:
        return
    if job.get("status") != "Succeeded":
        raise bad(
            f"The transcription referenced by '{name}' has not succeeded.", "InvalidTranscription"
        )
    if job.get("locale") != locale:
        raise bad(f"The locale of {name} is not '{locale}'.", "InvalidLocale")
    if not any(f.get("blob") for f in job.get("_files", []) if f["kind"] == "Transcription"):
        raise bad(
            f"The results of {name} are not kept by the service (destinationContainerUrl).",
            "InvalidTranscription",
        )


async def _evaluate(state: EmulatorState, entity: Entity) -> dict[str, str] | None:
    """Score each model's transcripts of the dataset's audio against its reference
    transcripts: the given ``transcription1``/``transcription2`` results, else what the
    emulator's recognizer hears (the same for both models: it has one recognizer)."""
    dataset = state.stores.datasets.get(id_of(entity["dataset"]))
    if dataset is None:
        return {"code": "InvalidDataset", "message": "The dataset no longer exists."}
    if importlib.util.find_spec("jiwer") is None:
        return {
            "code": "InternalError",
            "message": "The emulator scores evaluations with jiwer: pip install "
            "'speechrest[emulator]'.",
        }
    references = {u["name"]: u["text"] for u in dataset.get("_utterances") or []}
    heard: dict[str, str] | None = None
    properties: dict[str, Any] = {}
    for n in (1, 2):
        transcription = entity.get(f"transcription{n}")
        if transcription is not None:
            hypotheses = _from_transcription(state, transcription)
        else:
            heard = heard if heard is not None else await _hear(state, dataset, entity["locale"])
            hypotheses = heard
        figures, details = await asyncio.to_thread(scores, references, hypotheses)
        properties |= {f"{key}{n}": value for key, value in figures.items()}
        model = entity[f"model{n}"]["self"]
        for name, detail in details.items():
            data = json.dumps({"audioFileName": name, "model": model, **detail}).encode()
            add_file(
                state, GROUP.name, entity, f"{name}.model{n}_score.json", "EvaluationDetails", data
            )
    entity["properties"] = properties
    return None


async def _hear(state: EmulatorState, dataset: Entity, locale: str) -> dict[str, str]:
    """What the recognizer hears in each audio file of the dataset (lexical form)."""
    heard: dict[str, str] = {}
    for f in dataset.get("_files", []):
        if f["kind"] != "Audio":
            continue
        content = state.stores.blobs.get(f["blob"])
        if content is None:
            continue
        out, path = open_spool(state, ".wav")
        with out:
            out.write(content if isinstance(content, bytes) else content.read_bytes())
        try:
            async with open_audio(path, f["name"], spool_dir=state.spool_dir) as audio:
                phrases = await state.recognize(audio, [locale])
        except AudioFormatError:
            phrases = []
        finally:
            path.unlink(missing_ok=True)
        heard[f["name"]] = " ".join(p.text for p in phrases if p.channel == 0)
    return heard


def _from_transcription(state: EmulatorState, ref: dict[str, Any]) -> dict[str, str]:
    """The display text of each result of a batch transcription, by audio file name."""
    job = state.stores.transcriptions.get(id_of(ref))
    texts: dict[str, str] = {}
    for f in (job or {}).get("_files", []):
        content = state.stores.blobs.get(f.get("blob", ""))
        if f["kind"] != "Transcription" or not isinstance(content, bytes):
            continue
        doc = json.loads(content)
        name = str(doc.get("source", "")).split("?", 1)[0].rsplit("/", 1)[-1]
        combined = [c for c in doc.get("combinedRecognizedPhrases", []) if c.get("channel") == 0]
        texts[name] = combined[0]["display"] if combined else ""
    return texts


def _lexical(text: str) -> str:
    return " ".join(re.findall(r"\w+(?:'\w+)*", text.lower()))


def _tokens(text: str) -> str:
    """Display-form tokens: words as written and each punctuation mark on its own."""
    return " ".join(re.findall(r"\w+(?:'\w+)*|[^\w\s]", text))


def _token_edits(references: list[str], hypotheses: list[str]) -> tuple[Any, dict[str, int]]:
    """The token alignment (jiwer) and its edits by kind: a punctuation mark added, dropped
    or changed is ``punctuation``; a word that differs only in case ``capitalization``; any
    other ``lexical``. The emulator applies no inverse text normalization of its own."""
    jiwer: Any = importlib.import_module("jiwer")  # the speechrest[emulator] extra
    out = jiwer.process_words(references, hypotheses)
    edits = dict.fromkeys(_TOKEN_KINDS, 0)
    for ref, hyp, chunks in zip(out.references, out.hypotheses, out.alignments, strict=True):
        for c in chunks:
            if c.type == "equal":
                continue
            pairs = itertools.zip_longest(
                ref[c.ref_start_idx : c.ref_end_idx], hyp[c.hyp_start_idx : c.hyp_end_idx]
            )
            for r, h in pairs:
                if any(t is not None and not t[0].isalnum() and t[0] != "_" for t in (r, h)):
                    edits["punctuation"] += 1
                elif r is not None and h is not None and r.lower() == h.lower():
                    edits["capitalization"] += 1
                else:
                    edits["lexical"] += 1
    return out, edits


_TOKEN_KINDS = ("punctuation", "capitalization", "inverseTextNormalization", "lexical", "others")


def scores(
    references: dict[str, str], hypotheses: dict[str, str]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The figures of one model (Learn, how-to-custom-speech-evaluate-data: "WER = (I+D+S)/N",
    a fraction over the reference's words, not multiplied by 100; sentence error rate: the
    share of utterances with any error; token error rate: the same over display-form
    tokens) and each audio file's details. Alignments are jiwer's (minimum edit distance)."""
    jiwer: Any = importlib.import_module("jiwer")  # the speechrest[emulator] extra
    names = [n for n in references if _lexical(references[n])]
    refs = [_lexical(references[n]) for n in names]
    hyps = [_lexical(hypotheses.get(n, "")) for n in names]
    words = jiwer.process_words(refs, hyps) if names else None
    tokens, edits = (
        _token_edits(
            [_tokens(references[n]) for n in names], [_tokens(hypotheses.get(n, "")) for n in names]
        )
        if names
        else (None, dict.fromkeys(_TOKEN_KINDS, 0))
    )
    details = {}
    wrong = 0
    for i, name in enumerate(names):
        one = jiwer.process_words(refs[i], hyps[i])
        errors = one.substitutions + one.deletions + one.insertions
        wrong += errors > 0
        details[name] = {
            "reference": references[name],
            "recognized": hypotheses.get(name, ""),
            "wordCount": len(refs[i].split()),
            "wordErrorRate": round(one.wer, 4),
            "wordSubstitutionCount": one.substitutions,
            "wordDeletionCount": one.deletions,
            "wordInsertionCount": one.insertions,
        }
    return _figures(words, tokens, edits, wrong, len(names)), details


def _figures(
    words: Any, tokens: Any, edits: dict[str, int], wrong: int, sentences: int
) -> dict[str, Any]:
    if words is None:
        return {"wordErrorRate": 0.0, "sentenceCount": 0, "wordCount": 0}
    count = words.hits + words.substitutions + words.deletions
    token_count = tokens.hits + tokens.substitutions + tokens.deletions
    total_edits = sum(edits.values())
    return {
        "wordErrorRate": round(words.wer, 4),
        "sentenceErrorRate": round(wrong / sentences, 4),
        "tokenErrorRate": round(tokens.wer, 4),
        "sentenceCount": sentences,
        "wordCount": count,
        "correctWordCount": words.hits,
        "wordSubstitutionCount": words.substitutions,
        "wordDeletionCount": words.deletions,
        "wordInsertionCount": words.insertions,
        "tokenCount": token_count,
        "correctTokenCount": tokens.hits,
        "tokenSubstitutionCount": tokens.substitutions,
        "tokenDeletionCount": tokens.deletions,
        "tokenInsertionCount": tokens.insertions,
        "tokenErrors": {
            kind: {
                "numberOfEdits": n,
                "percentageOfAllEdits": round(100 * n / total_edits, 2) if total_edits else 0.0,
            }
            for kind, n in edits.items()
        },
    }
