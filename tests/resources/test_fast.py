from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from aiohttp import web

from speechrest import SpeechClient, errors
from speechrest.testing import Fault, ScriptedRecognizer, SpeechEmulator, make_wav
from speechrest.types import EnhancedModeProperties, TranscribeDefinition

pytestmark = pytest.mark.anyio

SAMPLE_TEXT = "Please call me back tomorrow morning."


async def test_transcribe_sample_path(client: SpeechClient, sample_wav: Path) -> None:
    result = await client.transcribe(sample_wav, locales=["en-US"])
    assert result.text == SAMPLE_TEXT
    assert result.duration_ms == 2815
    first = result.phrases[0]
    assert first.words and first.words[0].offset_ms == first.offset_ms
    assert first.locale == "en-US"
    assert 0 < first.confidence <= 1


async def test_every_source_kind(client: SpeechClient, wav_file) -> None:
    path = wav_file("kinds.wav", text="Every kind of source.")
    data = path.read_bytes()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 1000):
            yield data[i : i + 1000]

    with path.open("rb") as f:
        from_file = await client.transcribe(f)
    results = [
        await client.transcribe(str(path)),
        await client.transcribe(data),
        await client.transcribe(bytearray(data)),
        from_file,
        await client.transcribe(io.BytesIO(data)),
        await client.transcribe(chunks()),
    ]
    assert {r.text for r in results} == {"Every kind of source."}


