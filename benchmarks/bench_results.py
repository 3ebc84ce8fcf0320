"""Structuring a batch result file: a 2-hour, 20,000-word transcript.

The document is generated in the service's format (ISO durations, ticks printed as floats,
milliseconds, the chosen hypothesis with ``words`` and ``displayWords``, and two alternates
per phrase, as real files carry). The baseline is ``json.loads`` of the same bytes: the rows
say how much structuring into :class:`~speechrest.types.TranscriptionResultFile` costs on
top of decoding the JSON, and how the whole download path (decode + structure) compares.

Run alone: ``python benchmarks/bench_results.py [--quick|--smoke]``.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import row

from speechrest._convert import converter, structure
from speechrest.testing._batch_format import iso_duration
from speechrest.types import TranscriptionResultFile

HOURS = 2
WORDS = 20_000
WORDS_PER_PHRASE = 10
VOCABULARY = "the quick brown fox jumps over a lazy dog while we talk about the weather".split()


def _times(offset_ms: int, duration_ms: int) -> dict[str, Any]:
    return {
        "offset": iso_duration(offset_ms),
        "duration": iso_duration(duration_ms),
        "offsetInTicks": float(offset_ms * 10_000),
        "durationInTicks": float(duration_ms * 10_000),
        "offsetMilliseconds": offset_ms,
        "durationMilliseconds": duration_ms,
    }


def transcript(words: int = WORDS, hours: float = HOURS) -> dict[str, Any]:
    """A result file of ``words`` words spread over ``hours`` hours of audio."""
    total_ms = int(hours * 3_600_000)
    per_word = total_ms // words
    phrases = []
    for p in range(words // WORDS_PER_PHRASE):
        start = p * WORDS_PER_PHRASE * per_word
        tokens = [VOCABULARY[(p + i) % len(VOCABULARY)] for i in range(WORDS_PER_PHRASE)]
        lexical = " ".join(tokens)
        display = lexical.capitalize() + "."
        shown = display.split()
        best = {
            "confidence": 0.91,
            "lexical": lexical,
            "itn": lexical,
            "maskedITN": lexical,
            "display": display,
            "words": [
                {"word": t, **_times(start + i * per_word, per_word), "confidence": 0.9}
                for i, t in enumerate(tokens)
            ],
            "displayWords": [
                {"displayText": t, **_times(start + i * per_word, per_word)}
                for i, t in enumerate(shown)
            ],
        }
        alternates = [
            {"confidence": 0.4, "lexical": alt, "itn": alt, "maskedITN": alt, "display": alt}
            for alt in (lexical + " s", lexical[:-1])
        ]
        phrases.append(
            {
                "recognitionStatus": "Success",
                "channel": 0,
                **_times(start, WORDS_PER_PHRASE * per_word),
                "nBest": [best, *alternates],
            }
        )
    text = " ".join(p["nBest"][0]["display"] for p in phrases)  # type: ignore[index]
    return {
        "source": "https://example.blob.core.windows.net/audio/two-hours.wav",
        "timestamp": "2025-05-24T13:37:05Z",
        "durationInTicks": total_ms * 10_000,
        "durationMilliseconds": total_ms,
        "duration": iso_duration(total_ms),
        "combinedRecognizedPhrases": [
            {"channel": 0, "lexical": text, "itn": text, "maskedITN": text, "display": text}
        ],
        "recognizedPhrases": phrases,
    }


def _best(fn: Any, repeats: int) -> float:
    """Fastest of ``repeats`` runs, in seconds (GC paused, as timeit does)."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            started = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - started)
        finally:
            gc.enable()
    return best


def run(quick: bool, smoke: bool = False) -> list[dict[str, Any]]:
    """The rows; ``quick`` repeats less, ``smoke`` structures a tenth of the transcript."""
    repeats = 1 if smoke else 3 if quick else 7
    words, hours = (WORDS // 10, HOURS / 10) if smoke else (WORDS, HOURS)
    raw = json.dumps(transcript(words, hours), separators=(",", ":")).encode()
    data = json.loads(raw)
    result = structure(data, TranscriptionResultFile, "bench")
    assert len(result.recognized_phrases) == words // WORDS_PER_PHRASE
    assert result.duration_ms == int(hours * 3_600_000)

    loads = _best(lambda: json.loads(raw), repeats)
    build = _best(lambda: structure(data, TranscriptionResultFile, "bench"), repeats)
    both = _best(lambda: structure(json.loads(raw), TranscriptionResultFile, "bench"), repeats)
    hook = converter.get_structure_hook(TranscriptionResultFile)
    bare = _best(lambda: hook(data, TranscriptionResultFile), repeats)
    size = f"{len(raw) / 1e6:.1f} MB, {words:,} words"
    return [
        row("json.loads of the result file (baseline)", loads * 1e3, loads * 1e3, "ms", note=size),
        row("structure() into TranscriptionResultFile", build * 1e3, loads * 1e3, "ms"),
        row("json.loads + structure() (what results() does)", both * 1e3, loads * 1e3, "ms"),
        row(
            "structuring with the hoisted cattrs hook",
            bare * 1e3,
            loads * 1e3,
            "ms",
            note="converter.get_structure_hook(TranscriptionResultFile)",
        ),
    ]


def main() -> None:
    rows = run("--quick" in sys.argv, smoke="--smoke" in sys.argv)
    print("| benchmark | value | baseline | ratio | unit | note |")
    print("| --- | ---: | ---: | ---: | --- | --- |")
    for r in rows:
        print(
            f"| {r['name']} | {r['value']:.1f} | {r['baseline']:.1f} | {r['ratio']:.2f}x "
            f"| {r['unit']} | {r['note']} |"
        )


if __name__ == "__main__":
    main()
