"""Every audio format the service documents transcribes with its true duration and channel
count, in fast and batch transcription; the local recognizer hears them; invalid audio gets
the service's errors; limits follow the documentation (``ServiceLimits``)."""

from __future__ import annotations

import importlib.util
import struct
import wave
from pathlib import Path

import pytest

from speechrest import PollPolicy, SpeechClient, errors
from speechrest.testing import (
    PocketSphinxRecognizer,
    ServiceLimits,
    SpeechEmulator,
    Timing,
    _audio,
    make_wav,
)
from tests.audio_formats import FORMATS, Format, encode, ogg_speex
from tests.audio_server import audio_server  # noqa: F401 - fixture

pytestmark = pytest.mark.anyio

needs_av = pytest.mark.skipif(
    importlib.util.find_spec("av") is None,
    reason="PyAV is not installed (pip install -e '.[emulator]' to run these)",
)
POLL = PollPolicy(initial_interval=0.02, max_interval=0.1)
FAST = Timing(queue_delay=0.01, run_time=0.01, retry_after=0)
SECONDS = 2.0
SAID = "Please call me back tomorrow morning."


def _tolerance(fmt: Format | None) -> int:
    """How far the decoded duration may be from the audio encoded: exact for lossless
    formats; lossy encoders add priming and pad the last frame (AAC in ADTS has no
    metadata to trim its 1,024 priming samples: 2 frames at 16 kHz are 128 ms)."""
    return 1 if fmt is None or fmt.lossless else 130


def _cases() -> list[tuple[str, Format | None]]:
    return [(f.name, f) for f in FORMATS] + [("Speex", None), ("WAV PCM", None)]


def _audio_of(name: str, fmt: Format | None, comment: str | None = None) -> tuple[bytes, int]:
    """(the audio, its channel count)."""
    if fmt is not None:
        return encode(fmt, seconds=SECONDS, comment=comment), fmt.channels
    if name == "Speex":
        return ogg_speex(seconds=SECONDS, comment=comment), 1
    return make_wav(seconds=SECONDS, channels=2, comment=comment), 2


@needs_av
@pytest.mark.parametrize(("name", "fmt"), _cases(), ids=[c[0] for c in _cases()])
async def test_fast_transcription_measures_every_format(
    client: SpeechClient, name: str, fmt: Format | None
) -> None:
    data, channels = _audio_of(name, fmt, comment="Hello from the file.")
    result = await client.transcribe(data)
    assert abs(result.duration_ms - SECONDS * 1000) <= _tolerance(fmt), name
    separate = await client.transcribe(data, channels=[0, 1])
    if channels == 2:
        assert [c.channel for c in separate.combined_phrases] == [0, 1]
    else:  # "For mono audio, the channels property is ignored" (Learn)
        assert [c.channel for c in separate.combined_phrases] == [None]
    if fmt is None or fmt.container not in ("adts", "amr"):  # (no tags in these)
        assert result.text == "Hello from the file."  # the comment tag, heard


@needs_av
async def test_batch_measures_every_format(audio_server) -> None:  # noqa: F811
    urls, expected = [], {}
    for name, fmt in _cases():
        data, channels = _audio_of(name, fmt)
        suffix = fmt.suffix if fmt else ("spx" if name == "Speex" else "wav")
        url = audio_server.add(f"fmt/{name.replace(' ', '_').replace('/', '_')}.{suffix}", data)
        urls.append(url)
        expected[url] = (channels, _tolerance(fmt))
    async with (
        SpeechEmulator(timing=FAST) as emu,
        SpeechClient(emu.endpoint, key=emu.key) as client,
    ):
        job = await client.transcriptions.submit_and_wait(
            content_urls=urls, locale="en-US", policy=POLL
        )
        results = {r.source: r async for r in client.transcriptions.results(job)}
    assert set(results) == set(urls)
    for url, result in results.items():
        channels, tolerance = expected[url]
        assert abs(result.duration_ms - SECONDS * 1000) <= tolerance, url
        assert result.channels == list(range(channels)), url  # default channels [0, 1]


