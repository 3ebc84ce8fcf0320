"""Streaming request bodies: audio sources and the multipart form of fast transcription.

A body is described once and produced again for every attempt: a path is re-opened, a
seekable file is rewound to where it started, bytes are reused. Sources up to ``INLINE``
bytes are read once, before anything is sent, into one buffer with the multipart framing
(no second copy stays alive while the request is in flight); larger ones stream in
``CHUNK_SIZE`` chunks, files read off the event loop. A path's size is measured when the
call starts: a file that changes size before or while it is sent is refused with
:class:`~speechrest.errors.AudioSourceError` (never a truncated or hanging upload). An
async iterable, an async reader without ``seek`` or a non-seekable file can be sent only
once, so it is marked not replayable.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import io
import os
import stat
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import IO, Any, Protocol

import anyio
import anyio.to_thread
import attrs

from . import _checks as check
from ._convert import PART_AUDIO, PART_DEFINITION
from ._http import Body
from ._ids import unique_id
from .errors import AudioSourceError, InvalidInputError

__all__ = [
    "MAX_BLOCK_SIZE",
    "AsyncReader",
    "AudioInput",
    "AudioSource",
    "FileBlock",
    "file_blocks",
    "multipart_body",
    "prepare_audio",
]

INLINE = 64 * 1024
"""Sources up to this size are sent as one buffer with their framing."""
CHUNK_SIZE = 1024 * 1024
"""Bytes read per chunk from a file, a file object or an async reader."""
MAX_BLOCK_SIZE = 8 * 1024 * 1024
"""The largest block ``Datasets_UploadBlock`` accepts (8 MiB)."""
_PATHS = (str, os.PathLike)
_BUFFERS = (bytes, bytearray, memoryview)
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


class AsyncReader(Protocol):
    """An async file object: FastAPI's ``UploadFile``, aiohttp's ``StreamReader``, a file
    from ``anyio.open_file``..."""

    def read(self, size: int = -1, /) -> Awaitable[bytes]: ...


AudioInput = (
    str
    | os.PathLike[str]
    | bytes
    | bytearray
    | memoryview
    | IO[bytes]
    | AsyncReader
    | AsyncIterable[bytes]
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
    chunks: Callable[[], AsyncGenerator[bytes, None]]
    """A fresh iterator over the content, one per attempt."""
    fill: Callable[[memoryview], None] | None = None
    """Writes the whole content (``size`` bytes) into the buffer given, on the calling
    thread: only for sources up to ``INLINE`` bytes, then sent as one buffer."""
    rewind: Callable[[], None] | None = None
    """Puts a caller's file back where it was, once the call is over."""


def prepare_audio(audio: Any) -> AudioSource:
    """Check an audio source and describe how to stream it. No network traffic happens here."""
    if isinstance(audio, _PATHS):
        return _path_source(os.fspath(audio))
    if isinstance(audio, _BUFFERS):
        return _bytes_source(bytes(audio))
    if isinstance(audio, io.TextIOBase):
        raise AudioSourceError("the audio file is open in text mode: open it with 'rb'")
    reader = _async_read(audio)
    if reader is not None:
        return _async_reader_source(audio, reader)
    if hasattr(audio, "read"):
        return _file_source(audio)
    if isinstance(audio, AsyncIterable):
        return _aiter_source(audio)
    raise AudioSourceError(
        f"cannot transcribe a {type(audio).__name__}: pass a path, bytes, a binary file "
        "object, an async file object or an async iterable of bytes (or audio_url=)"
    )


