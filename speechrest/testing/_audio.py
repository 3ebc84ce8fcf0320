"""Audio handling in the emulator: spooling uploads to disk and reading WAV headers."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

import attrs

__all__ = ["AudioFormatError", "AudioInfo", "probe_audio"]

MAX_DURATION_MS = 2 * 60 * 60 * 1000


class AudioFormatError(Exception):
    """The audio cannot be decoded; ``code`` is the service's detailed error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@attrs.frozen(kw_only=True)
class AudioInfo:
    """What the emulator knows about one audio input."""

    path: Path
    """Where the bytes are spooled (a temporary file)."""
    name: str
    """The file name or URL it came from."""
    size: int
    """Size in bytes."""
    duration_ms: int
    """Duration from the WAV header."""
    channels: int
    sample_rate: int
    bits_per_sample: int
    data_offset: int
    """Where the PCM samples start in the file."""
    comment: str | None = None
    """Text of a RIFF ``LIST/INFO`` comment (``ICMT``) or subject (``ISBJ``), if any."""


def probe_audio(path: Path, name: str) -> AudioInfo:
    """Read a WAV (PCM) file's header; raise AudioFormatError like the service would."""
    size = path.stat().st_size
    if size == 0:
        raise AudioFormatError("EmptyAudioFile", "The audio file is empty.")
    with path.open("rb") as f:
        header = f.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            raise AudioFormatError(
                "InvalidAudioFormat",
                "The audio format is not supported: expected a RIFF/WAVE (PCM) file.",
            )
        chunks = _read_chunks(f, size)
    if chunks.fmt is None or chunks.data_offset < 0:
        raise AudioFormatError("InvalidAudioFormat", "The WAV file has no fmt or data chunk.")
    tag, channels, rate, bits = chunks.fmt
    if tag not in (1, 3, 0xFFFE) or channels < 1 or rate < 1 or bits not in (8, 16, 24, 32):
        raise AudioFormatError(
            "InvalidAudioFormat", f"Unsupported WAV encoding (format {tag}, {bits} bits)."
        )
    if chunks.data_size == 0:
        raise AudioFormatError("EmptyAudioFile", "The audio file contains no samples.")
    duration_ms = int(chunks.data_size / (channels * bits // 8) * 1000 / rate)
    if duration_ms > MAX_DURATION_MS:
        raise AudioFormatError(
            "AudioLengthLimitExceeded", "The audio is longer than the 2 hour limit."
        )
    return AudioInfo(
        path=path,
        name=name,
        size=size,
        duration_ms=duration_ms,
        channels=channels,
        sample_rate=rate,
        bits_per_sample=bits,
        data_offset=chunks.data_offset,
        comment=chunks.comment,
    )


@attrs.define
class _Chunks:
    """What the RIFF chunks of a WAV file say."""

    fmt: tuple[int, int, int, int] | None = None
    """Format tag, channels, sample rate, bits per sample."""
    data_offset: int = -1
    data_size: int = -1
    comment: str | None = None


def _read_chunks(f: BinaryIO, size: int) -> _Chunks:
    """Walk the chunks after the RIFF header (``f`` is positioned there)."""
    found = _Chunks()
    while len(chunk := f.read(8)) == 8:
        cid, csize = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        start = f.tell()
        if cid == b"fmt ":
            raw = f.read(min(csize, 40))
            if len(raw) < 16:
                raise AudioFormatError("InvalidAudioFormat", "The WAV fmt chunk is truncated.")
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", raw[:16])
            found.fmt = (tag, channels, rate, bits)
        elif cid == b"data":
            found.data_offset, found.data_size = start, min(csize, size - start)
            if found.fmt is not None and found.comment is not None:
                break
        elif cid == b"LIST" and csize <= 65536:
            found.comment = _info_comment(f.read(csize)) or found.comment
        f.seek(start + csize + (csize & 1))
    return found


def _info_comment(payload: bytes) -> str | None:
    if payload[:4] != b"INFO":
        return None
    pos, found = 4, None
    while pos + 8 <= len(payload):
        cid, csize = payload[pos : pos + 4], struct.unpack("<I", payload[pos + 4 : pos + 8])[0]
        value = payload[pos + 8 : pos + 8 + csize].split(b"\0", 1)[0].decode("utf-8", "replace")
        if cid in (b"ICMT", b"ISBJ") and value.strip():
            found = value.strip()
            if cid == b"ICMT":
                return found
        pos += 8 + csize + (csize & 1)
    return found


def make_wav(
    *,
    seconds: float = 1.0,
    sample_rate: int = 16000,
    channels: int = 1,
    comment: str | None = None,
    frequency: float = 440.0,
) -> bytes:
    """A 16-bit PCM WAV with a sine tone; ``comment`` is stored as its ``ICMT`` text,
    which the default recognizer reads back as the transcript."""
    import math

    frames = int(seconds * sample_rate)
    one = bytearray()
    for i in range(frames):
        v = int(8000 * math.sin(2 * math.pi * frequency * i / sample_rate))
        one += struct.pack("<h", v) * channels
    info = b""
    if comment:
        text = comment.encode() + b"\0"
        if len(text) & 1:
            text += b"\0"
        info = b"LIST" + struct.pack("<I", 4 + 8 + len(text)) + b"INFO"
        info += b"ICMT" + struct.pack("<I", len(text)) + text
    fmt = struct.pack(
        "<HHIIHH", 1, channels, sample_rate, sample_rate * channels * 2, channels * 2, 16
    )
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + info
    body += b"data" + struct.pack("<I", len(one)) + bytes(one)
    return b"RIFF" + struct.pack("<I", len(body)) + body