def _sample_pcm(sample_wav: Path) -> bytes:
    with wave.open(str(sample_wav)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        return w.readframes(w.getnframes())


@needs_av
@pytest.mark.skipif(
    importlib.util.find_spec("pocketsphinx") is None,
    reason="pocketsphinx is not installed (pip install -e '.[local]')",
)
async def test_the_local_recognizer_hears_decoded_audio(sample_wav: Path) -> None:
    """The recognizer gets decoded PCM: it hears the same words in FLAC, MP3, Opus and
    A-law as in the original WAV."""
    pcm = _sample_pcm(sample_wav)
    chosen = {"FLAC", "MP3", "OGG/Opus", "WAV A-law"}
    async with (
        SpeechEmulator(recognizer=PocketSphinxRecognizer()) as emu,
        SpeechClient(emu.endpoint, key=emu.key) as client,
    ):
        for fmt in (f for f in FORMATS if f.name in chosen):
            # (A-law at 16 kHz: PocketSphinx's model is a wideband one.)
            rate = 16000 if fmt.container == "wav" else fmt.rate
            mono = Format(fmt.name, fmt.container, fmt.codec, rate, 1, fmt.suffix)
            result = await client.transcribe(encode(mono, pcm=pcm, rate=16000), locales=["en-US"])
            assert result.text == SAID, fmt.name


@needs_av
@pytest.mark.parametrize(
    ("data", "inner"),
    [
        (b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 500, "InvalidAudioFormat"),  # tags only
        (b"OggS" + b"\x00" * 300, "InvalidAudioFormat"),  # a broken Ogg page
        (b"fLaC" + bytes(range(256)) * 4, "InvalidAudioFormat"),
        (b"plain text, no audio at all\n" * 20, "InvalidAudioFormat"),
    ],
)
async def test_truly_invalid_audio_gets_the_service_error(
    client: SpeechClient, data: bytes, inner: str
) -> None:
    with pytest.raises(errors.APIStatusError) as info:
        await client.transcribe(data)
    assert info.value.status == 422 and info.value.inner_code == inner


async def test_wav_without_pyav(
    client: SpeechClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """WAV in every documented encoding needs no other package; other formats say how to
    get them decoded."""
    monkeypatch.setattr(_audio, "av_available", lambda: False)
    for tag, table in ((6, "alaw"), (7, "mulaw")):
        frames = bytes([0xD5 if tag == 6 else 0xFF]) * 16000  # silence in either code
        fmt = struct.pack("<HHIIHH", tag, 2, 8000, 16000, 2, 8)
        body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
        body += b"data" + struct.pack("<I", len(frames)) + frames
        result = await client.transcribe(b"RIFF" + struct.pack("<I", len(body)) + body)
        assert result.duration_ms == 1000, table
        separate = await client.transcribe(
            b"RIFF" + struct.pack("<I", len(body)) + body, channels=[1]
        )
        assert [c.channel for c in separate.combined_phrases] == [1]
    with pytest.raises(errors.APIStatusError) as info:
        await client.transcribe(b"ID3\x04" + b"\x00" * 400)
    assert info.value.inner_code == "InvalidAudioFormat"
    assert "speechrest[emulator]" in str(info.value)


def test_g711_decoding_matches_the_standard() -> None:
    """The built-in A-law and mu-law tables give ITU-T G.711's values (checked against
    PyAV's decoder where it is installed)."""
    alaw = [struct.unpack("<h", v)[0] for v in _audio._g711_table(6)]
    mulaw = [struct.unpack("<h", v)[0] for v in _audio._g711_table(7)]
    # Reference points of G.711: A-law 0xD5 is +8, 0x55 is -8, 0xAA is +32256; mu-law
    # 0xFF is 0, 0x80 is +32124, 0x00 is -32124.
    assert (alaw[0xD5], alaw[0x55], alaw[0xAA]) == (8, -8, 32256)
    assert (mulaw[0xFF], mulaw[0x80], mulaw[0x00]) == (0, 32124, -32124)
    if importlib.util.find_spec("av") is None:
        return
    import av

    for name, table in (("pcm_alaw", alaw), ("pcm_mulaw", mulaw)):
        codec = av.CodecContext.create(name, "r")
        codec.sample_rate, codec.layout = 8000, "mono"
        [frame] = codec.decode(av.Packet(bytes(range(256))))
        decoded = struct.unpack("<256h", bytes(frame.planes[0])[:512])
        assert list(decoded) == table, name


def _long_wav(hours: float) -> bytes:
    """8-bit mono PCM at 1 Hz: ``hours`` of audio in a few kilobytes."""
    size = int(hours * 3600)
    fmt = struct.pack("<HHIIHH", 1, 1, 1, 1, 1, 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", size)
    return b"RIFF" + struct.pack("<I", len(body) + size) + body + b"\x80" * size


async def test_limits_follow_the_documentation(audio_server) -> None:  # noqa: F811
    """Fast: under 2 hours; batch: no duration limit, but 240 minutes with diarization."""
    three_hours = audio_server.add("long/three-hours.wav", _long_wav(3))
    five_hours = audio_server.add("long/five-hours.wav", _long_wav(5))
    async with (
        SpeechEmulator(timing=FAST) as emu,
        SpeechClient(emu.endpoint, key=emu.key) as client,
    ):
        with pytest.raises(errors.BadRequestError) as info:
            await client.transcribe(_long_wav(2.01))
        assert info.value.inner_code == "AudioLengthLimitExceeded"
        job = await client.transcriptions.submit_and_wait(
            content_urls=[three_hours], locale="en-US", policy=POLL
        )
        [result] = [r async for r in client.transcriptions.results(job)]
        assert result.duration_ms == 3 * 3600 * 1000
        job = await client.transcriptions.submit(
            content_urls=[three_hours, five_hours], locale="en-US", max_speakers=2
        )
        job = await client.transcriptions.wait(job, policy=POLL)
        report = await client.transcriptions.report(job)
        assert report is not None
        assert [(d.status, d.error_kind) for d in report.details] == [
            ("Succeeded", None),
            ("Failed", "AudioLengthLimitExceeded"),
        ]
        # Lower limits, as settings.
        emu.state.limits = ServiceLimits(fast_duration_ms=1000)
        with pytest.raises(errors.BadRequestError) as info:
            await client.transcribe(make_wav(seconds=1.5))
        assert "1 seconds" in str(info.value) or "limit" in str(info.value)
