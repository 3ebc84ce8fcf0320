"""speechrest.storage against Azurite (real Blob Storage) and the emulator (the Speech
service): upload, submit, wait, results mapped back to local files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from speechrest import SpeechClient
from speechrest.errors import InvalidInputError, StorageError
from speechrest.testing import DownloadLimits, SpeechEmulator, Timing, make_wav
from tests.azurite import ACCOUNT, KEY, Azurite

storage = pytest.importorskip("azure.storage.blob")
from speechrest.storage import (  # noqa: E402
    SOURCE_NEEDS,
    FileResults,
    StorageProgress,
    check_sas,
    transcribe_files,
    upload_files,
)

pytestmark = pytest.mark.anyio
FAST = Timing(queue_delay=0.01, run_time=0.01)


@pytest.fixture
async def emulator() -> AsyncIterator[SpeechEmulator]:
    async with SpeechEmulator(timing=FAST) as emu:
        yield emu


@pytest.fixture
async def speech(emulator: SpeechEmulator) -> AsyncIterator[SpeechClient]:
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        yield client


def _folder(root: Path, count: int) -> dict[Path, str]:
    """``count`` WAVs of mixed sizes in nested folders; each one's transcript."""
    texts: dict[Path, str] = {}
    for i in range(count):
        path = root / f"day{i % 3}" / f"call {i:02d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        # 0.2 s to ~2.5 s, and two over the 4 MiB single-request size (uploaded in blocks).
        seconds = 140.0 if i in (7, 31) else 0.2 + (i % 8) * 0.3
        text = f"Call number {i}."
        path.write_bytes(make_wav(seconds=seconds, comment=text))
        texts[path] = text
    (root / "notes.txt").write_text("not audio")
    return texts


def _check(results: FileResults, texts: dict[Path, str]) -> None:
    assert set(results) == set(texts)
    for path, text in texts.items():
        outcome = results[path]
        assert outcome.ok, (path, outcome.error)
        assert outcome.result is not None and outcome.result.text == text


async def test_a_folder_goes_through_upload_submit_wait_and_results(
    azurite: Azurite, speech: SpeechClient, emulator: SpeechEmulator, tmp_path: Path
) -> None:
    texts = _folder(tmp_path / "calls", 50)
    name = await azurite.create()
    container = azurite.sas_url(name, "rlw")
    seen: list[StorageProgress] = []
    results = await transcribe_files(
        speech,
        tmp_path / "calls",
        container=container,
        locale="en-US",
        files_per_job=20,
        on_progress=seen.append,
    )
    _check(results, texts)
    assert len(results.jobs) == 3  # 20 + 20 + 10 files
    blobs = await azurite.blobs(name)
    assert sorted(blobs) == sorted(p.relative_to(tmp_path / "calls").as_posix() for p in texts)
    assert blobs["day1/call 07.wav"] == (tmp_path / "calls/day1/call 07.wav").read_bytes()
    last = seen[-1]
    assert (last.files, last.files_uploaded, last.files_skipped) == (50, 50, 0)
    assert last.bytes_uploaded == last.bytes == sum(p.stat().st_size for p in texts)
    assert (last.jobs, last.jobs_done) == (3, 3)
    assert [s.stage for s in seen].index("submit") < [s.stage for s in seen].index("wait")

    # A second run finds every blob there with the same content: nothing is uploaded.
    seen.clear()
    again = await transcribe_files(
        speech, tmp_path / "calls", container=container, locale="en-US", on_progress=seen.append
    )
    _check(again, texts)
    assert (seen[-1].files_uploaded, seen[-1].files_skipped, seen[-1].bytes) == (0, 50, 0)
    assert len(again.jobs) == 1
    # A changed file is uploaded again, alone.
    changed = tmp_path / "calls/day0/call 00.wav"
    changed.write_bytes(make_wav(seconds=1, comment="Changed."))
    uploaded = await upload_files(tmp_path / "calls", container=container)
    assert [u.path for u in uploaded if u.uploaded] == [changed]


async def test_results_land_in_the_destination_container_and_are_read_back(
    azurite: Azurite, speech: SpeechClient, wav_file
) -> None:
    paths = [wav_file(f"{n}.wav", text=f"{n.title()}.") for n in ("one", "two", "three")]
    source, destination = await azurite.create(), await azurite.create()
    results = await transcribe_files(
        speech,
        paths,
        container=azurite.sas_url(source, "rlwd"),
        destination_container=azurite.sas_url(destination, "rw"),
        delete_uploaded=True,
        locale="en-US",
    )
    assert {p.name: o.result.text for p, o in results.items() if o.result} == {
        "one.wav": "One.",
        "two.wav": "Two.",
        "three.wav": "Three.",
    }
    (job,) = results.jobs
    written = await azurite.blobs(destination)
    assert sorted(written) == sorted(
        [f"{job.id}/contenturl_{i}.json" for i in range(3)] + [f"{job.id}/report.json"]
    )
    # The service lists them by their plain URL in the destination container (no SAS).
    files = [f async for f in speech.transcriptions.list_files(job)]
    assert all(
        f.links and f.links.content_url and f.links.content_url.startswith(azurite.endpoint)
        for f in files
    )
    assert all("sig=" not in (f.links.content_url or "") for f in files if f.links)
    assert await azurite.blobs(source) == {}  # delete_uploaded


async def test_a_container_client_with_a_key_gets_read_only_blob_links(
    azurite: Azurite, speech: SpeechClient, wav_file
) -> None:
    from azure.storage.blob.aio import ContainerClient

    name = await azurite.create()
    path = wav_file("a.wav", text="Hello.")
    async with ContainerClient(
        azurite.endpoint, name, credential={"account_name": ACCOUNT, "account_key": KEY}
    ) as client:
        (uploaded,) = await upload_files([path], container=client)
        query = parse_qs(urlsplit(uploaded.url).query)
        assert query["sp"] == ["r"] and query["sr"] == ["b"]
        results = await transcribe_files(speech, [path], container=client, locale="en-US")
    assert results[path].result is not None and results[path].result.text == "Hello."


