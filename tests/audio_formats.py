"""Audio in every format the service documents, encoded in the tests (nothing committed).

"WAV, MP3, OPUS/OGG, FLAC, WMA, AAC, ALAW in WAV container, MULAW in WAV container, AMR,
WebM, SPEEX" (Learn: batch-transcription-audio-data, supported input formats and codecs).
Every format is encoded with PyAV (FFmpeg), as the emulator decodes it, except Speex: PyAV
has a Speex decoder but no encoder, so :func:`ogg_speex` writes a valid Ogg Speex stream of
silent narrowband frames from the format's specification.
"""

from __future__ import annotations

import io
import math
import struct
from typing import Any

import attrs


@attrs.frozen
class Format:
    """One documented format: container, codec, and the audio it is encoded from."""

    name: str
    container: str
    codec: str
    rate: int
    channels: int
    suffix: str
    lossless: bool = False
    options: dict[str, Any] = attrs.field(factory=dict)


FORMATS = [
    Format("WAV A-law", "wav", "pcm_alaw", 8000, 1, "wav", lossless=True),
    Format("WAV mu-law", "wav", "pcm_mulaw", 8000, 2, "wav", lossless=True),
    Format("WAV float", "wav", "pcm_f32le", 16000, 2, "wav", lossless=True),
    Format("MP3", "mp3", "libmp3lame", 44100, 2, "mp3"),
    Format("OGG/Opus", "ogg", "libopus", 48000, 2, "ogg"),
    Format("FLAC", "flac", "flac", 16000, 2, "flac", lossless=True),
    Format("WMA", "asf", "wmav2", 22050, 2, "wma", options={"bit_rate": 64000}),
    Format("AAC (ADTS)", "adts", "aac", 16000, 2, "aac"),
    Format("AAC (M4A)", "ipod", "aac", 16000, 1, "m4a"),
    Format("AMR", "amr", "libopencore_amrnb", 8000, 1, "amr"),
    Format("WebM", "webm", "libopus", 48000, 2, "webm"),
]
"""Every documented format PyAV can encode (Speex: :func:`ogg_speex`)."""


def tone(seconds: float, rate: int, channels: int) -> bytes:
    """16-bit PCM of a 440 Hz tone (interleaved channels, the second one an octave up)."""
    out = bytearray()
    for i in range(int(seconds * rate)):
        for c in range(channels):
            out += struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * (c + 1) * i / rate)))
    return bytes(out)


def encode(
    fmt: Format,
    *,
    seconds: float = 2.0,
    pcm: bytes | None = None,
    rate: int | None = None,
    comment: str | None = None,
) -> bytes:
    """``pcm`` (16-bit, ``fmt.channels`` interleaved, at ``rate``; a tone by default)
    encoded as ``fmt`` by PyAV, with a ``comment`` tag where the container has tags."""
    import av

    rate = rate or fmt.rate
    pcm = pcm if pcm is not None else tone(seconds, rate, fmt.channels)
    layout = "stereo" if fmt.channels == 2 else "mono"
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt.container) as out:
        if comment:
            out.metadata["comment"] = comment
        stream = out.add_stream(fmt.codec, rate=fmt.rate, layout=layout)
        for key, value in fmt.options.items():
            setattr(stream, key, value)
        width = 2 * fmt.channels
        step = 1024
        for start in range(0, len(pcm) // width, step):
            chunk = pcm[start * width : (start + step) * width]
            frame = av.AudioFrame(format="s16", layout=layout, samples=len(chunk) // width)
            frame.sample_rate = rate
            frame.pts = start
            frame.planes[0].update(chunk)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


# -- Ogg Speex, from the specifications ----------------------------------------------------

_SPEEX_FRAME = 160
"""Samples per narrowband frame (20 ms at 8 kHz)."""


def _ogg_crc(data: bytes) -> int:
    """The Ogg page checksum: CRC-32, polynomial 0x04C11DB7, not reflected, initial 0."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def _ogg_page(packets: list[bytes], *, granule: int, seq: int, flags: int) -> bytes:
    lacing = bytearray()
    for packet in packets:
        lacing += b"\xff" * (len(packet) // 255) + bytes([len(packet) % 255])
    header = b"OggS" + struct.pack("<BBqIIIB", 0, flags, granule, 0x5EEC, seq, 0, len(lacing))
    page = header + bytes(lacing) + b"".join(packets)
    return page[:22] + struct.pack("<I", _ogg_crc(page)) + page[26:]


def ogg_speex(*, seconds: float = 2.0, comment: str | None = None) -> bytes:
    """A mono 8 kHz Ogg Speex file of ``seconds`` of silence: the Speex header (as
    ``speex_init_header`` writes it), a Vorbis-style comment header, and one narrowband
    frame per packet in "null" mode (wideband bit 0, mode 0: no transmission, which the
    decoder plays as silence), padded with the terminator bits."""
    header = b"Speex   " + b"1.2.1".ljust(20, b"\0")
    header += struct.pack("<13i", 1, 80, 8000, 0, 4, 1, -1, _SPEEX_FRAME, 0, 1, 0, 0, 0)
    vendor = b"speechrest tests"
    tags = [f"comment={comment}".encode()] if comment else []
    comments = struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(tags))
    comments += b"".join(struct.pack("<I", len(t)) + t for t in tags)
    frames = int(seconds * 8000) // _SPEEX_FRAME
    pages = [
        _ogg_page([header], granule=0, seq=0, flags=0x02),
        _ogg_page([comments], granule=0, seq=1, flags=0),
    ]
    frame = bytes([0b00000011, 0xFF])  # 0, 0000, then the terminator: 0 and 1s
    per_page = 50
    for seq, first in enumerate(range(0, frames, per_page), start=2):
        count = min(per_page, frames - first)
        last = first + count >= frames
        pages.append(
            _ogg_page(
                [frame] * count,
                granule=(first + count) * _SPEEX_FRAME,
                seq=seq,
                flags=0x04 if last else 0,
            )
        )
    return b"".join(pages)
