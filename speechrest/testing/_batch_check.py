"""Validation of batch transcription requests, with the service's error codes."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeGuard

from yarl import URL

from ._entities import ApiError, bad
from ._recognizer import PROFANITY_MODES

__all__ = ["check_submission", "check_update"]

MAX_URLS = 1000
_PUNCTUATION_MODES = ("None", "Dictated", "Automatic", "DictatedAndAutomatic")
_LID_MODES = ("Continuous", "Single")
_UPDATABLE = frozenset({"displayName", "description", "project", "customProperties"})


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


def _check_reference(value: Any, name: str, inner: str) -> None:
    if value is not None and not (isinstance(value, dict) and _is_url(value.get("self"))):
        raise bad(f"{name} must be an object with a 'self' URL.", inner)


def _check_custom_properties(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or len(value) > 10:
        raise bad("customProperties must be an object of at most 10 string entries.")
    for key, item in value.items():
        if not 1 <= len(key) <= 64 or not (item is None or isinstance(item, str)):
            raise bad("customProperties keys must be 1..64 characters, values strings.")
        if isinstance(item, str) and len(item) > 256:
            raise bad("customProperties values must be at most 256 characters.")


def _check_sources(body: dict[str, Any]) -> None:
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
        if len(urls) > MAX_URLS:
            raise bad(
                f"At most {MAX_URLS} content URLs are allowed; got {len(urls)}.",
                "ExceededNumberOfRecordingsUris",
            )
        if not all(_is_url(u) for u in urls):
            raise bad("Every content URL must be an absolute http(s) URL.", "InvalidRecordingsUri")
    container = body.get("contentContainerUrl")
    if container is not None and not _is_url(container):
        raise bad("contentContainerUrl must be an absolute http(s) URL.", "InvalidRecordingsUri")
    _check_reference(body.get("dataset"), "dataset", "InvalidDataset")


def _check_properties(props: Any, locales: Collection[str]) -> None:
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
    _check_language_identification(props.get("languageIdentification"), locales)


def _check_language_identification(lid: Any, locales: Collection[str]) -> None:
    if lid is None:
        return
    if not isinstance(lid, dict):
        raise bad("languageIdentification must be an object.")
    mode = lid.get("mode") or "Continuous"
    if mode not in _LID_MODES:
        raise bad(f"languageIdentification.mode must be one of {', '.join(_LID_MODES)}.")
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
        for ref in mapping.values():
            _check_reference(ref, "speechModelMapping values", "InvalidModel")


def check_submission(body: Any, locales: Collection[str]) -> None:
    """Refuse a ``Transcriptions_Submit`` body as the service would; raise :class:`ApiError`."""
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidRequest", "The body must be a JSON object.", "InvalidPayload")
    name = body.get("displayName")
    if not isinstance(name, str) or not name:
        raise bad("displayName is required.")
    locale = body.get("locale")
    if not isinstance(locale, str) or locale not in locales:
        raise bad(
            f"The locale {locale!r} is not supported for batch transcription.", "InvalidLocale"
        )
    if body.get("description") is not None and not isinstance(body["description"], str):
        raise bad("description must be a string.")
    _check_custom_properties(body.get("customProperties"))
    _check_sources(body)
    _check_reference(body.get("model"), "model", "InvalidModel")
    _check_reference(body.get("project"), "project", "InvalidProject")
    _check_properties(body.get("properties"), locales)


def check_update(patch: Any) -> None:
    """Refuse a ``Transcriptions_Update`` body as the service would; raise :class:`ApiError`."""
    if not isinstance(patch, dict):
        raise ApiError(400, "InvalidRequest", "The body must be a JSON object.", "InvalidPayload")
    unknown = set(patch) - _UPDATABLE
    if unknown:
        raise bad(
            f"Only displayName, description, project and customProperties can be updated; "
            f"got {', '.join(sorted(unknown))}."
        )
    name = patch.get("displayName", "x")
    if not isinstance(name, str) or not name:
        raise bad("displayName must be a non-empty string.")
    if patch.get("description") is not None and not isinstance(patch["description"], str):
        raise bad("description must be a string.")
    _check_reference(patch.get("project"), "project", "InvalidProject")
    _check_custom_properties(patch.get("customProperties"))
