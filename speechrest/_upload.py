"""Streaming request bodies: audio sources and the multipart form of fast transcription.

A body is described once and produced again for every attempt: a path is re-opened, a
seekable file is rewound to where it started, bytes are reused. Files are read in chunks
off the event loop and never held whole in memory, except small files (up to
``INLINE_FILE``), read once, before anything is sent, straight into the request body. An
async iterable (or a non-seekable file) can be sent only once, so it is marked not
replayable.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import stat
from collections.abc import AsyncIterable, AsyncIterator, Callable
from pathlib import Path
from typing import IO, Any

import anyio
import anyio.to_thread
import attrs

from ._http import Body
from ._ids import unique_id
from .errors import AudioSourceError, InvalidInputError

__all__ = [
    "MAX_BLOCK_SIZE",
    "AudioInput",
    "AudioSource",
    "FileBlock",
    "file_blocks",
    "multipart_body",
    "prepare_audio",
]

CHUNK_SIZE = 256 * 1024
"""Bytes read per chunk from a file object or a dataset block."""
PATH_CHUNK_SIZE = 1024 * 1024
"""Bytes read per chunk from a large file given by path (fewer thread hops per MB)."""
SMALL_FILE = 1024 * 1024
"""Files up to this size are read in one call."""
INLINE_FILE = 64 * 1024
"""Files up to this size are read at once on the event loop (a thread hop costs more than
the read) into the request body, which every attempt reuses."""
INLINE_BYTES = 1024 * 1024
"""In-memory audio up to this size is sent as one buffer with its multipart framing."""
MAX_BLOCK_SIZE = 8 * 1024 * 1024
"""The largest block ``Datasets_UploadBlock`` accepts (8 MiB)."""

AudioInput = (
    str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes] | AsyncIterable[bytes]
)
"""What ``transcribe`` accepts as audio."""


@attrs.define(kw_only=True)
class AudioSource:
    """A validated audio source."""

    filename: str
    """The file name sent in the multipart part."""
    size: int | None
    """Bytes to send, when known."""
    replayable: bool
    chunks: Callable[[], AsyncIterator[bytes]]
    """A fresh iterator over the content, one per attempt."""
    fill: Callable[[memoryview], None] | None = None
    """Writes the whole content (``size`` bytes) into the buffer given, on the calling
    thread: only for small sources, which are then sent as one buffer with the framing."""
    rewind: Callable[[], None] | None = None
    """Puts a caller's file back where it was, once the call is over."""


_PATH_TYPES = (str, os.PathLike)
_BYTES_TYPES = (bytes, bytearray, memoryview)


def prepare_audio(audio: Any) -> AudioSource:
    """Check an audio source and describe how to stream it. No network traffic happens here."""
    if isinstance(audio, _PATH_TYPES):
        return _path_source(os.fspath(audio))
    if isinstance(audio, _BYTES_TYPES):
        data = bytes(audio)
        if not data:
            raise AudioSourceError("the audio is empty (0 bytes): nothing to transcribe")
        return AudioSource(
            filename="audio",
            size=len(data),
            replayable=True,
            chunks=lambda: _once(data),
            fill=_copier(data) if len(data) <= INLINE_BYTES else None,
        )
    if isinstance(audio, io.TextIOBase):
        raise AudioSourceError("the audio file is open in text mode: open it with 'rb'")
    if hasattr(audio, "read"):
        return _file_source(audio)
    if hasattr(audio, "__aiter__"):
        return _aiter_source(audio)
    raise AudioSourceError(
        f"cannot transcribe a {type(audio).__name__}: pass a path, bytes, a binary file "
        "object or an async iterable of bytes (or audio_url=)"
    )


