"""Audio handling in the emulator: what an upload is (format, duration, channels), measured
from the audio itself, and a PCM copy of it for the recognizers.

The service takes "WAV, MP3, OPUS/OGG, FLAC, WMA, AAC, ALAW in WAV container, MULAW in WAV
container, AMR, WebM, SPEEX" for fast and batch transcription alike (Learn,
batch-transcription-audio-data, "Supported input formats and codecs"). WAV (integer PCM,
IEEE float, A-law, mu-law) is read here without any other package; every other format is
decoded with PyAV (FFmpeg), the ``speechrest[emulator]`` extra. Recognizers always get
16-bit PCM WAV (:attr:`AudioInfo.path`): the upload itself when it is integer PCM WAV,
else a decoded copy that :func:`open_audio` deletes when done.
"""

from __future__ import annotations

import array
import contextlib
import importlib
import importlib.util
import math
import struct
import sys
import tempfile
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import anyio.to_thread
import attrs

__all__ = [
    "AudioFormatError",
    "AudioInfo",
    "av_available",
    "make_wav",
    "open_audio",
    "probe_audio",
]

EXTRA_HINT = "pip install 'speechrest[emulator]'"
_DECODED_RATE = 16000
"""Sample rate of decoded copies (what speech recognizers such as PocketSphinx expect)."""
_PCM, _FLOAT, _ALAW, _MULAW, _EXTENSIBLE = 1, 3, 6, 7, 0xFFFE
_READ = 1 << 20


