"""The batch result file format, as the emulator writes it (one document per input).

Times are written in all three forms: ISO 8601 (``PT2.58S``), ticks (printed as floats at
phrase and word level, as the service does) and milliseconds.
"""

from __future__ import annotations

from typing import Any

from ._audio import AudioInfo
from ._recognizer import RecognizedPhrase, filter_profanity, words_of
from ._state import EmulatorState, now_iso

__all__ = ["BadChannels", "iso_duration", "result_document"]

TICKS_PER_MS = 10_000
_PUNCTUATION = ".,!?;:"


class BadChannels(Exception):
    """None of the requested channels exists in the audio."""


def iso_duration(ms: int) -> str:
    """``PT1H2M3.45S``-style duration of ``ms`` milliseconds (``PT0S`` for zero)."""
    if ms <= 0:
        return "PT0S"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if rest:
        text += f"{rest / 1000:.3f}".rstrip("0").rstrip(".") + "S"
    return text


def _times(offset_ms: int, duration_ms: int) -> dict[str, Any]:
    return {
        "offset": iso_duration(offset_ms),
        "duration": iso_duration(duration_ms),
        "offsetInTicks": float(offset_ms * TICKS_PER_MS),
        "durationInTicks": float(duration_ms * TICKS_PER_MS),
        "offsetMilliseconds": offset_ms,
        "durationMilliseconds": duration_ms,
    }


def _lexical(text: str) -> str:
    return " ".join(w.strip(_PUNCTUATION).lower() for w in text.split() if w.strip(_PUNCTUATION))


def _nbest(
    phrase: RecognizedPhrase, props: dict[str, Any], profanity: str, punctuation: str
) -> dict[str, Any]:
    display = filter_profanity(phrase.text, profanity)
    if punctuation == "None":
        display = " ".join(w.strip(_PUNCTUATION) for w in display.split())
    lexical = _lexical(phrase.text)
    best: dict[str, Any] = {
        "confidence": phrase.confidence,
        "lexical": lexical,
        "itn": lexical,
        "maskedITN": _lexical(filter_profanity(phrase.text, "Masked")),
        "display": display,
    }
    if props.get("wordLevelTimestampsEnabled"):
        best["words"] = [
            {"word": w["text"], **_times(w["offsetMilliseconds"], w["durationMilliseconds"])}
            | {"confidence": phrase.confidence}
            for w in words_of(phrase, lexical)
        ]
    if props.get("displayFormWordLevelTimestampsEnabled"):
        best["displayWords"] = [
            {"displayText": token, **_times(w["offsetMilliseconds"], w["durationMilliseconds"])}
            for w, token in zip(words_of(phrase, display), display.split(), strict=True)
        ]
    return best


async def result_document(
    state: EmulatorState, entity: dict[str, Any], audio: AudioInfo, source: str
) -> dict[str, Any]:
    """The result file of one input transcribed under the job ``entity``."""
    props: dict[str, Any] = entity["properties"]
    wanted = [c for c in props.get("channels") or [0, 1] if c < audio.channels]
    if not wanted:
        raise BadChannels(
            f"The audio has {audio.channels} channel(s); none of the channels "
            f"{props.get('channels')} exists."
        )
    lid = props.get("languageIdentification")
    locales = list(lid["candidateLocales"]) if lid else [entity["locale"]]
    dia = props.get("diarization") or {}
    speakers = (dia.get("maxSpeakers") or 2) if dia.get("enabled") else None
    profanity = props.get("profanityFilterMode") or "Masked"
    punctuation = props.get("punctuationMode") or "DictatedAndAutomatic"

    phrases: list[dict[str, Any]] = []
    combined: dict[int, list[dict[str, Any]]] = {c: [] for c in wanted}
    heard = [p for p in await state.recognize(audio, locales) if p.channel in wanted]
    for i, p in enumerate(heard):
        best = _nbest(p, props, profanity, punctuation)
        phrase: dict[str, Any] = {"recognitionStatus": "Success", "channel": p.channel}
        if speakers:
            phrase["speaker"] = p.speaker if p.speaker is not None else (i % speakers) + 1
        phrase |= _times(p.offset_ms, p.duration_ms)
        phrase["nBest"] = [best]
        if lid:
            phrase["locale"] = p.locale
        phrases.append(phrase)
        combined[p.channel].append(best)
    return {
        "source": source,
        "timestamp": now_iso(),
        "durationInTicks": audio.duration_ms * TICKS_PER_MS,
        "durationMilliseconds": audio.duration_ms,
        "duration": iso_duration(audio.duration_ms),
        "combinedRecognizedPhrases": [
            {"channel": c}
            | {
                key: " ".join(b[key] for b in bests)
                for key in ("lexical", "itn", "maskedITN", "display")
            }
            for c, bests in combined.items()
        ],
        "recognizedPhrases": phrases,
    }
