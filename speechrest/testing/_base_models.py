"""The emulator's base models (seeded) and what custom and base models share.

Custom models are kept in ``state.stores.models`` and base models in
``state.stores.base_models``, as wire-shaped dicts keyed by id; base models are stored
without their host-dependent ``self`` and ``links``, which :func:`render_base_model` adds.
This module imports no other emulator module, so every group can use it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._state import EmulatorState

__all__ = [
    "adaptation_deprecated",
    "custom_model_links",
    "render_base_model",
    "seed_base_models",
]

_ALL_KINDS = ["Language", "Acoustic", "Pronunciation", "LanguageMarkdown", "OutputFormatting"]

# Newest first. id, locale, version, published, adaptation deprecated, transcription deprecated,
# dataset kinds it adapts with, runs in the speech container
_SEED: list[tuple[str, str, str, str, str, str, list[str], bool]] = [
    ("e065c68b-21d3-4b28-ae61-eb4c7e797789", "en-US", "20250701", "2025-07-01T00:00:00Z",
     "2031-07-01T00:00:00Z", "2032-01-01T00:00:00Z", _ALL_KINDS, True),
    ("1aae1070-7972-47e9-a977-87e3b05c457d", "en-US", "20201015", "2020-10-15T00:00:00Z",
     "2023-01-15T00:00:00Z", "2030-01-15T00:00:00Z", ["Language", "Acoustic"], True),
    ("5b6ee0f3-5f54-4b24-a2f7-fcd0c5ab6b6a", "de-DE", "20250701", "2025-07-01T00:00:00Z",
     "2031-07-01T00:00:00Z", "2032-01-01T00:00:00Z", _ALL_KINDS, True),
    ("c33ff8a6-1ab4-4f39-9a8e-6f0d3e9c1d2b", "es-ES", "20250301", "2025-03-01T00:00:00Z",
     "2031-03-01T00:00:00Z", "2032-01-01T00:00:00Z", ["Language", "Acoustic"], False),
]  # fmt: skip


def _record(
    locale: str,
    version: str,
    published: str,
    adaptation: str,
    transcription: str,
    kinds: list[str],
    container: bool,
) -> dict[str, Any]:
    return {
        "displayName": f"{locale} {version}",
        "description": f"{locale} base model {version}",
        "locale": locale,
        "createdDateTime": published,
        "lastActionDateTime": published,
        "status": "Succeeded",
        "properties": {
            "deprecationDates": {
                "adaptationDateTime": adaptation,
                "transcriptionDateTime": transcription,
            },
            "features": {
                "supportsAdaptationsWith": list(kinds),
                "supportsTranscriptionsSubmit": True,
                "supportsTranscriptionsTranscribe": True,
                "supportsEndpoints": True,
                "supportsTranscriptionsOnSpeechContainers": container,
                "supportedOutputFormats": ["Display", "Lexical"],
            },
            "chargeForAdaptation": True,
        },
    }


def seed_base_models() -> dict[str, dict[str, Any]]:
    """The base models a new emulator knows, by id."""
    return {spec[0]: _record(*spec[1:]) for spec in _SEED}


def custom_model_links(state: EmulatorState, model_id: str) -> dict[str, str]:
    """The ``links`` of a custom model."""
    return {
        "manifest": state.url(f"/models/{model_id}/manifest"),
        "copy": state.url(f"/models/{model_id}:copy"),
        "files": state.url(f"/models/{model_id}/files"),
    }


def render_base_model(state: EmulatorState, model_id: str) -> dict[str, Any]:
    """A base model as served."""
    return {
        "self": state.url(f"/models/base/{model_id}"),
        "links": {"manifest": state.url(f"/models/base/{model_id}/manifest")},
        **state.stores.base_models[model_id],
    }


def adaptation_deprecated(model: dict[str, Any]) -> bool:
    """Whether no new custom model can be trained on this base model any more."""
    when = model["properties"]["deprecationDates"]["adaptationDateTime"]
    return datetime.fromisoformat(when) <= datetime.now(UTC)