async def test_a_sas_without_list_is_refused_before_any_upload(
    azurite: Azurite, speech: SpeechClient, emulator: SpeechEmulator, wav_file
) -> None:
    name = await azurite.create()
    with pytest.raises(InvalidInputError, match=r"without l:.*lists the container.*sp=rlw"):
        await transcribe_files(
            speech, [wav_file()], container=azurite.sas_url(name, "rw"), locale="en-US"
        )
    assert await azurite.blobs(name) == {}
    assert not [r for r in emulator.requests if r.path.startswith("/speechtotext")]


async def test_a_sas_expiring_within_the_queue_window_is_refused_before_any_upload(
    azurite: Azurite, speech: SpeechClient, emulator: SpeechEmulator, wav_file
) -> None:
    name = await azurite.create()
    short = azurite.sas_url(name, "rlw", expires_in=timedelta(minutes=20))
    with pytest.raises(InvalidInputError, match=r"expires in 0h(19|20)m.*30 minutes.*24h30m"):
        await transcribe_files(speech, [wav_file()], container=short, locale="en-US")
    assert await azurite.blobs(name) == {}
    assert not emulator.requests
    # A destination container's SAS is held to the same rule.
    with pytest.raises(InvalidInputError, match=r"destination container URL.*expires in"):
        await transcribe_files(
            speech,
            [wav_file()],
            container=azurite.sas_url(name, "rlw"),
            destination_container=azurite.sas_url(name, "rw", expires_in=timedelta(hours=2)),
            locale="en-US",
        )
    assert await azurite.blobs(name) == {}


async def test_a_missing_container_is_reported_before_any_upload(
    azurite: Azurite, speech: SpeechClient, emulator: SpeechEmulator, wav_file
) -> None:
    missing = azurite.sas_url(azurite.new_name(), "rlw")
    with pytest.raises(StorageError, match=r"does not exist") as caught:
        await transcribe_files(speech, [wav_file()], container=missing, locale="en-US")
    assert caught.value.status == 404 and caught.value.code == "ContainerNotFound"
    assert "sig=" not in str(caught.value) or "REDACTED" in str(caught.value)
    assert not emulator.requests


async def test_a_container_source_larger_than_one_listing_page_is_fully_transcribed(
    azurite: Azurite, wav_file
) -> None:
    name = await azurite.create()
    async with azurite.service() as service:
        container = service.get_container_client(name)
        for i in range(12):
            await container.upload_blob(f"in/{i:02d}.wav", make_wav(seconds=0.3, comment=f"N{i}."))
    limits = DownloadLimits(container_page_size=5)  # Blob Storage pages of 5: three pages
    async with (
        SpeechEmulator(timing=FAST, download_limits=limits) as emu,
        SpeechClient(emu.endpoint, key=emu.key) as client,
    ):
        job = await client.transcriptions.submit_and_wait(
            content_container_url=azurite.sas_url(name, "rl"), locale="en-US"
        )
        results = {r.source: r.text async for r in client.transcriptions.results(job)}
        assert results == {
            azurite.container_url(name) + f"/in/{i:02d}.wav": f"N{i}." for i in range(12)
        }
        # Without l, Blob Storage refuses the listing, and the job fails as the service's would.
        failed = await client.transcriptions.submit(
            content_container_url=azurite.sas_url(name, "r"), locale="en-US"
        )
        async with client.transcriptions.wait_many([failed]) as outcomes:
            (outcome,) = [o async for o in outcomes]
        assert outcome.error is not None and "403" in str(outcome.error)


@pytest.mark.parametrize(
    ("query", "match"),
    [
        ("sv=2025-11-05&se=2099-01-01T00:00:00Z&sp=rlw&sr=b&sig=x", r"sr=c"),
        ("sv=2025-11-05&se=2099-01-01T00:00:00Z&sp=rlw&sr=c", r"no SAS token"),
        ("sv=2025-11-05&se=2000-01-01T00:00:00Z&sp=rlw&sr=c&sig=x", r"has expired"),
        ("sv=2025-11-05&se=2099-01-01T00:00:00Z&sp=rlw&sr=c&spr=https&sig=x", r"https-only"),
        ("sv=2025-11-05&se=2099-01-01T00:00:00Z&sp=rw&sr=c&sig=x", r"without l: speechrest lists"),
        ("sv=2025-11-05&se=2099-01-01&st=2098-01-01&sp=rlw&sr=c&sig=x", r"not valid before"),
    ],
)
def test_check_sas_says_what_to_change(query: str, match: str) -> None:
    url = f"http://127.0.0.1:1/acct/box?{query}"
    with pytest.raises(InvalidInputError, match=match) as caught:
        check_sas(url, permissions="rlw", needs=SOURCE_NEEDS)
    assert "sig=x" not in str(caught.value)


def test_check_sas_accepts_an_account_sas_and_a_stored_policy() -> None:
    account = "ss=b&srt=co&sp=rlw&se=2099-01-01T00:00:00Z&sv=2025-11-05&sig=x"
    check_sas(f"https://a.blob.core.windows.net/box?{account}", permissions="rlw")
    check_sas("https://a.blob.core.windows.net/box?si=policy&sr=c&sig=x", permissions="rlw")
    with pytest.raises(InvalidInputError, match=r"stored access policy"):
        check_sas(
            "https://a.blob.core.windows.net/box?si=policy&sr=c&sig=x",
            permissions="rw",
            stored_policy=False,
        )
