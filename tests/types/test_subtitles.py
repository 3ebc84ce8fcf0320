"""Subtitles from results, checked by independent parsers (``srt`` and ``webvtt-py``)."""

from __future__ import annotations

import html
import itertools
from datetime import timedelta

import attrs
import pytest
import srt
import webvtt
from hypothesis import given, settings
from hypothesis import strategies as st

from speechrest import PollPolicy, SpeechClient, errors
from speechrest.testing import make_wav
from speechrest.types import Phrase, TranscribeResult, TranscriptionResultFile, Word
from speechrest.types.transcribe import ChannelCombinedPhrases


def _ms(clock: str) -> int:
    h, m, s = clock.split(":")
    return round((int(h) * 3600 + int(m) * 60 + float(s)) * 1000)


def _vtt(text: str) -> list[webvtt.Caption]:
    assert text.startswith("WEBVTT\n")
    return list(webvtt.from_string(text))


def _srt(text: str) -> list[srt.Subtitle]:
    subs = list(srt.parse(text))
    assert srt.compose(subs, reindex=False) == text  # nothing we wrote was dropped
    return subs


def _phrase(text: str, start: int, *, step: int = 300, words: bool = True, **kw) -> Phrase:
    tokens = text.split()
    ws = [
        Word(text=t.strip(".,").lower(), offset_ms=start + i * step, duration_ms=step - 20)
        for i, t in enumerate(tokens)
    ]
    return Phrase(
        text=text,
        offset_ms=start,
        duration_ms=len(tokens) * step,
        confidence=0.9,
        words=ws if words else None,
        **kw,
    )


def _result(*phrases: Phrase) -> TranscribeResult:
    return TranscribeResult(
        duration_ms=max(p.offset_ms + p.duration_ms for p in phrases),
        combined_phrases=[ChannelCombinedPhrases(text=" ".join(p.text for p in phrases))],
        phrases=list(phrases),
    )


LONG = (
    "This is a rather long sentence that no viewer could read on one line, so it has to be "
    "split into several cues that each fit on two short lines of text."
)


def test_long_phrase_is_split_into_readable_cues_timed_by_words() -> None:
    result = _result(_phrase("Hello there.", 0), _phrase(LONG, 2000))
    subs = _srt(result.to_srt())
    assert [s.index for s in subs] == list(range(1, len(subs) + 1))
    assert len(subs) >= 3
    for s in subs:
        lines = s.content.split("\n")
        assert 1 <= len(lines) <= 2 and all(len(line) <= 42 for line in lines)
    assert " ".join(s.content.replace("\n", " ") for s in subs) == "Hello there. " + LONG
    # Each cue runs from its first word's start to its last word's end.
    words = [w for p in result.phrases for w in p.words or []]
    starts = {timedelta(milliseconds=w.offset_ms) for w in words}
    ends = {timedelta(milliseconds=w.offset_ms + w.duration_ms) for w in words}
    assert all(s.start in starts and s.end in ends and s.start < s.end for s in subs)
    assert [s.start for s in subs] == sorted(s.start for s in subs)
    vtt = _vtt(result.to_webvtt())
    assert [(_ms(c.start), _ms(c.end), c.text) for c in vtt] == [
        (s.start // timedelta(milliseconds=1), s.end // timedelta(milliseconds=1), s.content)
        for s in subs
    ]


def test_without_word_timings_cues_share_the_phrase_time() -> None:
    result = _result(_phrase(LONG, 1000, words=False))
    subs = _srt(result.to_srt(max_line_length=30, max_lines=1))
    assert all(len(s.content) <= 30 and "\n" not in s.content for s in subs)
    assert subs[0].start == timedelta(seconds=1)
    assert subs[-1].end == timedelta(milliseconds=1000 + result.phrases[0].duration_ms)
    assert all(a.end <= b.start for a, b in itertools.pairwise(subs))


def test_speaker_labels() -> None:
    result = _result(
        _phrase("Good morning, how can I help?", 0, speaker=1),
        _phrase(
            "I would like to check my order number please, it has not arrived.", 3000, speaker=2
        ),
    )
    subs = _srt(result.to_srt())
    assert subs[0].content.startswith("Speaker 1: Good morning")
    assert all(s.content.startswith("Speaker 2: ") for s in subs[1:])
    assert all(len(line) <= 42 for s in subs for line in s.content.split("\n"))
    vtt = _vtt(result.to_webvtt())
    assert [c.voice for c in vtt] == ["Speaker 1"] + ["Speaker 2"] * (len(vtt) - 1)
    assert "Speaker" not in _srt(result.to_srt(speaker_labels=False))[0].content
    assert all(c.voice is None for c in _vtt(result.to_webvtt(speaker_labels=False)))


def test_channels_are_one_file_each() -> None:
    result = _result(
        _phrase("Left side talking.", 0, channel=0),
        _phrase("Right side answering.", 500, channel=1),
    )
    assert result.channels == [0, 1]
    with pytest.raises(errors.InvalidInputError, match=r"channel="):
        result.to_srt()
    assert [s.content for s in _srt(result.to_srt(channel=0))] == ["Left side talking."]
    assert [c.text for c in _vtt(result.to_webvtt(channel=1))] == ["Right side answering."]
    assert result.to_srt(channel=5) == ""
    assert _vtt(result.to_webvtt(channel=5)) == []


def test_webvtt_escapes_markup() -> None:
    result = _result(_phrase("Use <b> & --> here.", 0))
    [cue] = _vtt(result.to_webvtt())
    assert html.unescape(cue.text) == "Use <b> & --> here."
    assert "-->" not in result.to_webvtt().split("\n", 3)[3]


def test_bad_layout_is_refused() -> None:
    result = _result(_phrase("Hi.", 0))
    with pytest.raises(errors.InvalidInputError):
        result.to_srt(max_line_length=5)
    with pytest.raises(errors.InvalidInputError):
        result.to_webvtt(max_lines=0)


_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz.,'", min_size=1, max_size=14)


@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(st.lists(_token, min_size=1, max_size=40), min_size=1, max_size=4),
    width=st.integers(min_value=10, max_value=60),
    lines=st.integers(min_value=1, max_value=3),
    speaker=st.sampled_from([None, 1, 12]),
    with_words=st.booleans(),
)
def test_any_transcript_makes_valid_subtitles(texts, width, lines, speaker, with_words) -> None:
    phrases, start = [], 0
    for tokens in texts:
        phrases.append(_phrase(" ".join(tokens), start, words=with_words, speaker=speaker))
        start += len(tokens) * 300 + 100
    result = _result(*phrases)
    subs = _srt(result.to_srt(max_line_length=width, max_lines=lines))
    prefix = f"Speaker {speaker}: " if speaker else ""
    seen = []
    for s in subs:
        assert s.start < s.end
        assert s.content.startswith(prefix)
        cue_lines = s.content[len(prefix) :].split("\n")
        assert len(cue_lines) <= lines
        for i, line in enumerate(cue_lines):
            room = width - (len(prefix) if i == 0 else 0)
            assert len(line) <= room or " " not in line  # only a lone long word may overflow
        seen += " ".join(cue_lines).split()
    assert seen == [t for tokens in texts for t in tokens]
    assert [s.start for s in subs] == sorted(s.start for s in subs)
    # WebVTT: the voice tag is markup, not text, so the whole width is for words.
    seen = []
    for c in _vtt(result.to_webvtt(max_line_length=width, max_lines=lines)):
        assert c.voice == (f"Speaker {speaker}" if speaker else None)
        assert _ms(c.start) < _ms(c.end)
        cue_lines = html.unescape(c.text).split("\n")
        assert len(cue_lines) <= lines
        assert all(len(line) <= width or " " not in line for line in cue_lines)
        seen += " ".join(cue_lines).split()
    assert seen == [t for tokens in texts for t in tokens]


