"""Validation of fast transcription definitions, with the service's error codes, and the
options they turn on (:class:`FastOptions`).

Sources: the Swagger 2025-10-15 (``TranscribeDefinition``) and Learn's fast transcription
and LLM speech pages; where the two disagree, the rule says which it follows.
"""

from __future__ import annotations

from typing import Any

import attrs

from ._entities import TRANSCRIBE_LOCALES, ApiError, find_model
from ._recognizer import PROFANITY_MODES
from ._state import EmulatorState

__all__ = ["ENHANCED_LANGUAGES", "FastOptions", "check_definition"]

ENHANCED_LANGUAGES = {
    "en": "en-US",
    "zh": "zh-CN",
    "de": "de-DE",
    "fr": "fr-FR",
    "it": "it-IT",
    "ja": "ja-JP",
    "es": "es-ES",
    "pt": "pt-BR",
    "ko": "ko-KR",
}
"""LLM speech's languages "for both transcribe and translate tasks" (Learn, llm-speech) as
``targetLanguage`` short codes, with the locale a translation is labelled with (the Swagger
example ``transcribe_enhanced_mode.json`` answers ``targetLanguage: "zh"`` with ``zh-CN``)."""
_TASKS = ("transcribe", "translate")
_MAX_PROMPT = 4096
"""Characters of ``enhancedMode.prompt`` (Learn, llm-speech: "max 4,096 characters")."""


@attrs.frozen(kw_only=True)
class FastOptions:
    """What a checked definition asks for."""

    locales: list[str]
    channels: list[int] | None
    speakers: int | None
    """Most speakers when diarization is on, else None."""
    profanity: str
    enhanced: bool
    translate_to: str | None
    """The locale of ``enhancedMode.targetLanguage`` for the ``translate`` task."""


def _bad(message: str, inner: str = "InvalidParameterValue") -> ApiError:
    return ApiError(400, "InvalidArgument", message, inner)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _diarization(d: dict[str, Any]) -> int | None:
    """The most speakers when diarization is on.

    The service diarizes only with ``"enabled": true``: the Swagger ("Diarization settings
    must be specified to enable diarization"), every Learn example (``{"maxSpeakers": 2,
    "enabled": true}``), Learn's list of common failures ("Expecting speaker labels without
    explicitly enabling diarization", configure-language-identification-diarization) and a
    report against the live service (Azure/azure-sdk-for-python#44436: no speaker labels from
    ``azure-ai-transcription``, which sends ``{"maxSpeakers": N}`` alone, "unless I manually
    update ``diarization_options.enabled = True``"). So ``maxSpeakers`` alone labels no
    speakers here either: a test passes only where production would. ``maxSpeakers``
    defaults to 2 (Learn: "For two speakers, setting [diarization enabled] is enough").
    """
    dia = d.get("diarization")
    if dia is None:
        return None
    n = dia.get("maxSpeakers") if isinstance(dia, dict) else None
    if not isinstance(dia, dict) or (n is not None and (not _is_int(n) or not 2 <= n <= 35)):
        raise _bad("diarization.maxSpeakers must be between 2 and 35.")
    enabled = dia.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise _bad("diarization.enabled must be a boolean.")
    return (n or 2) if enabled else None


def _channels(d: dict[str, Any], diarized: bool) -> list[int] | None:
    channels = d.get("channels")
    if channels is None:
        return None
    if (
        not isinstance(channels, list)
        or not channels
        or len(channels) > 2
        or len(set(channels)) != len(channels)
        or not all(_is_int(c) and c >= 0 for c in channels)
    ):
        raise _bad(
            "At most two distinct 0-based channels can be given.", "InvalidChannelSpecification"
        )
    if diarized and len(channels) > 1:
        # Learn (fast transcription): "If the audio is stereo and diarization is enabled, then
        # you can't set the channels property to [0,1]. The Speech service doesn't support
        # diarization of multiple channels."
        raise _bad(
            "Diarization of multiple channels is not supported: give one channel, or none.",
            "InvalidChannelSpecification",
        )
    return channels


