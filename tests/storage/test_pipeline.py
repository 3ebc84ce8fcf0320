"""speechrest.pipeline.run_corpus and ``speechrest batch run``: a corpus through batch
transcription, against the emulator and Azurite: sharding, one output per input, bad input
reported up front, retries in new jobs, resuming after an interrupted submission, reports."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from speechrest import PollPolicy, SpeechClient
from speechrest.errors import InvalidInputError
from speechrest.pipeline import PipelineProgress, run_corpus
from speechrest.testing import Fault, FaultPlan, SpeechEmulator, Timing, make_wav
from tests.azurite import Azurite

pytest.importorskip("azure.storage.blob")

pytestmark = pytest.mark.anyio

FAST = Timing(queue_delay=0.05, run_time=0.05, retry_after=0)
POLL = PollPolicy(initial_interval=0.05, max_interval=0.2)


def corpus(root: Path, count: int, *, prefix: str = "clip") -> dict[str, str]:
    """``count`` tiny WAVs, each with its own words; name -> words."""
    words = {}
    for i in range(count):
        name = f"{prefix}{i:03d}.wav"
        sub = root / ("even" if i % 2 == 0 else "odd")
        sub.mkdir(parents=True, exist_ok=True)
        text = f"Input number {i} of {prefix}."
        (sub / name).write_bytes(make_wav(seconds=0.1, comment=text))
        words[f"{sub.name}/{name}"] = text
    return words


async def container(azurite: Azurite, permission: str = "rlw") -> str:
    return azurite.sas_url(await azurite.create(), permission)


async def test_a_folder_is_sharded_transcribed_and_reported(azurite: Azurite, tmp_path: Path):
    words = corpus(tmp_path / "audio", 7)
    (tmp_path / "audio" / "notes.txt").write_text("not audio")
    (tmp_path / "audio" / "empty.wav").write_bytes(b"")
    (tmp_path / "audio" / "odd" / "copy.wav").write_bytes(
        (tmp_path / "audio" / "even" / "clip000.wav").read_bytes()
    )
    seen: list[PipelineProgress] = []
    box = await container(azurite)
    submits = FaultPlan()
    recording = submits.record(operation="Transcriptions_Submit")
    async with (
        SpeechEmulator(timing=FAST, faults=submits) as emulator,
        SpeechClient(emulator.endpoint, key=emulator.key) as client,
    ):
        report = await run_corpus(
            client,
            tmp_path / "audio",
            tmp_path / "out",
            locale="en-US",
            container=box,
            format="text",
            files_per_job=3,
            poll=POLL,
            on_progress=seen.append,
        )
        assert len(emulator.state.stores.transcriptions) == 0  # deleted once collected
    assert [len(r.json()["contentUrls"]) for r in recording.requests] == [3, 3, 1]
    assert len(report.succeeded) == 7 and report.failed == [] and report.jobs == 3
    for name, text in words.items():
        assert (tmp_path / "out" / name).with_suffix(".txt").read_text() == text + "\n"
    rejected = {Path(r.source).name: r.reason for r in report.rejected}
    assert set(rejected) == {"notes.txt", "empty.wav", "copy.wav"}
    assert "unsupported file type (extension .txt)" in (rejected["notes.txt"] or "")
    assert "empty" in (rejected["empty.wav"] or "")
    assert "duplicate: same content as" in (rejected["copy.wav"] or "")
    assert report.audio_hours == pytest.approx(7 * 0.1 / 3600)
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert (saved["inputs"], saved["succeeded"], saved["rejected"], saved["jobs"]) == (10, 7, 3, 3)
    assert seen[-1].stage == "done" and seen[-1].done == 7 and seen[-1].rejected == 3
    assert any(p.stage == "upload" for p in seen) and any(p.jobs_running for p in seen)
    db = sqlite3.connect(tmp_path / "out" / ".speechrest" / "state.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert "sig=" not in " ".join(r[0] for r in db.execute("SELECT source FROM inputs"))
    db.close()

    # The same command again: nothing to do, nothing submitted again.
    async with (
        SpeechEmulator(timing=FAST, faults=submits) as emulator,
        SpeechClient(emulator.endpoint, key=emulator.key) as client,
    ):
        again = await run_corpus(
            client, tmp_path / "audio", tmp_path / "out", locale="en-US",
            container=box, format="text", files_per_job=3, poll=POLL,
        )  # fmt: skip
    assert len(recording.requests) == 3
    assert len(again.succeeded) == 7


async def test_failed_inputs_are_retried_in_new_jobs_then_reported(
    azurite: Azurite, tmp_path: Path
):
    corpus(tmp_path / "audio", 4)
    (tmp_path / "audio" / "broken.wav").write_bytes(b"RIFF this is not audio at all")
    plan = FaultPlan()
    recording = plan.record(operation="Transcriptions_Submit")
    async with (
        SpeechEmulator(timing=FAST, faults=plan) as emulator,
        SpeechClient(emulator.endpoint, key=emulator.key) as client,
    ):
        report = await run_corpus(
            client, tmp_path / "audio", tmp_path / "out", locale="en-US",
            container=await container(azurite), files_per_job=10, max_attempts=3, poll=POLL,
        )  # fmt: skip
    sizes = [len(r.json()["contentUrls"]) for r in recording.requests]
    assert sizes == [5, 1, 1]  # the broken one alone in each retry
    [failed] = report.failed
    assert failed.source.endswith("broken.wav") and failed.attempts == 3
    assert failed.reason and "sig=" not in json.dumps(report.to_json()).replace("sig=REDACTED", "")
    assert len(report.succeeded) == 4
    assert json.loads((tmp_path / "out" / "even" / "clip000.json").read_text())["source"]


async def test_a_submission_whose_answer_was_lost_is_found_by_its_name(
    azurite: Azurite, tmp_path: Path
):
    """The service created the job but the answer never came (as for a process killed
    after its request): the run finds the job by its token and never submits it twice."""
    corpus(tmp_path / "audio", 3)
    plan = FaultPlan()
    plan.add(Fault.reset_during_response(), operation="Transcriptions_Submit")
    recording = plan.record(operation="Transcriptions_Submit")
    async with (
        SpeechEmulator(timing=FAST, faults=plan) as emulator,
        SpeechClient(emulator.endpoint, key=emulator.key) as client,
    ):
        report = await run_corpus(
            client, tmp_path / "audio", tmp_path / "out", locale="en-US",
            container=await container(azurite), submit_grace=0.2, poll=POLL,
            delete_jobs=False,
        )  # fmt: skip
        assert len(emulator.state.stores.transcriptions) == 1
    assert len(recording.requests) == 1
    assert len(report.succeeded) == 3 and report.jobs == 1


async def test_url_lists_and_container_sources(azurite: Azurite, tmp_path: Path):
    async with SpeechEmulator(timing=FAST) as emulator:
        urls = [
            emulator.serve_bytes(make_wav(seconds=0.1, comment=f"Served {i}."), f"s{i}.wav")
            for i in range(3)
        ]
        listing = tmp_path / "inputs.txt"
        (tmp_path / "folder.wav").mkdir()
        listing.write_text(
            "# served by the emulator\n"
            + "\n".join([*urls, urls[0], "ftp://x/y.wav", "missing.wav", "folder.wav", ""])
        )
        name = await azurite.create()
        async with azurite.service() as service:
            box = service.get_container_client(name)
            for i in range(2):
                blob = make_wav(seconds=0.1, comment=f"Blob {i}.")
                await box.upload_blob(f"in/b{i}.wav", blob)
            await box.upload_blob("in/readme.md", b"# hi")
        async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
            listed = await run_corpus(
                client, listing, tmp_path / "a", locale="en-US", format="text", poll=POLL
            )
            blobs = await run_corpus(
                client, azurite.sas_url(name, "rl"), tmp_path / "b", locale="en-US",
                format="text", poll=POLL,
            )  # fmt: skip
    assert [(tmp_path / "a" / f"s{i}.txt").read_text() for i in range(3)] == [
        f"Served {i}.\n" for i in range(3)
    ]
    reasons = {r.source.rsplit("/", 1)[-1]: r.reason or "" for r in listed.rejected}
    assert len(reasons) == 4 and "sig=" not in json.dumps(listed.to_json())
    assert reasons["s0.wav (#2)"] == "duplicate: listed more than once"
    assert reasons["ftp://x/y.wav".rsplit("/", 1)[-1]].startswith("unsupported URL scheme")
    assert reasons["missing.wav"] == "no such file"
    assert reasons["folder.wav"].startswith("cannot read it: Is a directory")
    assert (tmp_path / "b" / "in" / "b1.txt").read_text() == "Blob 1.\n"
    assert [r.source.rsplit("/", 1)[1] for r in blobs.rejected] == ["readme.md"]


async def test_bad_arguments_are_refused_before_any_request(azurite: Azurite, tmp_path: Path):
    corpus(tmp_path / "audio", 1)
    corpus(tmp_path / "nothing-else", 1)
    box = await container(azurite)
    async with (
        SpeechEmulator(timing=FAST) as emulator,
        SpeechClient(emulator.endpoint, key=emulator.key) as client,
    ):
        with pytest.raises(InvalidInputError, match="format must be one of"):
            await run_corpus(client, tmp_path / "audio", tmp_path / "o", locale="en-US",
                             format="docx")  # fmt: skip
        with pytest.raises(InvalidInputError, match="files_per_job"):
            await run_corpus(client, tmp_path / "audio", tmp_path / "o", locale="en-US",
                             files_per_job=1001)  # fmt: skip
        with pytest.raises(InvalidInputError, match="no such folder or list file"):
            await run_corpus(client, tmp_path / "nothing", tmp_path / "o", locale="en-US")
        with pytest.raises(InvalidInputError, match="need a blob container"):
            await run_corpus(client, tmp_path / "audio", tmp_path / "o", locale="en-US")
        with pytest.raises(InvalidInputError, match="time_to_live_hours"):
            await run_corpus(client, tmp_path / "audio", tmp_path / "o", locale="en-US",
                             container=box, time_to_live_hours=1)  # fmt: skip
        assert list(emulator.requests) == []
        with pytest.raises(InvalidInputError, match="holds a run of other settings"):
            await run_corpus(client, tmp_path / "nothing-else", tmp_path / "o", locale="en-US")

        # Options can still change while no job was submitted: the typo fixed, it runs.
        report = await run_corpus(client, tmp_path / "audio", tmp_path / "o", locale="en-US",
                                  container=box, poll=POLL)  # fmt: skip
        assert len(report.succeeded) == 1


async def test_one_process_at_a_time_in_a_folder(tmp_path: Path):
    from speechrest.pipeline._run import _locked

    with (
        _locked(tmp_path / "x"),
        pytest.raises(InvalidInputError, match="another process"),
        _locked(tmp_path / "x"),
    ):
        pass


async def test_refused_and_unanswered_submissions(azurite: Azurite, tmp_path: Path):
    """A submission the service refuses (400) costs its inputs an attempt and is tried
    again in a new job; one that fails without an answer that says it was not created (503
    after the retries) is looked up by its token, found missing, and submitted again without
    costing an attempt."""
    corpus(tmp_path / "audio", 2)
    plan = FaultPlan()
    plan.add(Fault.http_status(400, code="InvalidPayload"), operation="Transcriptions_Submit")
    plan.add(Fault.unavailable(retry_after=0), operation="Transcriptions_Submit")
    recording = plan.record(operation="Transcriptions_Submit")
    async with (
        SpeechEmulator(timing=FAST, faults=plan) as emulator,
        SpeechClient(emulator.endpoint, key=emulator.key) as client,
    ):
        report = await run_corpus(
            client.with_options(max_retries=0), tmp_path / "audio", tmp_path / "out",
            locale="en-US", container=await container(azurite), submit_grace=0.1, poll=POLL,
        )  # fmt: skip
        lookups = [r for r in emulator.requests if r.path.endswith("/transcriptions")]
    assert len(recording.requests) == 3
    assert len(lookups) == 1 and "displayName eq" in lookups[0].query["filter"]
    assert [i.attempts for i in report.succeeded] == [2, 2]
    assert report.jobs == 1


async def test_the_output_folder_is_not_the_source(tmp_path: Path):
    corpus(tmp_path / "audio", 1)
    async with (
        SpeechEmulator(timing=FAST) as emulator,
        SpeechClient(emulator.endpoint, key=emulator.key) as client,
    ):
        with pytest.raises(InvalidInputError, match="the output folder is the source folder"):
            await run_corpus(client, tmp_path / "audio", tmp_path / "audio", locale="en-US")


def test_output_names_stay_inside_the_output_folder():
    from speechrest.pipeline._sources import output_stem

    assert output_stem("calls/2024/a.wav") == "calls/2024/a"
    assert output_stem("../../etc/passwd.wav") == "etc/passwd"
    assert output_stem("/abs/p.wav") == "abs/p"
    assert output_stem("x\x1b[2J.wav") == "x_[2J"
    assert output_stem("..wav") == "audio"


async def test_a_job_whose_results_cannot_be_read_is_looked_at_again(
    azurite: Azurite, tmp_path: Path, monkeypatch
):
    """Its inputs stay in that job (never in a second one while it may be alive) until its
    results are read."""
    from speechrest.pipeline import _run

    monkeypatch.setattr(_run, "_PAUSE", 0.05)
    corpus(tmp_path / "audio", 2)
    plan = FaultPlan()
    plan.add(Fault.malformed_json(), operation="Transcriptions_ListFiles")
    recording = plan.record(operation="Transcriptions_Submit")
    async with (
        SpeechEmulator(timing=FAST, faults=plan) as emulator,
        SpeechClient(emulator.endpoint, key=emulator.key) as client,
    ):
        report = await run_corpus(
            client, tmp_path / "audio", tmp_path / "out", locale="en-US",
            container=await container(azurite), poll=POLL,
        )  # fmt: skip
    assert sum(plan.injected.values()) == 1
    assert len(recording.requests) == 1
    assert [i.attempts for i in report.succeeded] == [1, 1]


async def test_a_resumed_run_uploads_to_the_same_container(azurite: Azurite, tmp_path: Path):
    corpus(tmp_path / "audio", 1)
    async with (
        SpeechEmulator(timing=FAST) as emulator,
        SpeechClient(emulator.endpoint, key=emulator.key) as client,
    ):
        first = await container(azurite)
        args = (client, tmp_path / "audio", tmp_path / "out")
        await run_corpus(*args, locale="en-US", container=first, poll=POLL)
        renewed = azurite.sas_url(first.split("?")[0].rsplit("/", 1)[1], "rlw")
        again = await run_corpus(*args, locale="en-US", container=renewed, poll=POLL)
        assert len(again.succeeded) == 1
        with pytest.raises(InvalidInputError, match="this run uploads to the container"):
            await run_corpus(*args, locale="en-US", container=await container(azurite))


@pytest.mark.slow
def test_the_benchmark_runs(tmp_path: Path):
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_pipeline.py"
    done = subprocess.run(
        [sys.executable, str(script), "--inputs", "60"],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "peak REST requests in 10 s" in done.stdout and "| 60 | 60 |" in done.stdout


async def test_jobs_go_while_the_rest_uploads(azurite: Azurite, tmp_path: Path):
    corpus(tmp_path / "audio", 130)
    seen: list[PipelineProgress] = []
    async with (
        SpeechEmulator(timing=FAST) as emulator,
        SpeechClient(emulator.endpoint, key=emulator.key) as client,
    ):
        report = await run_corpus(
            client, tmp_path / "audio", tmp_path / "out", locale="en-US",
            container=await container(azurite), files_per_job=10, poll=POLL,
            on_progress=seen.append, concurrency=4,
        )  # fmt: skip
    assert len(report.succeeded) == 130 and report.jobs == 13
    assert any(p.stage == "upload" and p.jobs_running for p in seen)