@pytest.mark.anyio
async def test_from_the_emulator_diarized(client: SpeechClient, wav_file) -> None:
    path = wav_file(
        "talk.wav", text="Hello and welcome. How are you today? I am fine thanks.", seconds=6
    )
    result = await client.transcribe(path, max_speakers=2)
    subs = _srt(result.to_srt())
    # Fast transcription numbers speakers from 0, as the service does.
    assert [s.content for s in subs] == [
        "Speaker 0: Hello and welcome.",
        "Speaker 1: How are you today?",
        "Speaker 0: I am fine thanks.",
    ]
    assert subs[-1].end <= timedelta(milliseconds=result.duration_ms)
    assert [c.voice for c in _vtt(result.to_webvtt())] == ["Speaker 0", "Speaker 1", "Speaker 0"]


def test_batch_result_file_example() -> None:
    from speechrest._convert import structure
    from tests.conftest import load_example

    data = load_example("batch_result_file.json")
    result = structure(data, TranscriptionResultFile, "download")
    assert result.channels == [0]
    [sub] = _srt(result.to_srt())
    # Timed by the display words: "Hello" at 0.76 s to "world." ending at 2.08 s.
    assert (sub.start, sub.end, sub.content) == (
        timedelta(milliseconds=760),
        timedelta(milliseconds=2080),
        "Hello world.",
    )
    [cue] = _vtt(result.to_webvtt())
    assert (cue.start, cue.end, cue.text) == ("00:00:00.760", "00:00:02.080", "Hello world.")
    # Phrases that were not recognized make no cue.
    phrase = result.recognized_phrases[0]
    failed = attrs.evolve(phrase, recognition_status="NoMatch")
    assert attrs.evolve(result, recognized_phrases=[failed]).to_srt() == ""


@pytest.mark.anyio
async def test_batch_results_from_the_emulator(emulator) -> None:
    url = emulator.serve_bytes(make_wav(seconds=8, channels=2, comment=LONG), "long.wav")
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        job = await client.transcriptions.submit(
            content_urls=[url],
            locale="en-US",
            channels=[0, 1],  # (diarization is not available for stereo audio)
            word_level_timestamps=True,
        )
        await client.transcriptions.wait(job, policy=PollPolicy(initial_interval=0.05))
        [result] = [r async for r in client.transcriptions.results(job)]
    assert result.channels == [0, 1]
    with pytest.raises(errors.InvalidInputError):
        result.to_srt()
    for channel in (0, 1):
        subs = _srt(result.to_srt(channel=channel))
        assert len(subs) >= 2
        words = " ".join(s.content.replace("\n", " ") for s in subs)
        assert words == LONG
        assert all(len(line) <= 42 for s in subs for line in s.content.split("\n"))
        assert subs[-1].end <= timedelta(milliseconds=result.duration_ms)
        captions = _vtt(result.to_webvtt(channel=channel))
        assert {c.voice for c in captions} == {None}
