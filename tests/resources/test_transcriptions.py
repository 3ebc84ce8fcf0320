"""client.transcriptions against the emulator over loopback HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from speechrest import PollPolicy, SpeechClient, WaitOutcome
from speechrest.errors import (
    AuthenticationError,
    BadRequestError,
    InvalidInputError,
    NotFoundError,
    TranscriptionFailedError,
)
from speechrest.testing import Fault, SpeechEmulator, Timing, make_wav
from speechrest.types import (
    FileKind,
    LanguageIdentificationMode,
    LanguageIdentificationProperties,
    Status,
    Transcription,
    TranscriptionResultFile,
)
from tests.audio_server import AudioServer, audio_server  # noqa: F401 - fixture

pytestmark = pytest.mark.anyio

FAST = Timing(queue_delay=0.05, run_time=0.1, retry_after=0)
POLICY = PollPolicy(initial_interval=0.02, min_interval=0.02, max_interval=0.1)


@pytest.fixture
async def emulator(audio_server: AudioServer) -> AsyncIterator[SpeechEmulator]:  # noqa: F811
    # Jobs fetch their audio from audio_server in the background: the emulator stops first.
    async with SpeechEmulator(timing=FAST) as emu:
        yield emu


@pytest.fixture
def wav_url(audio_server: AudioServer):  # noqa: F811
    def make(name: str, text: str = "Hello world.", **kw: Any) -> str:
        return audio_server.add(f"audio/{name}", make_wav(comment=text, **kw))

    return make


def submits(emulator: SpeechEmulator) -> int:
    return sum(r.path.endswith(":submit") for r in emulator.requests)


GOOD = ["https://a.example/a.wav"]
CANDIDATES = ["ko-KR", "pt-BR", "zh-CN", "nl-NL", "sv-SE"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one source"),
        ({"content_urls": GOOD, "content_container_url": "https://a.example/c"}, "exactly one"),
        ({"content_urls": "https://a.example/a.wav"}, "wrap a single value in a list"),
        ({"content_urls": []}, "1 to 1000"),
        ({"content_urls": [f"https://a.example/{i}" for i in range(1001)]}, "1 to 1000"),
        ({"content_urls": ["ftp://a.example/a.wav"]}, "http(s) URL"),
        ({"content_urls": GOOD, "locale": ""}, "locale"),
        ({"content_urls": GOOD, "display_name": " "}, "display_name"),
        ({"content_urls": GOOD, "time_to_live_hours": 5}, "between 6 and 744"),
        ({"content_urls": GOOD, "time_to_live_hours": 745}, "between 6 and 744"),
        ({"content_urls": GOOD, "max_speakers": 1}, "between 2 and 35"),
        ({"content_urls": GOOD, "max_speakers": 36}, "between 2 and 35"),
        ({"content_urls": GOOD, "max_speakers": 3, "diarization": False}, "diarization=False"),
        ({"content_urls": GOOD, "channels": [0, 0]}, "distinct"),
        ({"content_urls": GOOD, "channels": [-1]}, "0-based"),
        ({"content_urls": GOOD, "language_identification": ["en-US"]}, "2 to 10"),
        ({"content_urls": GOOD, "language_identification": [f"l{i}" for i in range(11)]},
         "2 to 10"),
        ({"content_urls": GOOD, "language_identification": "en-US"},
         "language_identification must be a list"),
        ({"content_urls": GOOD, "punctuation_mode": "Loud"}, "punctuation_mode"),
        ({"content_urls": GOOD, "profanity_filter_mode": "masked"}, "profanity_filter_mode"),
        ({"content_urls": GOOD, "word_level_timestamps": "yes"}, "True or False"),
        ({"content_urls": GOOD, "custom_properties": {f"k{i}": "v" for i in range(11)}}, "10"),
        ({"content_urls": GOOD, "custom_properties": {"k" * 65: "v"}}, "64"),
        ({"content_urls": GOOD, "custom_properties": {"k": "v" * 257}}, "256"),
        ({"content_urls": GOOD, "model": "not-an-id"}, "UUID"),
        ({"dataset": 42}, "dataset"),
    ],
)  # fmt: skip
async def test_submit_checks_input_before_any_request(
    client: SpeechClient, emulator: SpeechEmulator, kwargs: dict[str, Any], message: str
) -> None:
    kwargs.setdefault("locale", "en-US")
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        await client.transcriptions.submit(**kwargs)
    assert submits(emulator) == 0


async def test_language_identification_single_mode_allows_many_candidates(
    client: SpeechClient, wav_url
) -> None:
    lid = LanguageIdentificationProperties(
        candidate_locales=[*"en-US de-DE fr-FR es-ES it-IT ja-JP".split(), *CANDIDATES],
        mode=LanguageIdentificationMode.SINGLE,
    )
    job = await client.transcriptions.submit(
        content_urls=[wav_url("a.wav")], locale="en-US", language_identification=lid
    )
    assert job.properties.language_identification == lid


async def test_submit_and_wait_then_results_and_report(
    client: SpeechClient,
    emulator: SpeechEmulator,
    wav_url,
    audio_server,  # noqa: F811
) -> None:
    urls = [wav_url("a.wav", "First file."), wav_url("b.wav", "Second file.")]
    missing = audio_server.url("audio/missing.wav")
    seen: list[Status | None] = []
    job = await client.transcriptions.submit_and_wait(
        content_urls=[*urls, missing],
        locale="en-US",
        display_name="calls",
        word_level_timestamps=True,
        max_speakers=2,
        custom_properties={"batch": "7"},
        policy=POLICY,
        on_status=lambda j: seen.append(j.status),
    )
    assert job.status == Status.SUCCEEDED and seen[-1] == Status.SUCCEEDED
    assert seen[0] in (Status.NOT_STARTED, Status.RUNNING) and len(set(seen)) == len(seen)
    assert job.display_name == "calls" and job.custom_properties == {"batch": "7"}
    assert job.properties.diarization is not None and job.properties.diarization.enabled
    assert job.properties.duration_ms == 2000

    results = [r async for r in client.transcriptions.results(job)]
    assert all(isinstance(r, TranscriptionResultFile) for r in results)
    assert {r.source: r.text for r in results} == {urls[0]: "First file.", urls[1]: "Second file."}
    phrase = results[0].recognized_phrases[0]
    assert phrase.speaker is not None and phrase.best is not None and phrase.best.words
    assert phrase.best.words[0].offset_ms == phrase.offset_ms

    report = await client.transcriptions.report(job.self_ or "")
    assert report is not None
    assert report.successful_transcriptions_count == 2
    (failed,) = report.failed
    assert failed.input_url == missing and failed.error_kind == "InvalidRecordingsUri"

    # Result files are fetched from their SAS URL without the key (and no api-version).
    downloads = [r for r in emulator.requests if r.path.startswith("/blobs/")]
    assert len(downloads) == 3
    assert all("ocp-apim-subscription-key" not in r.headers for r in downloads)
    assert all("api-version" not in r.query for r in downloads)


async def test_wait_raises_on_failed_job_with_its_error(client: SpeechClient, audio_server) -> None:  # noqa: F811
    job = await client.transcriptions.submit(
        content_urls=[audio_server.url("nowhere.wav")], locale="en-US"
    )
    assert job.display_name.startswith("speechrest batch ")
    with pytest.raises(TranscriptionFailedError) as info:
        await client.transcriptions.wait(job.id, policy=POLICY)
    assert info.value.code == "InvalidRecordingsUri"
    assert info.value.entity.status == Status.FAILED
    assert job.id in str(info.value)
    assert await client.transcriptions.report(job) is None
    assert [r async for r in client.transcriptions.results(job)] == []


async def test_a_job_is_named_by_id_url_or_object(client: SpeechClient, wav_url) -> None:
    job = await client.transcriptions.submit(content_urls=[wav_url("a.wav")], locale="en-US")
    assert job.self_ is not None
    for ref in (job, job.id, job.self_, job.id.upper()):
        assert (await client.transcriptions.get(ref)).id == job.id
    with pytest.raises(InvalidInputError):
        await client.transcriptions.get("../models")


async def test_update_sends_only_given_fields_as_merge_patch(
    client: SpeechClient, emulator: SpeechEmulator, wav_url
) -> None:
    job = await client.transcriptions.submit(
        content_urls=[wav_url("a.wav")], locale="en-US", display_name="one", description="d"
    )
    updated = await client.transcriptions.update(job, custom_properties={"k": "v"})
    assert updated.display_name == "one" and updated.description == "d"
    assert updated.custom_properties == {"k": "v"}
    patch = [r for r in emulator.requests if r.method == "PATCH"][-1]
    assert patch.headers["content-type"] == "application/merge-patch+json"
    renamed = await client.transcriptions.update(job.id, display_name="two")
    assert renamed.display_name == "two" and renamed.custom_properties == {"k": "v"}
    with pytest.raises(InvalidInputError, match="nothing to update"):
        await client.transcriptions.update(job)


async def test_list_pages_and_filters(client: SpeechClient, wav_url) -> None:
    jobs = [
        await client.transcriptions.submit(
            content_urls=[wav_url("a.wav")], locale="en-US", display_name=f"job {i}"
        )
        for i in range(3)
    ]
    pages = [p async for p in client.transcriptions.list(top=2).by_page()]
    assert [len(p.values) for p in pages] == [2, 1]
    assert pages[0].next_link is not None and pages[1].next_link is None
    named = await client.transcriptions.list(filter="displayName eq 'job 1'").to_list()
    assert [j.id for j in named] == [jobs[1].id]
    async with client.transcriptions.wait_many(jobs, policy=POLICY) as stream:
        async for done in stream:
            assert done.ok
    succeeded = await client.transcriptions.list(filter="status eq 'Succeeded'").to_list()
    assert len(succeeded) == 3
    with pytest.raises(BadRequestError) as info:
        await client.transcriptions.list(filter="kind eq 'Audio'").to_list()
    assert info.value.inner_code == "UnsupportedFilter"


async def test_files_and_sas_lifetime(client: SpeechClient, wav_url) -> None:
    job = await client.transcriptions.submit_and_wait(
        content_urls=[wav_url("a.wav")], locale="en-US", policy=POLICY
    )
    files = await client.transcriptions.list_files(job, sas_lifetime_minutes=5).to_list()
    assert sorted(f.kind or "" for f in files) == [
        FileKind.TRANSCRIPTION,
        FileKind.TRANSCRIPTION_REPORT,
    ]
    one = await client.transcriptions.get_file(job, files[0], sas_lifetime_minutes=60)
    assert one.name == files[0].name and one.links is not None
    assert one.properties is not None and one.properties.size
    result = await client.transcriptions.download(
        next(f for f in files if f.kind == FileKind.TRANSCRIPTION), TranscriptionResultFile
    )
    assert result.text == "Hello world."


async def test_delete_refused_while_running_then_allowed(client: SpeechClient, wav_url) -> None:
    job = await client.transcriptions.submit(content_urls=[wav_url("a.wav")], locale="en-US")
    with pytest.raises(BadRequestError) as info:
        await client.transcriptions.delete(job)
    assert info.value.inner_code == "DeleteNotAllowed"
    await client.transcriptions.wait(job, policy=POLICY)
    await client.transcriptions.delete(job)
    await client.transcriptions.delete(job)  # gone already: still fine
    with pytest.raises(NotFoundError):
        await client.transcriptions.get(job)


async def test_locales(client: SpeechClient) -> None:
    locales = await client.transcriptions.list_supported_locales()
    assert locales.submit is not None and "en-US" in locales.submit
    assert locales.transcribe is not None and "en-US" in locales.transcribe


async def test_dataset_and_container_sources(
    client: SpeechClient,
    emulator: SpeechEmulator,
    audio_server,  # noqa: F811
) -> None:
    audio_server.add("box/x.wav", make_wav(comment="From the box."))
    job = await client.transcriptions.submit_and_wait(
        content_container_url=audio_server.url("box"), locale="en-US", policy=POLICY
    )
    assert [r.text async for r in client.transcriptions.results(job)] == ["From the box."]
    with pytest.raises(BadRequestError) as info:
        await client.transcriptions.submit(dataset=str(uuid.uuid4()), locale="en-US")
    assert info.value.inner_code == "InvalidDataset"
    request = [r for r in emulator.requests if r.path.endswith(":submit")][-1]
    assert request.method == "POST"


# -- wait_many -----------------------------------------------------------------------------


async def test_wait_many_yields_every_job_including_failed_and_gone(
    client: SpeechClient,
    wav_url,
    audio_server,  # noqa: F811
) -> None:
    good = [
        await client.transcriptions.submit(content_urls=[wav_url(f"{i}.wav")], locale="en-US")
        for i in range(4)
    ]
    bad = await client.transcriptions.submit(
        content_urls=[audio_server.url("nowhere.wav")], locale="en-US"
    )
    gone = str(uuid.uuid4())
    refs: list[Any] = [good[0], good[1].id, good[2].self_, good[3], bad.id, gone, good[0].id]
    outcomes: dict[str, WaitOutcome[Transcription]] = {}
    async with client.transcriptions.wait_many(refs, concurrency=2, policy=POLICY) as stream:
        async for outcome in stream:
            assert outcome.id not in outcomes  # each job once, duplicates included
            outcomes[outcome.id] = outcome
    assert set(outcomes) == {j.id for j in good} | {bad.id, gone}
    assert all(outcomes[j.id].ok for j in good)
    assert all(outcomes[j.id].entity.status == Status.SUCCEEDED for j in good)  # type: ignore[union-attr]
    failed = outcomes[bad.id]
    assert not failed.ok and isinstance(failed.error, TranscriptionFailedError)
    assert failed.error.code == "InvalidRecordingsUri"
    assert failed.entity is not None and failed.entity.status == Status.FAILED
    assert isinstance(outcomes[gone].error, NotFoundError) and outcomes[gone].entity is None


async def test_wait_many_resumes_from_ids_in_a_new_client(
    emulator: SpeechEmulator, wav_url
) -> None:
    async with SpeechClient(emulator.endpoint, key=emulator.key) as first:
        jobs = [
            await first.transcriptions.submit(content_urls=[wav_url(f"{i}.wav")], locale="en-US")
            for i in range(3)
        ]
    ids = [j.id for j in jobs]  # all a new process needs
    async with (
        SpeechClient(emulator.endpoint, key=emulator.key) as second,
        second.transcriptions.wait_many(ids, policy=POLICY) as stream,
    ):
        done = [o async for o in stream]
    assert sorted(o.id for o in done) == sorted(ids) and all(o.ok for o in done)


async def test_wait_many_survives_transient_poll_failures(
    client: SpeechClient, emulator: SpeechEmulator, wav_url
) -> None:
    job = await client.transcriptions.submit(content_urls=[wav_url("a.wav")], locale="en-US")
    # More failures in a row than the transport retries within one call.
    emulator.faults.add(Fault.unavailable(retry_after=0), operation="Transcriptions_Get", times=6)
    policy = PollPolicy(initial_interval=0.01, min_interval=0.01, max_interval=0.05)
    quick = client.with_options(max_retries=1)
    async with quick.transcriptions.wait_many([job], policy=policy) as stream:
        (outcome,) = [o async for o in stream]
    assert outcome.ok and emulator.faults.injected["http_503"] == 6


async def test_wait_many_raises_when_credentials_are_refused(
    emulator: SpeechEmulator, wav_url
) -> None:
    async with SpeechClient(emulator.endpoint, key="wrong") as client:
        with pytest.raises(AuthenticationError):
            async with client.transcriptions.wait_many([str(uuid.uuid4())], policy=POLICY) as s:
                async for _ in s:
                    pass


async def test_leaving_wait_many_early_stops_polling(
    client: SpeechClient, emulator: SpeechEmulator, wav_url
) -> None:
    # A job reads the timing as it goes: the slow one is slow from its start, the quick one
    # has the quick timing all along.
    emulator.state.timing = Timing(queue_delay=60, run_time=60, retry_after=0)
    slow = await client.transcriptions.submit(content_urls=[wav_url("b.wav")], locale="en-US")
    emulator.state.timing = FAST
    quick = await client.transcriptions.submit(content_urls=[wav_url("a.wav")], locale="en-US")
    async with client.transcriptions.wait_many([quick, slow], policy=POLICY) as stream:
        async for outcome in stream:
            assert outcome.id == quick.id
            break
    polls = len(emulator.requests)
    await anyio.sleep(0.2)
    assert len(emulator.requests) == polls


async def test_wait_many_checks_its_arguments(client: SpeechClient) -> None:
    with pytest.raises(InvalidInputError, match="concurrency"):
        client.transcriptions.wait_many([], concurrency=0)
    with pytest.raises(InvalidInputError, match="use wait"):
        client.transcriptions.wait_many(str(uuid.uuid4()))
    with pytest.raises(InvalidInputError, match="UUID"):
        client.transcriptions.wait_many(["nope"])
    async with client.transcriptions.wait_many([]) as stream:
        assert [o async for o in stream] == []
