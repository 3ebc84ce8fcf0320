"""Validation of ``Transcriptions_Submit`` bodies, with the service's error codes. The
fields every entity shares, and updates, are checked by the shared ``check_fields``."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeGuard

from yarl import URL

from ._entities import bad, check_fields, check_project, find_model
from ._recognizer import PROFANITY_MODES
from ._state import EmulatorState

__all__ = ["check_submission"]

_PUNCTUATION_MODES = ("None", "Dictated", "Automatic", "DictatedAndAutomatic")
_LID_MODES = ("Continuous", "Single")
_FIELDS = (
    "displayName",
    "description",
    "customProperties",
    "locale",
    "contentUrls",
    "contentContainerUrl",
    "dataset",
    "model",
    "project",
    "properties",
)


def _is_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        url = URL(value)
    except ValueError:
        return False
    return url.scheme in ("http", "https") and bool(url.host)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_sources(state: EmulatorState, body: dict[str, Any]) -> None:
    given = [
        k for k in ("contentUrls", "contentContainerUrl", "dataset") if body.get(k) is not None
    ]
    if len(given) != 1:
        raise bad(
            "Exactly one of contentUrls, contentContainerUrl or dataset must be given.",
            "OnlyOneOfUrlsOrContainerOrDataset",
        )
    urls = body.get("contentUrls")
    if urls is not None:
        if not isinstance(urls, list) or not urls:
            raise bad("contentUrls must be a non-empty array of URLs.", "InvalidRecordingsUri")
        most = state.limits.batch_content_urls
        if len(urls) > most:
            raise bad(
                f"At most {most} content URLs are allowed; got {len(urls)}.",
                "ExceededNumberOfRecordingsUris",
            )
        if not all(_is_url(u) for u in urls):
            raise bad("Every content URL must be an absolute http(s) URL.", "InvalidRecordingsUri")
    container = body.get("contentContainerUrl")
    if container is not None and not _is_url(container):
        raise bad("contentContainerUrl must be an absolute http(s) URL.", "InvalidRecordingsUri")


def _check_properties(state: EmulatorState, props: Any, locales: Collection[str]) -> None:
    if not isinstance(props, dict):
        raise bad("properties is required.", "InvalidTranscription")
    ttl = props.get("timeToLiveHours")
    if not _is_int(ttl) or not 6 <= ttl <= 744:
        raise bad("properties.timeToLiveHours must be 6..744 hours.", "InvalidTimeToLive")
    for flag in ("wordLevelTimestampsEnabled", "displayFormWordLevelTimestampsEnabled"):
        if props.get(flag) is not None and not isinstance(props[flag], bool):
            raise bad(f"properties.{flag} must be a boolean.")
    channels = props.get("channels")
    if channels is not None and (
        not isinstance(channels, list)
        or not channels
        or not all(_is_int(c) and c >= 0 for c in channels)
        or len(set(channels)) != len(channels)
    ):
        raise bad(
            "properties.channels must be distinct 0-based channel numbers.", "InvalidChannels"
        )
    for key, allowed in (
        ("punctuationMode", _PUNCTUATION_MODES),
        ("profanityFilterMode", PROFANITY_MODES),
    ):
        if props.get(key) is not None and props[key] not in allowed:
            raise bad(f"properties.{key} must be one of {', '.join(allowed)}.")
    dia = props.get("diarization")
    if dia is not None:
        n = dia.get("maxSpeakers") if isinstance(dia, dict) else None
        if not isinstance(dia, dict) or (n is not None and (not _is_int(n) or not 2 <= n <= 35)):
            raise bad("properties.diarization.maxSpeakers must be between 2 and 35.")
    dest = props.get("destinationContainerUrl")
    if dest is not None and not _is_url(dest):
        raise bad("destinationContainerUrl must be an absolute http(s) URL.")
    _check_language_identification(state, props.get("languageIdentification"), locales)


def _check_language_identification(
    state: EmulatorState, lid: Any, locales: Collection[str]
) -> None:
    if lid is None:
        return
    if not isinstance(lid, dict):
        raise bad("languageIdentification must be an object.")
    # The Swagger marks the enum "modelAsString"; every Microsoft example writes "Single" or
    # "Continuous", and how the service treats other cases is not documented. ASP.NET's enum
    # converters read names case-insensitively, so "single" is taken, and echoed as "Single".
    mode = next(
        (m for m in _LID_MODES if str(lid.get("mode") or "Continuous").lower() == m.lower()),
        None,
    )
    if mode is None:
        raise bad(f"languageIdentification.mode must be one of {', '.join(_LID_MODES)}.")
    if "mode" in lid:
        lid["mode"] = mode
    candidates = lid.get("candidateLocales")
    if not isinstance(candidates, list) or not all(isinstance(c, str) for c in candidates):
        raise bad("languageIdentification.candidateLocales is required.")
    if len(candidates) < 2 or (mode == "Continuous" and len(candidates) > 10):
        raise bad("Language identification needs 2..10 candidate locales in Continuous mode.")
    unknown = [c for c in candidates if c not in locales]
    if unknown:
        raise bad(f"Unsupported candidate locale(s): {', '.join(unknown)}.", "InvalidLocale")
    mapping = lid.get("speechModelMapping")
    if mapping is not None:
        if not isinstance(mapping, dict) or not set(mapping) <= set(candidates):
            raise bad("speechModelMapping keys must be candidate locales.")
        for locale, ref in mapping.items():
            name = f"speechModelMapping.{locale}"
            find_model(state, {name: ref}, name, locale)


def check_submission(state: EmulatorState, body: dict[str, Any], locales: Collection[str]) -> None:
    """Refuse a ``Transcriptions_Submit`` body as the service would; raise ``ApiError``.
    ``dataset`` is resolved by the caller, which needs it."""
    check_fields(body, _FIELDS, required=("displayName", "locale"), create=True, locales=locales)
    _check_sources(state, body)
    _check_properties(state, body.get("properties"), locales)
    check_project(state, body)
    if body.get("model") is not None:
        find_model(state, body, "model", body["locale"])
