"""The batch result file format, as the emulator writes it (one document per input).

Times are written in all three forms: ISO 8601 (``PT2.58S``), ticks (printed as floats at
phrase and word level, as the service does) and milliseconds.
"""

from __future__ import annotations

import collections
from typing import Any

import attrs

from ._audio import AudioInfo
from ._recognizer import RecognizedPhrase, filter_profanity, speaker_of, words_of
from ._state import EmulatorState, now_iso

__all__ = ["BadChannels", "iso_duration", "result_document"]

TICKS_PER_MS = 10_000
_PUNCTUATION = ".,!?;:"


class BadChannels(Exception):
    """The requested channels cannot be transcribed; ``code`` is the report's error kind."""

    def __init__(self, message: str, code: str = "InvalidChannelSpecification") -> None:
        super().__init__(message)
        self.code = code


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


def _channels(props: dict[str, Any], audio: AudioInfo, diarized: bool) -> list[int]:
    """The requested channels the audio has ("Channels 0 and 1 are transcribed by default";
    mono audio has channel 0 only)."""
    wanted = [c for c in props.get("channels") or [0, 1] if c < audio.channels]
    if not wanted:
        raise BadChannels(
            f"The audio has {audio.channels} channel(s); none of the channels "
            f"{props.get('channels')} exists."
        )
    if diarized and len(wanted) > 1:
        # Learn (batch-transcription-create, diarization): "expected to be a mono channel that
        # contains multiple voices. The feature isn't available with stereo recordings." Users
        # of the live service report such files as failed (cognitive-services-speech-sdk#1109).
        raise BadChannels(
            "Diarization is not available for stereo audio: transcribe one channel "
            "(properties.channels: [0]) or send mono audio.",
            "BadChannelConfiguration",
        )
    return wanted


async def result_document(
    state: EmulatorState, entity: dict[str, Any], audio: AudioInfo, source: str
) -> dict[str, Any]:
    """The result file of one input transcribed under the job ``entity``."""
    props: dict[str, Any] = entity["properties"]
    dia = props.get("diarization") or {}
    speakers = (dia.get("maxSpeakers") or 2) if dia.get("enabled") else None
    wanted = _channels(props, audio, speakers is not None)
    lid = props.get("languageIdentification")
    locales = list(lid["candidateLocales"]) if lid else [entity["locale"]]
    profanity = props.get("profanityFilterMode") or "Masked"
    punctuation = props.get("punctuationMode") or "DictatedAndAutomatic"

    phrases: list[dict[str, Any]] = []
    combined: dict[int, list[dict[str, Any]]] = {c: [] for c in wanted}
    heard = [p for p in await state.recognize(audio, locales) if p.channel in wanted]
    if heard and lid and lid.get("mode") == "Single":
        # Single: one language for the whole file; Continuous: each phrase its own.
        main = collections.Counter(p.locale for p in heard).most_common(1)[0][0]
        heard = [attrs.evolve(p, locale=main) for p in heard]
    for i, p in enumerate(heard):
        best = _nbest(p, props, profanity, punctuation)
        phrase: dict[str, Any] = {"recognitionStatus": "Success", "channel": p.channel}
        if speakers:
            # Batch results number speakers from 1 (every Learn example: "speaker": 1, 2).
            phrase["speaker"] = speaker_of(p, i, speakers) + 1
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