class AudioFormatError(Exception):
    """The audio cannot be used; ``code`` is the service's detailed error code
    (``InvalidAudioFormat``, ``EmptyAudioFile``, ``AudioLengthLimitExceeded``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@attrs.frozen(kw_only=True)
class AudioInfo:
    """What the emulator knows about one audio input.

    ``duration_ms`` and ``channels`` are measured from the audio as sent; ``path``,
    ``sample_rate``, ``bits_per_sample`` and ``data_offset`` describe the PCM WAV file the
    recognizers read (the upload itself, or a decoded copy of it)."""

    path: Path
    """A PCM WAV file of the audio (integer samples) for the recognizers."""
    name: str
    """The file name or URL it came from."""
    size: int
    """Size in bytes of the audio as sent."""
    duration_ms: int
    """Duration of the audio, measured from its samples."""
    channels: int
    """Channels of the audio as sent (and of the PCM at ``path``)."""
    sample_rate: int
    """Sample rate of the PCM at ``path``."""
    bits_per_sample: int
    """Bits per sample of the PCM at ``path`` (8, 16, 24 or 32)."""
    data_offset: int
    """Where the PCM samples start in the file at ``path``."""
    comment: str | None = None
    """The audio's comment: a RIFF ``LIST/INFO`` comment (``ICMT``) or subject (``ISBJ``), or
    the ``comment`` tag of other formats (ID3, Vorbis comments, ASF, MP4), if any."""
    language: str | None = None
    """The language the audio says it is in: a RIFF ``ILNG`` or a ``language`` tag, if any
    (``make_wav(language="ja-JP")``); recognizers report it as the spoken locale."""
    format: str = "wav"
    """The container and codec as recognized, e.g. ``wav/pcm_s16le`` or ``ogg/opus``."""


def av_available() -> bool:
    """Whether PyAV (the ``speechrest[emulator]`` extra) is installed to decode non-WAV audio."""
    return importlib.util.find_spec("av") is not None


def probe_audio(
    path: Path,
    name: str,
    *,
    spool_dir: Path | None = None,
    max_duration_ms: int | None = None,
) -> AudioInfo:
    """Measure the audio at ``path`` and give recognizers PCM; raise AudioFormatError as the
    service would answer. A decoded copy (for anything but integer PCM WAV) is written to
    ``spool_dir``; the caller deletes it (:func:`open_audio` does). Audio longer than
    ``max_duration_ms`` is refused with ``AudioLengthLimitExceeded``, as soon as it is seen."""
    size = path.stat().st_size
    if size == 0:
        raise AudioFormatError("EmptyAudioFile", "The audio file is empty.")
    with path.open("rb") as f:
        head = f.read(12)
    spool = spool_dir or Path(tempfile.gettempdir())
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        wav = _read_wav(path, size)
        if wav.tag in (_PCM, _FLOAT, _ALAW, _MULAW) or not av_available():
            return _from_wav(path, name, size, wav, spool, max_duration_ms)
    if not av_available():
        raise AudioFormatError("InvalidAudioFormat", _no_decoder(head, name))
    return _decode_with_av(path, name, size, spool, max_duration_ms)


@contextlib.asynccontextmanager
async def open_audio(
    path: Path, name: str, *, spool_dir: Path, max_duration_ms: int | None = None
) -> AsyncIterator[AudioInfo]:
    """:func:`probe_audio` in a worker thread (decoding takes a while); the decoded copy is
    deleted on exit."""
    audio = await anyio.to_thread.run_sync(
        lambda: probe_audio(path, name, spool_dir=spool_dir, max_duration_ms=max_duration_ms)
    )
    try:
        yield audio
    finally:
        if audio.path != path:
            audio.path.unlink(missing_ok=True)


def _too_long(duration_ms: float, limit: int | None) -> None:
    if limit is not None and duration_ms > limit:
        raise AudioFormatError(
            "AudioLengthLimitExceeded",
            f"The audio is longer than {_minutes(limit)}, the service's limit here.",
        )


def _minutes(ms: int) -> str:
    minutes = ms / 60000
    return f"{minutes:g} minutes" if minutes >= 1 else f"{ms / 1000:g} seconds"


# -- WAV, without other packages --------------------------------------------------------------


@attrs.define
class _Wav:
    """What the RIFF chunks of a WAV file say."""

    tag: int = -1
    """Format tag (an extensible file's sub-format)."""
    channels: int = 0
    rate: int = 0
    bits: int = 0
    data_offset: int = -1
    data_size: int = -1
    comment: str | None = None
    language: str | None = None


def _read_wav(path: Path, size: int) -> _Wav:
    with path.open("rb") as f:
        f.seek(12)
        wav = _read_chunks(f, size)
    if wav.tag < 0 or wav.data_offset < 0:
        raise AudioFormatError("InvalidAudioFormat", "The WAV file has no fmt or data chunk.")
    if wav.channels < 1 or wav.rate < 1:
        raise AudioFormatError("InvalidAudioFormat", "The WAV header is not valid.")
    return wav


def _from_wav(
    path: Path, name: str, size: int, wav: _Wav, spool: Path, limit: int | None
) -> AudioInfo:
    width = {_ALAW: 8, _MULAW: 8}.get(wav.tag, wav.bits)
    if wav.tag not in (_PCM, _FLOAT, _ALAW, _MULAW) or width not in (
        (32, 64) if wav.tag == _FLOAT else (8, 16, 24, 32)
    ):
        raise AudioFormatError(
            "InvalidAudioFormat",
            f"Unsupported WAV encoding (format tag {wav.tag}, {wav.bits} bits)"
            + ("" if av_available() else f"; other WAV codecs need PyAV: {EXTRA_HINT}")
            + ".",
        )
    frames = wav.data_size // (wav.channels * width // 8)
    if frames == 0:
        raise AudioFormatError("EmptyAudioFile", "The audio file contains no samples.")
    duration_ms = frames * 1000 / wav.rate
    _too_long(duration_ms, limit)
    info = AudioInfo(
        path=path,
        name=name,
        size=size,
        duration_ms=int(duration_ms),
        channels=wav.channels,
        sample_rate=wav.rate,
        bits_per_sample=width,
        data_offset=wav.data_offset,
        comment=wav.comment,
        language=wav.language,
        format=f"wav/{_WAV_CODECS[wav.tag]}",
    )
    if wav.tag == _PCM:
        return info
    return attrs.evolve(info, **_wav_to_pcm16(path, wav, width, spool))


_WAV_CODECS = {_PCM: "pcm", _FLOAT: "float", _ALAW: "alaw", _MULAW: "mulaw"}


def _g711_table(tag: int) -> list[bytes]:
    """The 16-bit linear value of each A-law or mu-law byte (ITU-T G.711), as 2 LE bytes."""
    out = []
    for byte in range(256):
        if tag == _ALAW:
            v = byte ^ 0x55
            exponent, mantissa = (v >> 4) & 7, v & 15
            linear = (
                (mantissa << 4) + 8
                if exponent == 0
                else ((mantissa << 4) + 0x108) << (exponent - 1)
            )
            value = linear if v & 0x80 else -linear
        else:
            v = ~byte & 0xFF
            exponent, mantissa = (v >> 4) & 7, v & 15
            linear = (((mantissa << 3) + 0x84) << exponent) - 0x84
            value = -linear if v & 0x80 else linear
        out.append(struct.pack("<h", value))
    return out


def _to_pcm16(chunk: bytes, tag: int, width: int, table: list[bytes] | None) -> bytes:
    if table is not None:
        return b"".join(map(table.__getitem__, chunk))
    floats = array.array("f" if width == 32 else "d", chunk)
    if sys.byteorder == "big":
        floats.byteswap()
    ints = array.array("h", (int(max(-1.0, min(1.0, x)) * 32767) for x in floats))
    if sys.byteorder == "big":
        ints.byteswap()
    return ints.tobytes()


def _wav_to_pcm16(path: Path, wav: _Wav, width: int, spool: Path) -> dict[str, Any]:
    """Write a 16-bit PCM copy of an A-law, mu-law or float WAV; the AudioInfo fields of it."""
    table = _g711_table(wav.tag) if wav.tag in (_ALAW, _MULAW) else None
    step = (_READ // (wav.channels * width // 8)) * (wav.channels * width // 8)
    with _spool_wav(spool, wav.channels, wav.rate) as (out, copy), path.open("rb") as f:
        f.seek(wav.data_offset)
        left = wav.data_size
        while left > 0 and (chunk := f.read(min(step, left))):
            left -= len(chunk)
            chunk = chunk[: len(chunk) - len(chunk) % (width // 8)]
            out.writeframesraw(_to_pcm16(chunk, wav.tag, width, table))
    return {"path": copy, "sample_rate": wav.rate, "bits_per_sample": 16, "data_offset": 44}


@contextlib.contextmanager
def _spool_wav(spool: Path, channels: int, rate: int) -> Iterator[tuple[wave.Wave_write, Path]]:
    """A new 16-bit PCM WAV spool file, open for frames; deleted if the block fails."""
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept past this function
        prefix="speechrest-emu-", suffix=".pcm.wav", dir=spool, delete=False
    )
    copy = Path(handle.name)
    try:
        with handle, wave.open(handle, "wb") as out:
            out.setnchannels(channels)
            out.setsampwidth(2)
            out.setframerate(rate)
            yield out, copy
    except BaseException:
        copy.unlink(missing_ok=True)
        raise


def _read_chunks(f: BinaryIO, size: int) -> _Wav:
    """Walk the chunks after the RIFF header (``f`` is positioned there)."""
    found = _Wav()
    while len(chunk := f.read(8)) == 8:
        cid, csize = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        start = f.tell()
        if cid == b"fmt ":
            _read_fmt(f.read(min(csize, 40)), found)
        elif cid == b"data":
            found.data_offset, found.data_size = start, min(csize, size - start)
            if found.tag >= 0 and found.comment is not None:
                break
        elif cid == b"LIST" and csize <= 65536:
            _info(f.read(csize), found)
        f.seek(start + csize + (csize & 1))
    return found


def _read_fmt(raw: bytes, found: _Wav) -> None:
    if len(raw) < 16:
        raise AudioFormatError("InvalidAudioFormat", "The WAV fmt chunk is truncated.")
    tag, found.channels, found.rate, _, _, found.bits = struct.unpack("<HHIIHH", raw[:16])
    if tag == _EXTENSIBLE and len(raw) >= 26:
        tag = struct.unpack("<H", raw[24:26])[0]  # the sub-format GUID's first two bytes
    found.tag = tag


def _info(payload: bytes, found: _Wav) -> None:
    """The comment (``ICMT``, else ``ISBJ``) and language (``ILNG``) of a ``LIST/INFO``."""
    if payload[:4] != b"INFO":
        return
    pos, subject = 4, None
    while pos + 8 <= len(payload):
        cid, csize = payload[pos : pos + 4], struct.unpack("<I", payload[pos + 4 : pos + 8])[0]
        value = payload[pos + 8 : pos + 8 + csize].split(b"\0", 1)[0].decode("utf-8", "replace")
        value = value.strip()
        if value and cid == b"ICMT":
            found.comment = value
        elif value and cid == b"ISBJ":
            subject = value
        elif value and cid == b"ILNG":
            found.language = value
        pos += 8 + csize + (csize & 1)
    found.comment = found.comment or subject


# -- everything else, with PyAV ---------------------------------------------------------------

_MAGIC = (
    (b"ID3", "MP3"),
    (b"\xff\xfb", "MP3"),
    (b"\xff\xf3", "MP3"),
    (b"\xff\xf2", "MP3"),
    (b"OggS", "OGG"),
    (b"fLaC", "FLAC"),
    (b"\x30\x26\xb2\x75", "WMA"),
    (b"\xff\xf1", "AAC"),
    (b"\xff\xf9", "AAC"),
    (b"#!AMR", "AMR"),
    (b"\x1a\x45\xdf\xa3", "WebM"),
    (b"RIFF", "WAV"),
)


def _no_decoder(head: bytes, name: str) -> str:
    kind = next((k for magic, k in _MAGIC if head.startswith(magic)), None)
    if kind is None and head[4:8] == b"ftyp":
        kind = "AAC (MP4)"
    if kind is None:
        return f"The audio format of {_short(name)} is not supported or the file is corrupt."
    return (
        f"{_short(name)} looks like {kind} audio, which the service accepts; the emulator "
        f"decodes it with PyAV: {EXTRA_HINT}"
    )


def _short(name: str) -> str:
    return repr(name.rsplit("/", 1)[-1][:80])


def _decode_with_av(path: Path, name: str, size: int, spool: Path, limit: int | None) -> AudioInfo:
    av: Any = importlib.import_module("av")  # the speechrest[emulator] extra
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream = next(iter(container.streams.audio), None)
            if stream is None:
                raise AudioFormatError("InvalidAudioFormat", "The file holds no audio stream.")
            tags = _tags(container.metadata, stream.metadata)
            codec = f"{container.format.name.split(',')[0]}/{stream.codec_context.name}"
            channels, duration_ms, copy = _decode_stream(av, container, stream, spool, limit)
    except av.FFmpegError as exc:
        raise AudioFormatError(
            "InvalidAudioFormat",
            f"The audio cannot be decoded ({getattr(exc, 'strerror', None) or exc}); it is "
            "not in a supported format, or it is corrupt.",
        ) from None
    return AudioInfo(
        path=copy,
        name=name,
        size=size,
        duration_ms=duration_ms,
        channels=channels,
        sample_rate=_DECODED_RATE,
        bits_per_sample=16,
        data_offset=44,
        comment=tags.get("comment") or tags.get("description"),
        language=tags.get("language"),
        format=codec,
    )


def _tags(*dicts: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v.strip() for d in dicts for k, v in d.items() if v and v.strip()}


def _decode_stream(
    av: Any, container: Any, stream: Any, spool: Path, limit: int | None
) -> tuple[int, int, Path]:
    """Decode every sample: (channels, duration in ms, 16 kHz 16-bit PCM WAV copy)."""
    layout = stream.codec_context.layout
    channels = layout.nb_channels
    if channels < 1:
        raise AudioFormatError("InvalidAudioFormat", "The audio stream has no channels.")
    resampler = av.AudioResampler(format="s16", layout=layout, rate=_DECODED_RATE)
    seconds = 0.0
    with _spool_wav(spool, channels, _DECODED_RATE) as (out, copy):
        for frame in container.decode(stream):
            seconds += frame.samples / frame.sample_rate
            _too_long(seconds * 1000, limit)
            _write(out, resampler.resample(frame), channels)
        _write(out, resampler.resample(None), channels)
    if seconds == 0:
        copy.unlink(missing_ok=True)
        raise AudioFormatError("EmptyAudioFile", "The audio file contains no samples.")
    return channels, int(seconds * 1000), copy


def _write(out: wave.Wave_write, frames: Any, channels: int) -> None:
    for frame in frames:
        out.writeframesraw(bytes(frame.planes[0])[: frame.samples * channels * 2])


# -- test audio -------------------------------------------------------------------------------


def make_wav(
    *,
    seconds: float = 1.0,
    sample_rate: int = 16000,
    channels: int = 1,
    comment: str | None = None,
    frequency: float = 440.0,
    language: str | None = None,
) -> bytes:
    """A 16-bit PCM WAV with a sine tone; ``comment`` is stored as its ``ICMT`` text,
    which the default recognizer reads back as the transcript, and ``language`` (a locale
    such as ``ja-JP``) as its ``ILNG``, the language the recognizers say they hear."""
    frames = int(seconds * sample_rate)
    one = bytearray()
    for i in range(frames):
        v = int(8000 * math.sin(2 * math.pi * frequency * i / sample_rate))
        one += struct.pack("<h", v) * channels
    entries = b""
    for cid, value in ((b"ICMT", comment), (b"ILNG", language)):
        if value:
            text = value.encode() + b"\0"
            if len(text) & 1:
                text += b"\0"
            entries += cid + struct.pack("<I", len(text)) + text
    info = b"LIST" + struct.pack("<I", 4 + len(entries)) + b"INFO" + entries if entries else b""
    fmt = struct.pack(
        "<HHIIHH", 1, channels, sample_rate, sample_rate * channels * 2, channels * 2, 16
    )
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + info
    body += b"data" + struct.pack("<I", len(one)) + bytes(one)
    return b"RIFF" + struct.pack("<I", len(body)) + body