def _bytes_source(data: bytes) -> AudioSource:
    if not data:
        raise AudioSourceError("the audio is empty (0 bytes): nothing to transcribe")

    def fill(view: memoryview) -> None:
        view[:] = data

    async def chunks() -> AsyncGenerator[bytes, None]:
        yield data  # (the transport hands it to the socket in slices)

    return AudioSource(
        filename="audio",
        size=len(data),
        replayable=True,
        chunks=chunks,
        fill=fill if len(data) <= INLINE else None,
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
    size = st.st_size
    if size == 0:
        raise AudioSourceError(f"audio file {path} is empty (0 bytes)")
    if size > INLINE and not os.access(path, os.R_OK):
        # (A small file is read into the request body before anything is sent, which
        # checks this without an extra system call.)
        raise AudioSourceError(f"audio file {path} is not readable (permission denied)")

    def fill(view: memoryview) -> None:
        with _reading(path):
            got = _read_into(path, view)
        if got != size:
            raise _changed(path)

    return AudioSource(
        filename=os.path.basename(path),
        size=size,
        replayable=True,
        chunks=lambda: _read_range(path, 0, size, whole=True),
        fill=fill if size <= INLINE else None,
    )


_readv: Callable[[int, list[Any]], int] | None = getattr(os, "readv", None)
"""``os.readv`` where the platform has it (POSIX), else None (Windows)."""


def _read_into(path: str, view: memoryview) -> int:
    """Read a file into ``view``, asking for one byte more so that a file that grew since
    it was measured is noticed: the bytes read (``len(view)`` if it did not change).
    With ``readv`` the file goes straight into the buffer in one call, a third of the cost
    of reading it through a file object (measured on the small-file fast path)."""
    size, probe = len(view), bytearray(1)
    fd = os.open(path, _READ_FLAGS)
    try:
        if _readv is None:
            data = os.read(fd, size + 1)
            while 0 < len(data) <= size and (more := os.read(fd, size + 1 - len(data))):
                data += more
            view[: min(size, len(data))] = data[:size]
            return len(data)
        got = _readv(fd, [view, probe])
        while 0 < got < size and (step := _readv(fd, [view[got:], probe])):
            got += step
        return got
    finally:
        os.close(fd)


class _reading:
    """OS errors of reading ``path`` as :class:`AudioSourceError`."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        path = self.path
        if isinstance(exc, PermissionError):
            raise AudioSourceError(
                f"audio file {path} is not readable (permission denied)"
            ) from None
        if isinstance(exc, FileNotFoundError):
            raise AudioSourceError(f"cannot read audio file {path}: it was removed") from None
        if isinstance(exc, OSError):
            raise AudioSourceError(f"cannot read audio file {path}: {exc.strerror}") from None


def _changed(path: str, what: str = "file") -> AudioSourceError:
    return AudioSourceError(
        f"audio {what} {path} changed size while it was being sent; send it again once it is "
        "complete"
    )


async def _read_range(
    path: str, offset: int, size: int, *, whole: bool
) -> AsyncGenerator[bytes, None]:
    """Yield ``size`` bytes of a file from ``offset`` in chunks, reading the next one in a
    worker thread while the last one is being sent, so that disk and network overlap (at
    most two chunks are held). A file that became shorter raises; with ``whole`` (the range
    is the whole file), so does one that became longer.

    The file is closed without awaiting anything, so that even a cancelled reader (aiohttp
    cancels the task that sends a body) never leaves it open: when a thread is still
    reading, it is closed as soon as that read ends.
    """
    loop = asyncio.get_running_loop()
    opening = loop.run_in_executor(None, open, path, "rb")
    try:
        with _reading(path):
            f: IO[bytes] = await asyncio.shield(opening)
    except BaseException:  # cancelled while a thread opens it: close it once it is open
        opening.add_done_callback(_close_opened)
        raise
    pending: asyncio.Future[bytes] | None = None
    try:
        if offset:
            await anyio.to_thread.run_sync(f.seek, offset)
        left = size
        pending = loop.run_in_executor(None, f.read, min(CHUNK_SIZE, left))
        while left and pending is not None:
            with _reading(path):
                chunk = await pending
            if not chunk:
                raise _changed(path)  # it shrank
            left -= len(chunk)
            pending = None
            if left or whole:  # (one byte more at the end: a file that grew is noticed)
                pending = loop.run_in_executor(None, f.read, min(CHUNK_SIZE, left) or 1)
            yield chunk
        if pending is not None:
            with _reading(path):
                grown = await pending
            pending = None
            if grown:
                raise _changed(path)
    finally:
        if pending is None or pending.done():
            f.close()
        else:  # a thread is reading: close once it is done (its chunk is dropped)
            pending.add_done_callback(functools.partial(_close_after, f))


def _close_opened(opening: asyncio.Future[Any]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close()


def _close_after(f: IO[bytes], read: asyncio.Future[bytes]) -> None:
    if not read.cancelled():
        read.exception()  # retrieved, so that asyncio does not log it
    f.close()


def _file_source(fileobj: IO[bytes]) -> AudioSource:
    name = Path(str(getattr(fileobj, "name", "audio"))).name or "audio"
    start, size = _position(fileobj)
    if size == 0:
        raise AudioSourceError(f"the audio file object {name!r} has no bytes left to read")
    seekable = size is not None
    used = False

    async def read(n: int) -> bytes:
        return await anyio.to_thread.run_sync(fileobj.read, n)

    async def chunks() -> AsyncGenerator[bytes, None]:
        nonlocal used
        if seekable:
            await anyio.to_thread.run_sync(fileobj.seek, start)
        elif used:
            raise AudioSourceError("a non-seekable file can be sent only once")
        used = True
        sent = 0
        async with contextlib.aclosing(_read_chunks(read, "file object")) as reads:
            async for chunk in reads:
                sent += len(chunk)
                if size is not None and sent > size:
                    raise _changed(name, "file object")  # it grew: the length is announced
                yield chunk
        if size is not None and sent != size:
            raise _changed(name, "file object")  # it shrank: the server would wait for more

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


def _position(fileobj: IO[bytes]) -> tuple[int, int | None]:
    """Where a file object is, and how many bytes are left (None: not seekable)."""
    try:
        if fileobj.seekable():
            start = fileobj.tell()
            end = fileobj.seek(0, os.SEEK_END)
            fileobj.seek(start)
            return start, end - start
    except (OSError, ValueError, AttributeError):
        pass
    return 0, None


def _async_read(obj: object) -> Callable[[int], Awaitable[bytes]] | None:
    """The async read-a-chunk function of an async file object, or None."""
    for name in ("read_chunk", "read"):  # (a multipart part's read() takes no size)
        method = getattr(obj, name, None)
        if method is not None and inspect.iscoroutinefunction(method):
            return method  # type: ignore[no-any-return]
    return None


def _async_reader_source(reader: object, read: Callable[[int], Awaitable[bytes]]) -> AudioSource:
    """An async file object, read in chunks; sent again (after ``seek``) when it has an
    async ``seek``, else once."""
    name = Path(str(getattr(reader, "filename", None) or getattr(reader, "name", None) or "audio"))
    seek = getattr(reader, "seek", None)
    seekable = seek is not None and inspect.iscoroutinefunction(seek)
    used = False

    async def chunks() -> AsyncGenerator[bytes, None]:
        nonlocal used
        if used:
            if not seekable:
                raise AudioSourceError("an async reader without seek() can be sent only once")
            await seek(0)  # type: ignore[misc]
        used = True
        async with contextlib.aclosing(_read_chunks(read, "async reader")) as reads:
            async for chunk in reads:
                yield chunk

    return AudioSource(filename=name.name or "audio", size=None, replayable=seekable, chunks=chunks)


async def _read_chunks(
    read: Callable[[int], Awaitable[bytes]], what: str
) -> AsyncGenerator[bytes, None]:
    while chunk := await read(CHUNK_SIZE):
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise AudioSourceError(
                f"the {what} returned {type(chunk).__name__}, not bytes: open it in binary mode"
            )
        yield bytes(chunk)


def _aiter_source(iterable: AsyncIterable[bytes]) -> AudioSource:
    used = False

    async def chunks() -> AsyncGenerator[bytes, None]:
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


def multipart_body(
    definition_json: bytes,
    audio: AudioSource | None,
    *,
    on_progress: Callable[[int], object] | None = None,
) -> Body:
    """The ``multipart/form-data`` body of ``Transcriptions_Transcribe``.

    Parts: the definition (a JSON string field) and, unless the audio comes from a URL, the
    audio file. The framing is written here so that the exact Content-Length is known up
    front (no chunked upload) and the file streams straight from disk. ``on_progress`` is
    called with the number of audio bytes sent so far.
    """
    boundary = "speechrest-" + unique_id()
    content_type = f"multipart/form-data; boundary={boundary}"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{PART_DEFINITION}"\r\n\r\n'
    ).encode() + definition_json
    tail = f"\r\n--{boundary}--\r\n".encode()
    if audio is None:
        payload = head + tail
        return Body(open=lambda: payload, content_type=content_type, length=len(payload))
    filename = audio.filename.replace('"', "%22").replace("\r", "").replace("\n", "")
    prefix = (
        head
        + (
            f"\r\n--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{PART_AUDIO}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
    )
    if audio.fill is not None and audio.size is not None:
        return _one_buffer(prefix, audio.fill, audio.size, tail, content_type, on_progress)

    async def stream() -> AsyncIterator[bytes]:
        sent = 0
        yield prefix
        async with contextlib.aclosing(audio.chunks()) as chunks:  # its file closes with us
            async for chunk in chunks:
                yield chunk
                if on_progress is not None:
                    sent += len(chunk)
                    on_progress(sent)
        yield tail

    length = None if audio.size is None else len(prefix) + audio.size + len(tail)
    return Body(open=stream, content_type=content_type, length=length, replayable=audio.replayable)


def _one_buffer(
    prefix: bytes,
    fill: Callable[[memoryview], None],
    size: int,
    suffix: bytes,
    content_type: str,
    on_progress: Callable[[int], object] | None,
) -> Body:
    """A small source and its framing in one buffer, filled in place before anything is
    sent (the audio is copied once, and no other copy stays alive while in flight)."""
    start, end = len(prefix), len(prefix) + size
    buffer = bytearray(end + len(suffix))
    buffer[:start] = prefix
    with memoryview(buffer) as view:
        fill(view[start:end])
    buffer[end:] = suffix
    if on_progress is None:  # aiohttp sends it with the headers, in one write
        return Body(open=lambda: buffer, content_type=content_type, length=len(buffer))

    async def whole() -> AsyncIterator[bytes]:
        yield bytes(buffer)
        on_progress(size)

    return Body(open=whole, content_type=content_type, length=len(buffer))


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
    check.integer(block_size, "block_size (bytes, at most 8 MiB)", 1, MAX_BLOCK_SIZE)
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
    blocks = []
    for index, offset in enumerate(range(0, size, block_size)):
        length = min(block_size, size - offset)
        body = Body(
            open=_slice_reader(file, offset, length),
            content_type="application/octet-stream",
            length=length,
        )
        blocks.append(FileBlock(index=index, offset=offset, size=length, body=body))
    return blocks


def _slice_reader(path: Path, offset: int, size: int) -> Callable[[], AsyncIterator[bytes]]:
    return lambda: _read_range(str(path), offset, size, whole=False)