def _locales(state: EmulatorState, d: dict[str, Any], enhanced: bool) -> list[str]:
    locales = d.get("locales")
    if locales is None:
        return []
    if not isinstance(locales, list) or not all(isinstance(x, str) for x in locales):
        raise _bad(f"Invalid locales: {locales!r}.", "InvalidLocale")
    # LLM speech: "Some configuration options, such as locales and phraseLists, are either
    # not required or not applicable" (the Swagger example sends "locales": ["en"]).
    known = {x.lower() for x in TRANSCRIBE_LOCALES}  # (BCP 47 tags are case-insensitive)
    unknown = [x for x in locales if x.lower() not in known]
    if unknown and not enhanced:
        raise _bad(
            f"Unsupported locale(s) {', '.join(map(repr, unknown))}: see "
            "Transcriptions_ListSupportedLocales (Transcribe).",
            "InvalidLocale",
        )
    _models(state, d.get("models"), locales)
    return locales


def _models(state: EmulatorState, models: Any, locales: list[str]) -> None:
    """``models`` maps candidate locales to model URIs; each must be a usable model (the
    Swagger 2025-10-15 has it; Learn's migration guide says it was removed: an emulator that
    accepts it checks it as the batch ``model``)."""
    if models is None:
        return
    if not isinstance(models, dict):
        raise _bad("models must map locales to model URIs.", "InvalidModel")
    for locale, uri in models.items():
        if locale not in locales:
            raise _bad(f"models maps {locale!r}, which is not one of the locales.", "InvalidModel")
        find_model(state, {f"models.{locale}": {"self": uri}}, f"models.{locale}", locale)


def _phrase_list(d: dict[str, Any]) -> None:
    phrases = d.get("phraseList")
    if phrases is None:
        return
    items = phrases.get("phrases") if isinstance(phrases, dict) else None
    if not isinstance(items, list) or not all(isinstance(p, str) for p in items):
        raise _bad("phraseList.phrases must be a list of strings.")
    weight = phrases.get("biasingWeight")
    # The Swagger gives no range; Learn's phrase list page: "The phrase list weight can be
    # set within a range of 0.0 to 2.0" (the azure-ai-transcription 1.0 docstring's "1.0 to
    # 20.0" is out of date: its TypeSpec now says 0.0-2.0).
    if weight is not None and (
        isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 2
    ):
        raise _bad("phraseList.biasingWeight must be a number from 0.0 to 2.0.")


def _enhanced(d: dict[str, Any]) -> tuple[bool, str | None]:
    """(enhanced mode on, the locale to translate to)."""
    mode = d.get("enhancedMode")
    if mode is None:
        return False, None
    if not isinstance(mode, dict):
        raise _bad("enhancedMode must be an object.")
    if not mode.get("enabled"):
        return False, None
    task = mode.get("task", "transcribe")
    if task not in _TASKS:
        raise _bad(f"enhancedMode.task must be one of {', '.join(_TASKS)}.")
    prompt = mode.get("prompt")
    if prompt is not None and (
        not isinstance(prompt, list)
        or not all(isinstance(p, str) for p in prompt)
        or sum(map(len, prompt)) > _MAX_PROMPT
    ):
        raise _bad(f"enhancedMode.prompt must be strings of at most {_MAX_PROMPT} characters.")
    if task == "transcribe":
        return True, None
    target = mode.get("targetLanguage")
    if target not in ENHANCED_LANGUAGES:
        raise _bad(
            "enhancedMode.targetLanguage is required to translate, one of "
            f"{', '.join(ENHANCED_LANGUAGES)}.",
            "InvalidLocale",
        )
    return True, ENHANCED_LANGUAGES[target]


def check_definition(state: EmulatorState, d: dict[str, Any]) -> FastOptions:
    """Refuse a definition as the service would (an ``ApiError``); else what it asks for."""
    enhanced, translate_to = _enhanced(d)
    speakers = _diarization(d)
    mode = d.get("profanityFilterMode", "Masked")  # "The default value is Masked" (Learn)
    if mode not in PROFANITY_MODES:
        raise _bad(f"Unknown profanityFilterMode {mode!r}.")
    _phrase_list(d)
    return FastOptions(
        locales=_locales(state, d, enhanced),
        channels=_channels(d, speakers is not None),
        speakers=speakers,
        profanity=mode,
        enhanced=enhanced,
        translate_to=translate_to,
    )
