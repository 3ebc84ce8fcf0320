"""Subtitles (SubRip and WebVTT) from timed phrases: pure formatting, no I/O.

The result types adapt their phrases to :class:`Segment` and call :func:`to_srt` or
:func:`to_webvtt`. A phrase too long for one cue is split into several, each of at most
``max_lines`` lines of at most ``max_line_length`` characters, timed by its words when word
timings line up with the text, else in proportion to the characters.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence

import attrs

from ..errors import InvalidInputError

__all__ = ["Cue", "Segment", "Subtitles", "Timed", "cues", "to_srt", "to_webvtt"]


@attrs.frozen(kw_only=True)
class Timed:
    """A word and where it is."""

    text: str
    start_ms: int
    end_ms: int


@attrs.frozen(kw_only=True)
class Segment:
    """A recognized phrase, whatever result type it came from."""

    text: str
    start_ms: int
    end_ms: int
    channel: int | None = None
    speaker: int | None = None
    words: Sequence[Timed] | None = None


@attrs.frozen(kw_only=True)
class Cue:
    """One subtitle: its lines and when it shows."""

    start_ms: int
    end_ms: int
    lines: tuple[str, ...]
    speaker: int | None = None


class Subtitles:
    """Adds :meth:`to_srt`, :meth:`to_webvtt` and :attr:`channels` to a result type that
    can list its phrases as :class:`Segment` objects."""

    __slots__ = ()

    def _segments(self) -> list[Segment]:
        raise NotImplementedError

    @property
    def channels(self) -> list[int]:
        """The channels transcribed separately (empty when the channels were mixed)."""
        return sorted({s.channel for s in self._segments() if s.channel is not None})

    def to_srt(
        self,
        *,
        channel: int | None = None,
        max_line_length: int = 42,
        max_lines: int = 2,
        speaker_labels: bool = True,
    ) -> str:
        """The transcript as SubRip (``.srt``) subtitles.

        Long phrases are split into cues of at most ``max_lines`` lines of at most
        ``max_line_length`` characters, timed by their words. With diarization each cue
        starts with ``Speaker N: ``. When channels were transcribed separately, pick one
        with ``channel=`` (one subtitle file per channel; see :attr:`channels`).
        """
        return to_srt(
            self._segments(),
            channel=channel,
            max_line_length=max_line_length,
            max_lines=max_lines,
            speaker_labels=speaker_labels,
        )

    def to_webvtt(
        self,
        *,
        channel: int | None = None,
        max_line_length: int = 42,
        max_lines: int = 2,
        speaker_labels: bool = True,
    ) -> str:
        """The transcript as WebVTT (``.vtt``) subtitles; diarized cues are voice spans
        (``<v Speaker 1>``). Otherwise as :meth:`to_srt`."""
        return to_webvtt(
            self._segments(),
            channel=channel,
            max_line_length=max_line_length,
            max_lines=max_lines,
            speaker_labels=speaker_labels,
        )


def to_srt(
    segments: Iterable[Segment],
    *,
    channel: int | None = None,
    max_line_length: int = 42,
    max_lines: int = 2,
    speaker_labels: bool = True,
) -> str:
    """SubRip text; a diarized cue starts with ``Speaker N: ``."""
    out = []
    for n, cue in enumerate(
        cues(
            segments,
            channel=channel,
            max_line_length=max_line_length,
            max_lines=max_lines,
            label=_srt_label if speaker_labels else None,
        ),
        1,
    ):
        lines = list(cue.lines)
        if speaker_labels and cue.speaker is not None:
            lines[0] = _srt_label(cue.speaker) + lines[0]
        span = f"{_clock(cue.start_ms, ',')} --> {_clock(cue.end_ms, ',')}"
        out.append(f"{n}\n{span}\n" + "\n".join(lines) + "\n\n")
    return "".join(out)


def to_webvtt(
    segments: Iterable[Segment],
    *,
    channel: int | None = None,
    max_line_length: int = 42,
    max_lines: int = 2,
    speaker_labels: bool = True,
) -> str:
    """WebVTT text; a diarized cue is a voice span ``<v Speaker N>``."""
    out = ["WEBVTT\n\n"]
    for cue in cues(
        segments, channel=channel, max_line_length=max_line_length, max_lines=max_lines
    ):
        lines = [_vtt_escape(line) for line in cue.lines]
        if speaker_labels and cue.speaker is not None:
            lines[0] = f"<v Speaker {cue.speaker}>" + lines[0]
        span = f"{_clock(cue.start_ms, '.')} --> {_clock(cue.end_ms, '.')}"
        out.append(f"{span}\n" + "\n".join(lines) + "\n\n")
    return "".join(out)


def cues(
    segments: Iterable[Segment],
    *,
    channel: int | None = None,
    max_line_length: int = 42,
    max_lines: int = 2,
    label: Callable[[int], str] | None = None,
) -> list[Cue]:
    """The cues of one channel, in time order. ``label`` (a ``speaker -> prefix`` function)
    makes room for a prefix on the first line of diarized cues."""
    if isinstance(max_line_length, bool) or not isinstance(max_line_length, int):
        raise InvalidInputError("max_line_length must be an integer")
    if max_line_length < 10 or isinstance(max_lines, bool) or max_lines < 1:
        raise InvalidInputError("max_line_length must be at least 10 and max_lines at least 1")
    segments = list(segments)
    present = sorted({s.channel for s in segments if s.channel is not None})
    if channel is None and len(present) > 1:
        raise InvalidInputError(
            f"the result has channels {present}; subtitles are made per channel: "
            f"pass channel= one of {present}"
        )
    chosen = [s for s in segments if channel is None or s.channel in (channel, None)]
    result: list[Cue] = []
    for seg in sorted(chosen, key=lambda s: (s.start_ms, s.end_ms)):
        reserve = len(label(seg.speaker)) if label and seg.speaker is not None else 0
        result += _split(seg, max_line_length, max_lines, reserve)
    return result


def _split(seg: Segment, width: int, max_lines: int, reserve: int) -> list[Cue]:
    tokens = seg.text.split()
    if not tokens:
        return []
    times = _token_times(seg, tokens)
    fits = functools.partial(_fits, width=width, max_lines=max_lines, reserve=reserve)
    spans = _fill(tokens, fits, None)
    if len(spans) > 1:  # even cues, ending at punctuation where it can, beat a short tail
        even = _fill(tokens, fits, sum(len(t) + 1 for t in tokens) / len(spans))
        spans = even if len(even) <= len(spans) else spans
    out: list[Cue] = []
    for start, end in spans:
        lines = _wrap(tokens[start:end], width, max_lines, reserve)
        t0, t1 = times[start][0], times[end - 1][1]
        out.append(Cue(start_ms=t0, end_ms=max(t1, t0 + 1), lines=lines, speaker=seg.speaker))
    return out


def _fill(
    tokens: list[str], fits: Callable[[Sequence[str]], bool], target: float | None
) -> list[tuple[int, int]]:
    """Token spans of the cues: each as full as it may be (``target`` is None), or about
    ``target`` characters, preferring to end after a punctuation mark."""
    spans, start = [], 0
    while start < len(tokens):
        end = start + 1  # at least one token, even one longer than a line
        while end < len(tokens) and fits(tokens[start : end + 1]):
            if target is not None and _chars(tokens[start : end + 1]) > target * 1.1:
                break
            end += 1
        if target is not None and end < len(tokens):
            for p in range(end - 1, start, -1):
                if _chars(tokens[start : p + 1]) < target * 0.6:
                    break
                if tokens[p][-1] in ".,;:?!":
                    end = p + 1
                    break
        spans.append((start, end))
        start = end
    return spans


def _chars(tokens: Sequence[str]) -> int:
    return sum(len(t) + 1 for t in tokens)


def _token_times(seg: Segment, tokens: list[str]) -> list[tuple[int, int]]:
    words = seg.words
    if words and len(words) == len(tokens):
        return [(w.start_ms, max(w.end_ms, w.start_ms)) for w in words]
    total = sum(len(t) + 1 for t in tokens)
    span = max(0, seg.end_ms - seg.start_ms)
    times, chars = [], 0
    for t in tokens:
        a = seg.start_ms + span * chars // total
        chars += len(t) + 1
        times.append((a, seg.start_ms + span * chars // total))
    return times


def _greedy(tokens: Sequence[str], width: int, reserve: int) -> list[list[str]]:
    lines: list[list[str]] = [[]]
    for t in tokens:
        limit = width - reserve if len(lines) == 1 else width
        line = lines[-1]
        if line and len(" ".join([*line, t])) > limit:
            lines.append([t])
        else:
            line.append(t)
    return lines


def _fits(tokens: Sequence[str], width: int, max_lines: int, reserve: int) -> bool:
    return len(_greedy(tokens, width, reserve)) <= max_lines


def _wrap(tokens: Sequence[str], width: int, max_lines: int, reserve: int) -> tuple[str, ...]:
    """Greedy lines; two lines are balanced (the longer one as short as can be)."""
    lines = [" ".join(line) for line in _greedy(tokens, width, reserve)]
    if len(lines) == 2 and max_lines >= 2:
        best = None
        for i in range(1, len(tokens)):
            a, b = " ".join(tokens[:i]), " ".join(tokens[i:])
            if len(a) + reserve <= width and len(b) <= width:
                score = max(len(a) + reserve, len(b))
                if best is None or score < best[0]:
                    best = (score, a, b)
        if best is not None:
            lines = [best[1], best[2]]
    return tuple(lines)


def _srt_label(speaker: int) -> str:
    return f"Speaker {speaker}: "


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clock(ms: int, sep: str) -> str:
    ms = max(0, ms)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, milli = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{milli:03d}"