async def test_audio_url(client: SpeechClient, wav_file) -> None:
    data = wav_file("remote.wav", text="Fetched from a URL.").read_bytes()
    app = web.Application()

    async def serve(_: web.Request) -> web.Response:
        return web.Response(body=data)

    app.router.add_get("/remote.wav", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        result = await client.transcribe(audio_url=f"http://127.0.0.1:{port}/remote.wav")
        assert result.text == "Fetched from a URL."
        with pytest.raises(errors.BadRequestError) as info:
            await client.transcribe(audio_url=f"http://127.0.0.1:{port}/missing.wav")
        assert info.value.inner_code == "InvalidRecordingsUri"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("audio", "kwargs", "message"),
    [
        (None, {}, "exactly one of audio"),
        (b"RIFF", {"audio_url": "https://x.invalid/a.wav"}, "exactly one of audio"),
        ("does-not-exist.wav", {}, "not found"),
        (b"", {}, "empty"),
        (b"RIFF", {"channels": [0, 1, 2]}, "at most 2 channels"),
        (b"RIFF", {"channels": [0, 0]}, "distinct 0-based"),
        (b"RIFF", {"channels": [-1]}, "0-based"),
        (b"RIFF", {"max_speakers": 1}, "between 2 and 35"),
        (b"RIFF", {"max_speakers": 36}, "between 2 and 35"),
        (b"RIFF", {"profanity_filter_mode": "Bleep"}, "profanity_filter_mode must be one of"),
        (b"RIFF", {"locales": []}, "locales"),
        (b"RIFF", {"phrase_list": "one string"}, "phrase_list"),
        (b"RIFF", {"audio_url": None, "definition": "nope"}, "TranscribeDefinition"),
        (12345, {}, "cannot transcribe a int"),
        (io.StringIO("text"), {}, "text mode"),
    ],
)
async def test_bad_input_fails_before_any_request(
    client: SpeechClient, emulator: SpeechEmulator, audio: Any, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(errors.InvalidInputError, match=message):
        await client.transcribe(audio, **kwargs)
    assert len(emulator.requests) == 0


async def test_directory_and_empty_file_are_refused(client, emulator, tmp_path: Path) -> None:
    with pytest.raises(errors.AudioSourceError, match="is a directory"):
        await client.transcribe(tmp_path)
    empty = tmp_path / "empty.wav"
    empty.touch()
    with pytest.raises(errors.AudioSourceError, match="empty"):
        await client.transcribe(empty)
    assert len(emulator.requests) == 0


@pytest.fixture
async def spied() -> AsyncIterator[tuple[SpeechClient, SpeechEmulator]]:
    async with SpeechEmulator() as emu, SpeechClient(emu.endpoint, key=emu.key) as c:
        yield c, emu


async def test_max_speakers_turns_diarization_on(spied, sample_wav) -> None:
    client, spy = spied
    result = await client.transcribe(sample_wav, max_speakers=3)
    assert spy.state.transcribe_definitions[-1]["diarization"] == {
        "enabled": True,
        "maxSpeakers": 3,
    }
    # Fast transcription numbers speakers from 0 (Learn: "speaker": 0 or "speaker": 1).
    assert {p.speaker for p in result.phrases} <= {0, 1, 2}
    assert all(p.speaker is not None for p in result.phrases)
    result = await client.transcribe(sample_wav)
    assert "diarization" not in spy.state.transcribe_definitions[-1]
    assert all(p.speaker is None for p in result.phrases)


async def test_every_definition_field_is_reachable(spied, sample_wav) -> None:
    client, spy = spied
    # A model the service knows (the emulator refuses references to models that do not exist).
    model = spy.state.url("/models/base/e065c68b-21d3-4b28-ae61-eb4c7e797789")
    await client.transcribe(
        sample_wav,
        locales="en-US",
        diarization=True,
        channels=[0],
        profanity_filter_mode="Masked",
        phrase_list=["Contoso", "speechrest"],
        phrase_list_weight=1.5,
        enhanced_mode=EnhancedModeProperties(enabled=True, task="translate", target_language="de"),
        models={"en-US": model},
    )
    assert spy.state.transcribe_definitions[-1] == {
        "locales": ["en-US"],
        "models": {"en-US": model},
        "profanityFilterMode": "Masked",
        "diarization": {"enabled": True},
        "channels": [0],
        "phraseList": {"phrases": ["Contoso", "speechrest"], "biasingWeight": 1.5},
        "enhancedMode": {"enabled": True, "task": "translate", "targetLanguage": "de"},
    }
    base = TranscribeDefinition(locales=["de-DE"], channels=[0])
    await client.transcribe(sample_wav, definition=base, locales=["fr-FR"])
    assert spy.state.transcribe_definitions[-1] == {"locales": ["fr-FR"], "channels": [0]}


async def test_channels_are_transcribed_separately(client: SpeechClient, tmp_path: Path) -> None:
    stereo = tmp_path / "stereo.wav"
    stereo.write_bytes(make_wav(channels=2, comment="Left and right."))
    result = await client.transcribe(stereo, channels=[0, 1])
    assert [c.channel for c in result.combined_phrases] == [0, 1]
    assert {p.channel for p in result.phrases} == {0, 1}
    merged = await client.transcribe(stereo)
    assert [c.channel for c in merged.combined_phrases] == [None]
    with pytest.raises(errors.BadRequestError) as info:
        await client.transcribe(tmp_path / "stereo.wav", channels=[0, 2])
    assert info.value.inner_code == "InvalidChannelSpecification"


async def test_transcribe_many_yields_one_outcome_per_source(wav_file) -> None:
    paths = [wav_file(f"f{i}.wav", text=f"File number {i}.") for i in range(12)]
    sources: list[Any] = [*paths, b"garbage", "missing.wav"]
    async with (
        SpeechEmulator() as emu,
        SpeechClient(emu.endpoint, key=emu.key) as c,
        c.transcribe_many(sources, concurrency=4, locales=["en-US"]) as stream,
    ):
        outcomes = [o async for o in stream]
    assert sorted(o.index for o in outcomes) == list(range(len(sources)))
    by_index = {o.index: o for o in outcomes}
    for i in range(12):
        assert by_index[i].ok
        assert by_index[i].result.text == f"File number {i}."
        assert by_index[i].source == paths[i]
    assert isinstance(by_index[12].error, errors.UnprocessableEntityError)
    assert isinstance(by_index[13].error, errors.AudioSourceError)


async def test_transcribe_many_bounds_concurrency(wav_file) -> None:
    path = wav_file()
    emu = SpeechEmulator()
    emu.faults.add(Fault.latency(0.02), times=None)  # so that requests overlap
    calls = emu.faults.record(operation="Transcriptions_Transcribe")
    async with (
        emu,
        SpeechClient(emu.endpoint, key=emu.key) as c,
        c.transcribe_many([path] * 30, concurrency=5) as stream,
    ):
        outcomes = [o async for o in stream]
    assert len(outcomes) == 30 and all(o.ok for o in outcomes)
    assert calls.count == 30
    assert calls.max_in_flight == 5


async def test_transcribe_many_options_are_checked_up_front(client, emulator) -> None:
    with pytest.raises(errors.InvalidInputError, match="concurrency"):
        client.transcribe_many([b"x"], concurrency=0)
    with pytest.raises(errors.InvalidInputError, match="max_speakers"):
        client.transcribe_many([b"x"], max_speakers=99)
    assert len(emulator.requests) == 0


async def test_breaking_out_cancels_in_flight_work(wav_file) -> None:
    path = wav_file()
    emu = SpeechEmulator()
    calls = emu.faults.record(operation="Transcriptions_Transcribe")
    emu.faults.add(Fault.stall(), skip=1, times=None)  # all but the first never answer
    async with emu, SpeechClient(emu.endpoint, key=emu.key, max_connections=4) as c:
        with anyio.fail_after(10):
            async with c.transcribe_many([path] * 50, concurrency=4) as stream:
                async for outcome in stream:
                    assert outcome.ok
                    break
        assert calls.count <= 1 + 4
        # Every pooled connection is free again: four new calls are in flight at once.
        emu.faults.clear()
        emu.faults.add(Fault.stall(), times=None)
        fresh = emu.faults.record(operation="Transcriptions_Transcribe")
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for _ in range(4):
                    tg.start_soon(c.transcribe, path)
                while fresh.in_flight < 4:
                    await anyio.sleep(0.01)
                tg.cancel_scope.cancel()
        emu.faults.clear()
        assert (await c.transcribe(path)).text == "Hello world."  # the client is still usable
    assert calls.count <= 1 + 4 + 4 + 1
    assert calls.in_flight == 0


async def test_scripted_recognizer() -> None:
    recognizer = ScriptedRecognizer({"a.wav": "Scripted words."}, default="Anything else.")
    async with (
        SpeechEmulator(recognizer=recognizer) as emu,
        SpeechClient(emu.endpoint, key=emu.key) as c,
    ):
        wav = make_wav(seconds=0.5)
        a = await c.transcribe(wav)
        assert a.text == "Anything else."
        f = io.BytesIO(wav)
        f.name = "a.wav"
        assert (await c.transcribe(f)).text == "Scripted words."


async def test_failed_call_leaves_a_file_where_the_caller_had_it(tmp_path: Path) -> None:
    from speechrest.testing import Fault

    path = tmp_path / "long.wav"
    path.write_bytes(make_wav(seconds=20, comment="Long enough to be sent in chunks."))
    async with SpeechEmulator() as emu, SpeechClient(emu.endpoint, key=emu.key) as c:
        emu.faults.add(Fault.reset_during_upload(after_bytes=300_000), times=1)
        with path.open("rb") as f:
            f.seek(0)
            with pytest.raises(errors.APIConnectionError):
                await c.with_options(max_retries=0).transcribe(f)
            assert f.tell() == 0
            result = await c.transcribe(f)
    assert result.text == "Long enough to be sent in chunks."


async def test_refused_connection_does_not_consume_a_one_shot_stream() -> None:
    consumed = False

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal consumed
        consumed = True
        yield make_wav()

    async with SpeechClient("http://127.0.0.1:9", key="k", max_retries=1) as c:
        with pytest.raises(errors.APIConnectionError) as info:
            await c.transcribe(chunks())
    assert not isinstance(info.value, errors.NotReplayableError)
    assert "cannot connect" in str(info.value)


@pytest.mark.parametrize("change", [b"grown by a byte", None])
def test_small_file_that_changes_size_after_it_was_measured_is_refused(
    tmp_path: Path, change: bytes | None
) -> None:
    from speechrest._upload import multipart_body, prepare_audio

    path = tmp_path / "a.wav"
    path.write_bytes(make_wav(seconds=0.2))
    source = prepare_audio(path)  # measured here, read into the request body below
    if change is None:
        path.write_bytes(path.read_bytes()[:100])
    else:
        with path.open("ab") as f:
            f.write(change)
    with pytest.raises(errors.AudioSourceError, match="changed size"):
        multipart_body(b"{}", source)


def test_small_file_body_is_the_file_between_its_framing(tmp_path: Path) -> None:
    from speechrest._upload import multipart_body, prepare_audio

    audio = make_wav(seconds=0.2)
    path = tmp_path / "a.wav"
    path.write_bytes(audio)
    body = multipart_body(b'{"locales":["en-US"]}', prepare_audio(path))
    data = bytes(body.open())  # type: ignore[arg-type]
    assert body.length == len(data)
    boundary = body.content_type.split("boundary=")[1]
    assert data.startswith(f"--{boundary}\r\n".encode())
    assert data.endswith(f"\r\n--{boundary}--\r\n".encode())
    assert audio in data and data.count(audio) == 1


async def test_small_file_transcribes_either_way(client: SpeechClient, wav_file) -> None:
    assert (await client.transcribe(wav_file(text="Either way."))).text == "Either way."


def test_small_file_removed_after_it_was_measured(tmp_path: Path) -> None:
    from speechrest._upload import multipart_body, prepare_audio

    path = tmp_path / "a.wav"
    path.write_bytes(make_wav(seconds=0.2))
    source = prepare_audio(path)
    path.unlink()
    with pytest.raises(errors.AudioSourceError, match="cannot read audio file"):
        multipart_body(b"{}", source)


async def test_progress_of_a_small_file_reaches_its_size(client: SpeechClient, wav_file) -> None:
    path = wav_file(text="Hello there.")
    progress: list[int] = []
    result = await client.transcribe(path, on_progress=progress.append)
    assert result.text == "Hello there."
    assert progress and progress[-1] == path.stat().st_size
