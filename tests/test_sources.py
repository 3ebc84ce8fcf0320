"""Audio sources: async file objects, files that change while they are sent, and failures of
the caller's own code (a source, a progress callback), which are never retried."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from speechrest import SpeechClient, errors
from speechrest.testing import SpeechEmulator, make_wav

pytestmark = pytest.mark.anyio

TRANSCRIBE = "/speechtotext/transcriptions:transcribe"


def attempts(emulator: SpeechEmulator) -> int:
    return sum(1 for r in emulator.requests if r.path == TRANSCRIBE)


async def test_an_anyio_file_is_streamed(client: SpeechClient, tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    path.write_bytes(make_wav(seconds=80, comment="From an async file."))  # 2.5 MB
    async with await anyio.open_file(path, "rb") as f:
        result = await client.transcribe(f)
    assert result.text == "From an async file."


class Reader:
    """An async reader without seek (like aiohttp's StreamReader): it can be read once."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.reads: list[int] = []

    async def read(self, size: int = -1) -> bytes:
        self.reads.append(size)
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk


async def test_an_async_reader_is_read_in_chunks_not_whole(client: SpeechClient) -> None:
    reader = Reader(make_wav(seconds=80, comment="Chunked."))
    assert (await client.transcribe(reader)).text == "Chunked."
    assert len(reader.reads) > 2 and all(n > 0 for n in reader.reads)


async def test_a_one_shot_reader_says_so_when_a_retry_is_needed(emulator: SpeechEmulator) -> None:
    from speechrest.testing import Fault

    emulator.faults.add(Fault.reset_during_upload(after_bytes=1024), times=1)
    async with SpeechClient(emulator.endpoint, key=emulator.key, backoff_base=0.001) as client:
        with pytest.raises(errors.NotReplayableError, match="one-shot"):
            await client.transcribe(Reader(make_wav(seconds=10)))
    assert attempts(emulator) == 1


async def test_a_reader_returning_text_is_refused(client: SpeechClient, emulator) -> None:
    class Text:
        async def read(self, size: int = -1) -> str:
            return "not bytes"

    with pytest.raises(errors.AudioSourceError, match="not bytes"):
        await client.transcribe(Text())
    assert attempts(emulator) <= 1


@pytest.mark.parametrize("change", ["grows", "shrinks"])
async def test_a_file_that_changes_while_it_is_sent_is_refused_at_once(
    emulator: SpeechEmulator, tmp_path: Path, change: str
) -> None:
    path = tmp_path / "growing.wav"
    path.write_bytes(make_wav(seconds=100))  # 3.2 MB: streamed in chunks
    changed = False

    def on_progress(sent: int) -> None:
        nonlocal changed
        if not changed:
            changed = True
            if change == "grows":
                with path.open("ab") as f:
                    f.write(bytes(1024))
            else:
                with path.open("r+b") as f:
                    f.truncate(1024 * 1024 + 10)

    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        with anyio.fail_after(10), pytest.raises(errors.AudioSourceError, match="changed size"):
            await client.transcribe(path, on_progress=on_progress)
    assert attempts(emulator) <= 1  # never sent again


async def test_an_error_of_the_callers_source_is_raised_as_it_is_and_not_retried(
    emulator: SpeechEmulator,
) -> None:
    class Broken(Exception):
        pass

    async def chunks() -> AsyncIterator[bytes]:
        yield make_wav(seconds=5)
        raise Broken("the upstream went away")

    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        with pytest.raises(Broken):
            await client.transcribe(chunks())
    assert attempts(emulator) <= 1


async def test_a_source_yielding_text_is_an_audio_source_error(emulator: SpeechEmulator) -> None:
    async def chunks() -> AsyncIterator[str]:
        yield "RIFF"

    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        with pytest.raises(errors.AudioSourceError, match="yielded str"):
            await client.transcribe(chunks())  # type: ignore[arg-type]
    assert attempts(emulator) <= 1


async def test_a_failing_progress_callback_is_raised_and_not_retried(
    emulator: SpeechEmulator, tmp_path: Path
) -> None:
    path = tmp_path / "a.wav"
    path.write_bytes(make_wav(seconds=60))

    def on_progress(sent: int) -> None:
        raise KeyError("progress bar gone")

    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        with pytest.raises(KeyError, match="progress bar gone"):
            await client.transcribe(path, on_progress=on_progress)
    assert attempts(emulator) <= 1


@pytest.mark.parametrize("change", ["grows", "shrinks"])
async def test_a_file_object_whose_file_changes_while_it_is_sent_is_refused_at_once(
    emulator: SpeechEmulator, tmp_path: Path, change: str
) -> None:
    """The same for an open file: its length is announced (Content-Length), so a shorter
    body would leave the service waiting, and a longer one would not fit."""
    path = tmp_path / "growing.wav"
    path.write_bytes(make_wav(seconds=100))
    changed = False

    def on_progress(sent: int) -> None:
        nonlocal changed
        if not changed:
            changed = True
            with path.open("ab" if change == "grows" else "r+b") as f:
                if change == "grows":
                    f.write(bytes(2 * 1024 * 1024))
                else:
                    f.truncate(1024 * 1024 + 10)

    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        with (
            path.open("rb") as audio,
            anyio.fail_after(10),
            pytest.raises(errors.AudioSourceError, match="changed size"),
        ):
            await client.transcribe(audio, on_progress=on_progress)
    assert attempts(emulator) <= 1  # never sent again