def _path_source(path: str) -> AudioSource:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise AudioSourceError(f"audio file not found: {path}") from None
    except OSError as exc:
        raise AudioSourceError(f"cannot read audio file {path}: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioSourceError(f"{path} is a directory, not an audio file")
    if st.st_size == 0:
        raise AudioSourceError(f"audio file {path} is empty (0 bytes)")
    size = st.st_size
    if size > INLINE_FILE and not os.access(path, os.R_OK):
        # (A small file is read into the request body before anything is sent, which
        # checks this without an extra system call.)
        raise AudioSourceError(f"audio file {path} is not readable (permission denied)")

    async def chunks() -> AsyncIterator[bytes]:
        if size <= SMALL_FILE:
            yield await anyio.to_thread.run_sync(_read_file, path)
            return
        async for chunk in _read_ahead(path):
            yield chunk

    return AudioSource(
        filename=os.path.basename(path),
        size=size,
        replayable=True,
        chunks=chunks,
        fill=(lambda view: _read_into(path, view)) if size <= INLINE_FILE else None,
    )


async def _read_ahead(path: str) -> AsyncIterator[bytes]:
    """Yield a file in PATH_CHUNK_SIZE chunks, reading the next one in a worker thread while
    the last one is being sent, so disk and network overlap; at most two chunks are held."""
    loop = asyncio.get_running_loop()
    f = await anyio.to_thread.run_sync(open, path, "rb")
    pending: asyncio.Future[bytes] | None = None
    try:
        pending = loop.run_in_executor(None, f.read, PATH_CHUNK_SIZE)
        while chunk := await pending:
            pending = loop.run_in_executor(None, f.read, PATH_CHUNK_SIZE)
            yield chunk
        pending = None
    finally:
        with anyio.CancelScope(shield=True):
            if pending is not None and not pending.cancelled():
                # A thread may still be reading: let it finish (its result is dropped).
                await asyncio.wait([pending])
                pending.exception()  # retrieved, so that asyncio does not log it
            await anyio.to_thread.run_sync(f.close)


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except PermissionError:
        raise AudioSourceError(f"audio file {path} is not readable (permission denied)") from None
    except OSError as exc:
        raise AudioSourceError(f"cannot read audio file {path}: {exc.strerror}") from None


_readv: Callable[[int, list[memoryview | bytearray]], int] | None = getattr(os, "readv", None)
"""``os.readv`` where the platform has it (POSIX), else None."""


def _read_into(path: str, view: memoryview) -> None:
    """Read a file of exactly ``len(view)`` bytes into ``view``. One byte more is asked for,
    so that a file that changed size since it was measured is noticed either way."""
    size = len(view)
    probe = bytearray(1)
    try:
        if _readv is not None:  # open, one read for the file and the probe byte, close
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                got = _readv(fd, [view, probe])
                while 0 < got < size:  # a short read: go on to the end of the file
                    step = _readv(fd, [view[got:], probe])
                    if not step:
                        break
                    got += step
            finally:
                os.close(fd)
        else:
            with open(path, "rb", buffering=0) as f:
                got = 0
                while got < size and (step := f.readinto(view[got:])):
                    got += step
                got += f.readinto(probe) or 0
    except PermissionError:
        raise AudioSourceError(f"audio file {path} is not readable (permission denied)") from None
    except OSError as exc:
        raise AudioSourceError(f"cannot read audio file {path}: {exc.strerror}") from None
    if got != size:
        raise AudioSourceError(f"audio file {path} changed size while it was being read; try again")


def _copier(data: bytes) -> Callable[[memoryview], None]:
    def fill(view: memoryview) -> None:
        view[:] = data

    return fill


def _file_source(fileobj: IO[bytes]) -> AudioSource:
    name = Path(str(getattr(fileobj, "name", "audio"))).name or "audio"
    seekable = False
    start = 0
    size: int | None = None
    try:
        seekable = bool(fileobj.seekable())
        if seekable:
            start = fileobj.tell()
            end = fileobj.seek(0, os.SEEK_END)
            fileobj.seek(start)
            size = end - start
    except (OSError, ValueError, AttributeError):
        seekable = False
    if size == 0:
        raise AudioSourceError(f"the audio file object {name!r} has no bytes left to read")
    used = False

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal used
        if seekable:
            await anyio.to_thread.run_sync(fileobj.seek, start)
        elif used:
            raise AudioSourceError("a non-seekable file can be sent only once")
        used = True
        while True:
            chunk = await anyio.to_thread.run_sync(fileobj.read, CHUNK_SIZE)
            if not chunk:
                return
            if not isinstance(chunk, bytes | bytearray):
                raise AudioSourceError("the audio file object returned text: open it with 'rb'")
            yield bytes(chunk)

    def rewind() -> None:
        with contextlib.suppress(OSError, ValueError):
            fileobj.seek(start)

    return AudioSource(
        filename=name,
        size=size,
        replayable=seekable,
        chunks=chunks,
        rewind=rewind if seekable else None,
    )


def _aiter_source(iterable: AsyncIterable[bytes]) -> AudioSource:
    used = False

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal used
        if used:
            raise AudioSourceError("an async iterable of bytes can be sent only once")
        used = True
        async for chunk in iterable:
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise AudioSourceError(
                    f"the async iterable yielded {type(chunk).__name__}, expected bytes"
                )
            if chunk:
                yield bytes(chunk)

    return AudioSource(filename="audio", size=None, replayable=False, chunks=chunks)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def multipart_body(
    definition_json: bytes,
    audio: AudioSource | None,
    *,
    on_progress: Callable[[int], object] | None = None,
) -> Body:
    """The ``multipart/form-data`` body of ``Transcriptions_Transcribe``.

    Parts: ``definition`` (a JSON string field) and, unless the audio comes from a URL,
    ``audio`` (the file). The framing is written here so that the exact Content-Length is
    known up front (no chunked upload) and the file streams straight from disk.
    ``on_progress`` is called with the number of audio bytes sent so far.
    """
    boundary = "speechrest-" + unique_id()  # random per process, never repeated in it
    content_type = f"multipart/form-data; boundary={boundary}"
    head = (
        (f'--{boundary}\r\nContent-Disposition: form-data; name="definition"\r\n\r\n').encode()
        + definition_json
        + b"\r\n"
    )
    tail = f"--{boundary}--\r\n".encode()
    if audio is None:
        payload = head + tail
        return Body(
            open=lambda: payload,
            content_type=content_type,
            length=len(payload),
        )
    filename = audio.filename.replace('"', "%22").replace("\r", "").replace("\n", "")
    audio_head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="audio"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    prefix = head + audio_head
    suffix = b"\r\n" + tail
    if audio.fill is not None and audio.size is not None:
        # One buffer, filled in place before anything is sent (the audio is copied once,
        # and no other copy stays alive while the request is in flight).
        start, end = len(prefix), len(prefix) + audio.size
        buffer = bytearray(end + len(suffix))
        buffer[:start] = prefix
        with memoryview(buffer) as view:
            audio.fill(view[start:end])
        buffer[end:] = suffix
        if on_progress is None:  # aiohttp sends it with the headers, in one write
            return Body(
                open=lambda: buffer,
                content_type=content_type,
                length=len(buffer),
            )
        size, report = audio.size, on_progress

        async def whole() -> AsyncIterator[bytes]:
            yield bytes(buffer)
            report(size)

        return Body(
            open=whole,
            content_type=content_type,
            length=len(buffer),
        )

    async def stream() -> AsyncIterator[bytes]:
        sent = 0
        yield prefix
        async for chunk in audio.chunks():
            yield chunk
            if on_progress is not None:
                sent += len(chunk)
                on_progress(sent)
        yield suffix

    length = None if audio.size is None else len(prefix) + audio.size + len(suffix)
    return Body(
        open=stream,
        content_type=content_type,
        length=length,
        replayable=audio.replayable,
    )


@attrs.frozen(kw_only=True)
class FileBlock:
    """One block of a file uploaded in blocks: its place in the file and a body that
    re-reads just that slice from disk for every attempt."""

    index: int
    offset: int
    size: int
    body: Body


def file_blocks(path: str | os.PathLike[str], block_size: int = MAX_BLOCK_SIZE) -> list[FileBlock]:
    """Split a local file into blocks of ``block_size`` bytes (the last may be shorter).

    Nothing is read here; each block's body streams its slice in chunks, off the event
    loop, so no more than a chunk per block in flight is ever held in memory.
    """
    if isinstance(block_size, bool) or not isinstance(block_size, int):
        raise InvalidInputError(f"block_size must be an integer; got {block_size!r}")
    if not 1 <= block_size <= MAX_BLOCK_SIZE:
        raise InvalidInputError(
            f"block_size must be between 1 and {MAX_BLOCK_SIZE} bytes (8 MiB); got {block_size}"
        )
    file = Path(path)
    try:
        size = file.stat().st_size
    except FileNotFoundError:
        raise InvalidInputError(f"file not found: {file}") from None
    except OSError as exc:
        raise InvalidInputError(f"cannot read {file}: {exc.strerror}") from None
    if file.is_dir():
        raise InvalidInputError(f"{file} is a directory, not a file")
    if size == 0:
        raise InvalidInputError(f"{file} is empty (0 bytes): there is nothing to upload")
    if not os.access(file, os.R_OK):
        raise InvalidInputError(f"{file} is not readable (permission denied)")
    return [
        FileBlock(
            index=i,
            offset=offset,
            size=min(block_size, size - offset),
            body=Body(
                open=_slice_reader(file, offset, min(block_size, size - offset)),
                content_type="application/octet-stream",
                length=min(block_size, size - offset),
            ),
        )
        for i, offset in enumerate(range(0, size, block_size))
    ]


def _slice_reader(path: Path, offset: int, size: int) -> Callable[[], AsyncIterator[bytes]]:
    async def read() -> AsyncIterator[bytes]:
        f = await anyio.open_file(path, "rb")
        try:
            await f.seek(offset)
            left = size
            while left:
                chunk = await f.read(min(CHUNK_SIZE, left))
                if not chunk:
                    raise InvalidInputError(f"{path} became shorter while it was being uploaded")
                left -= len(chunk)
                yield chunk
        finally:
            with anyio.CancelScope(shield=True):
                await f.aclose()

    return read
