from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from speechrest import SpeechClient
from speechrest._upload import MAX_BLOCK_SIZE, file_blocks
from speechrest.errors import (
    BadRequestError,
    InvalidInputError,
    NotFoundError,
    OperationFailedError,
)
from speechrest.resources.datasets import block_id
from speechrest.testing import Fault, SpeechEmulator
from speechrest.types import BlockKind, CommitBlocksEntry, DatasetKind, FileKind, Status
from tests.audio_server import AudioServer
from tests.resources.custom_speech import FAST, POLL, acoustic_zip, language_text, ready_dataset

pytestmark = pytest.mark.anyio

KIB = 1024


@pytest.fixture
async def emulator() -> AsyncIterator[SpeechEmulator]:
    async with SpeechEmulator(timing=FAST) as emu:
        yield emu


def _puts(emulator: SpeechEmulator) -> list[Any]:
    return [r for r in emulator.requests if r.method == "PUT" and r.path.endswith("/blocks")]


async def _download(url: str) -> bytes:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.status == 200
        return await resp.read()


async def test_upload_in_blocks_then_process(
    client: SpeechClient, emulator: SpeechEmulator, tmp_path: Path
) -> None:
    lines = [f"line {i} of a language dataset for custom speech" for i in range(6000)]
    data = ("\n".join(lines) + "\n").encode()
    path = tmp_path / "language.txt"
    path.write_bytes(data)
    progress: list[int] = []

    dataset = await client.datasets.upload(
        path,
        display_name="words",
        locale="en-US",
        kind="Language",
        description="uploaded",
        custom_properties={"source": "test"},
        block_size=64 * KIB,
        concurrency=3,
        on_progress=progress.append,
    )
    assert dataset.kind == DatasetKind.LANGUAGE
    assert dataset.content_url is None
    assert dataset.links is not None and dataset.links.upload_blocks is not None

    puts = _puts(emulator)
    blocks = -(-len(data) // (64 * KIB))
    assert blocks > 4
    assert len(puts) == blocks
    ids = [r.query["blockid"] for r in puts]
    assert len({len(i) for i in ids}) == 1  # the same length for every block
    assert sorted(ids) == sorted(block_id(i) for i in range(blocks))
    assert all(r.headers["content-type"] == "application/octet-stream" for r in puts)
    assert progress == sorted(progress) and progress[-1] == len(data) and len(progress) == blocks

    done = await client.datasets.wait(dataset, policy=POLL)
    assert done.status == Status.SUCCEEDED
    assert done.properties is not None
    assert done.properties.accepted_line_count == len(lines)
    assert done.properties.rejected_line_count == 0

    uploaded = await client.datasets.get_blocks(dataset)
    assert [b.name for b in uploaded.committed_blocks or []] == [block_id(i) for i in range(blocks)]
    assert sum(b.size or 0 for b in uploaded.committed_blocks or []) == len(data)

    files = {f.kind: f async for f in client.datasets.list_files(dataset)}
    assert set(files) == {FileKind.LANGUAGE_DATA, FileKind.DATASET_REPORT}
    language = files[FileKind.LANGUAGE_DATA]
    assert language.links is not None and language.links.content_url is not None
    assert await _download(language.links.content_url) == data  # blocks assembled in order
    report = await client.datasets.get_file(
        dataset, files[FileKind.DATASET_REPORT], sas_lifetime_minutes=5
    )
    assert report.links is not None and report.links.content_url is not None
    assert json.loads(await _download(report.links.content_url))["acceptedLineCount"] == 6000


async def test_default_block_size_is_8_mib(tmp_path: Path) -> None:
    assert MAX_BLOCK_SIZE == 8 * 1024 * 1024
    path = tmp_path / "big.bin"
    with path.open("wb") as f:
        f.truncate(2 * MAX_BLOCK_SIZE + 10)
    blocks = file_blocks(path)
    assert [b.size for b in blocks] == [MAX_BLOCK_SIZE, MAX_BLOCK_SIZE, 10]
    assert [b.offset for b in blocks] == [0, MAX_BLOCK_SIZE, 2 * MAX_BLOCK_SIZE]
    assert all(b.body.length == b.size and b.body.replayable for b in blocks)
    with pytest.raises(InvalidInputError, match="8 MiB"):
        file_blocks(path, MAX_BLOCK_SIZE + 1)


async def test_default_upload_sends_blocks_of_at_most_8_mib(
    client: SpeechClient, emulator: SpeechEmulator, tmp_path: Path
) -> None:
    line = b"a line of text for a language model\n"
    data = line * (MAX_BLOCK_SIZE // len(line) + 1000)
    path = tmp_path / "big.txt"
    path.write_bytes(data)
    dataset = await client.datasets.upload(
        path, display_name="big", locale="en-US", kind="Language"
    )
    assert len(_puts(emulator)) == 2
    uploaded = await client.datasets.get_blocks(dataset)
    sizes = [b.size for b in uploaded.committed_blocks or []]
    assert sizes == [MAX_BLOCK_SIZE, len(data) - MAX_BLOCK_SIZE]
    done = await client.datasets.wait(dataset, policy=POLL)
    assert done.properties is not None
    assert done.properties.accepted_line_count == len(data) // len(line)


async def test_a_failed_block_is_sent_again(tmp_path: Path) -> None:
    emulator = SpeechEmulator(timing=FAST)
    # The whole block arrives, then the service fails, once.
    failed = emulator.faults.add(
        Fault.unavailable(retry_after=0),
        operation="Datasets_UploadBlock",
        query={"blockid": block_id(2)},
    )
    data = language_text(4000)
    path = tmp_path / "data.txt"
    path.write_bytes(data)
    async with emulator, SpeechClient(emulator.endpoint, key=emulator.key) as client:
        dataset = await client.datasets.upload(
            path, display_name="retried", locale="en-US", kind="Language", block_size=16 * KIB
        )
        blocks = -(-len(data) // (16 * KIB))
        assert failed.injected == 1
        assert len(_puts(emulator)) == blocks + 1
        done = await client.datasets.wait(dataset, policy=POLL)
        [language] = [
            f async for f in client.datasets.list_files(done) if f.kind == FileKind.LANGUAGE_DATA
        ]
        assert language.links is not None and language.links.content_url is not None
        assert await _download(language.links.content_url) == data


async def test_a_failed_upload_deletes_its_dataset(tmp_path: Path) -> None:
    emulator = SpeechEmulator(timing=FAST)
    emulator.faults.add(
        Fault.http_status(400, code="InvalidRequest", message="no"),
        operation="Datasets_UploadBlock",
        query={"blockid": block_id(1)},
        times=None,
    )
    path = tmp_path / "data.txt"
    path.write_bytes(language_text(2000))
    async with emulator, SpeechClient(emulator.endpoint, key=emulator.key) as client:
        with pytest.raises(BadRequestError):
            await client.datasets.upload(
                path, display_name="x", locale="en-US", kind="Language", block_size=8 * KIB
            )
        assert [d async for d in client.datasets.list()] == []
        assert any(r.method == "DELETE" for r in emulator.requests)


async def test_create_from_content_url(client: SpeechClient) -> None:
    async with AudioServer() as server:
        url = server.add("data/acoustic.zip", acoustic_zip())
        dataset = await client.datasets.create(
            display_name="acoustic", locale="en-US", kind=DatasetKind.ACOUSTIC, content_url=url
        )
        assert dataset.status == Status.NOT_STARTED
        assert dataset.content_url == url
        seen: list[Status | None] = []
        done = await client.datasets.wait(
            dataset.id, policy=POLL, on_status=lambda d: seen.append(d.status)
        )
    assert seen[-1] == Status.SUCCEEDED and Status.RUNNING in seen
    assert done.properties is not None
    assert done.properties.accepted_line_count == 3
    assert done.properties.duration_ms == 750
    kinds = [
        f.kind async for f in client.datasets.list_files(done, filter="kind eq 'DatasetReport'")
    ]
    assert kinds == [FileKind.DATASET_REPORT]


async def test_unreadable_content_url_fails_the_dataset(client: SpeechClient) -> None:
    async with AudioServer() as server:
        dataset = await client.datasets.create(
            display_name="missing",
            locale="en-US",
            kind="Language",
            content_url=server.url("nothing/here.txt"),
        )
        with pytest.raises(OperationFailedError) as info:
            await client.datasets.wait(dataset, policy=POLL)
    assert info.value.code == "DataImportFailed"
    assert info.value.entity.status == Status.FAILED


async def test_bad_content_fails_the_dataset(client: SpeechClient, tmp_path: Path) -> None:
    with pytest.raises(OperationFailedError) as info:
        await ready_dataset(client, tmp_path, kind="Acoustic", data=b"not a zip archive")
    assert "zip" in (info.value.message or "")


async def test_manual_blocks(client: SpeechClient) -> None:
    dataset = await client.datasets.create(display_name="manual", locale="en-US", kind="Language")
    first, second = base64.b64encode(b"b-1").decode(), base64.b64encode(b"b-2").decode()
    await client.datasets.upload_block(dataset, second, b"second line\n")
    await client.datasets.upload_block(dataset, first, b"first line\n")
    uploaded = await client.datasets.get_blocks(dataset)
    assert {(b.name, b.size) for b in uploaded.uncommitted_blocks or []} == {
        (first, 11),
        (second, 12),
    }
    with pytest.raises(BadRequestError) as info:
        await client.datasets.commit_blocks(dataset, [first, base64.b64encode(b"b-3").decode()])
    assert info.value.code == "InvalidArgument"
    await client.datasets.commit_blocks(
        dataset, [CommitBlocksEntry(kind=BlockKind.LATEST, id=first), second]
    )
    done = await client.datasets.wait(dataset, policy=POLL)
    assert done.properties is not None and done.properties.accepted_line_count == 2


async def test_list_pages_and_filters(client: SpeechClient, emulator: SpeechEmulator) -> None:
    for i, kind in enumerate(["Language", "Acoustic", "Language", "Pronunciation", "Language"]):
        await client.datasets.create(display_name=f"d{i}", locale="en-US", kind=kind)
    pages = [p async for p in client.datasets.list(top=2).by_page()]
    assert [len(p.values) for p in pages] == [2, 2, 1]
    assert [d.display_name for p in pages for d in p.values] == [f"d{i}" for i in range(5)]
    lists = [
        r for r in emulator.requests if r.path == "/speechtotext/datasets" and r.method == "GET"
    ]
    assert [r.query.get("skip") for r in lists] == [None, "2", "4"]
    assert all(r.query["top"] == "2" for r in lists)
    language = [d.display_name async for d in client.datasets.list(filter="kind eq 'Language'")]
    assert language == ["d0", "d2", "d4"]


async def test_update_get_delete(client: SpeechClient, emulator: SpeechEmulator) -> None:
    project = await client.projects.create(display_name="p", locale="en-US")
    dataset = await client.datasets.create(display_name="before", locale="en-US", kind="Language")
    updated = await client.datasets.update(
        dataset.self_ or "", display_name="after", project=project.id, custom_properties={"a": "1"}
    )
    assert updated.display_name == "after"
    assert updated.project is not None and updated.project.id == project.id
    assert updated.custom_properties == {"a": "1"}
    patch = emulator.requests[-1]
    assert patch.method == "PATCH"
    assert patch.headers["content-type"] == "application/merge-patch+json"
    assert (await client.datasets.get(dataset)).display_name == "after"
    await client.datasets.delete(dataset)
    await client.datasets.delete(dataset)  # deleting again is fine
    with pytest.raises(NotFoundError):
        await client.datasets.get(dataset)


async def test_supported_locales_are_keyed_by_kind(client: SpeechClient) -> None:
    locales = await client.datasets.list_supported_locales()
    assert set(locales) == set(DatasetKind)
    assert "en-US" in locales[DatasetKind.LANGUAGE]


async def test_create_errors_from_the_service(client: SpeechClient) -> None:
    with pytest.raises(BadRequestError) as info:
        await client.datasets.create(display_name="x", locale="xx-XX", kind="Language")
    assert info.value.inner_code == "InvalidLocale"
    with pytest.raises(BadRequestError) as info:
        await client.datasets.create(
            display_name="x",
            locale="en-US",
            kind="Language",
            project="00000000-0000-0000-0000-000000000001",
        )
    assert info.value.inner_code == "InvalidProject"


async def test_emulator_block_limits(emulator: SpeechEmulator, client: SpeechClient) -> None:
    dataset = await client.datasets.create(display_name="raw", locale="en-US", kind="Language")
    url = f"{emulator.endpoint}/speechtotext/datasets/{dataset.id}/blocks"
    headers = {
        "Ocp-Apim-Subscription-Key": emulator.key,
        "Content-Type": "application/octet-stream",
    }
    async with aiohttp.ClientSession(headers=headers) as session:
        query = {"api-version": "2025-10-15", "blockid": block_id(0)}
        too_big = io.BytesIO(b"x" * (MAX_BLOCK_SIZE + 1))  # (a file object: aiohttp streams it)
        async with session.put(url, params=query, data=too_big) as resp:
            assert resp.status == 413
        async with session.put(url, params={**query, "blockid": "AAA="}, data=b"x") as resp:
            assert resp.status == 201
        async with session.put(url, params={**query, "blockid": "AAAAAA=="}, data=b"x") as resp:
            assert resp.status == 400  # block ids of one dataset must have the same length
            assert (await resp.json())["innerError"]["code"] == "InvalidParameterValue"
        async with session.get(
            f"{emulator.endpoint}/speechtotext/datasets/not-a-uuid",
            params={"api-version": "2025-10-15"},
        ) as resp:
            assert resp.status == 404


async def test_retry_after_while_processing(tmp_path: Path) -> None:
    async with SpeechEmulator() as emulator:  # default timing: still queued when fetched
        async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
            dataset = await client.datasets.create(
                display_name="r", locale="en-US", kind="Language"
            )
        url = f"{emulator.endpoint}/speechtotext/datasets/{dataset.id}"
        headers = {"Ocp-Apim-Subscription-Key": emulator.key}
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            session.get(url, params={"api-version": "2025-10-15"}) as resp,
        ):
            assert resp.headers["Retry-After"] == "1"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda c, p: c.datasets.upload(p / "missing.txt", **_OK), "not found"),
        (lambda c, p: c.datasets.upload(p, **_OK), "directory"),
        (lambda c, p: c.datasets.upload(_empty(p), **_OK), "empty"),
        (lambda c, p: c.datasets.upload(_file(p), block_size=0, **_OK), "block_size"),
        (lambda c, p: c.datasets.upload(_file(p), concurrency=0, **_OK), "concurrency"),
        (lambda c, p: c.datasets.upload(_file(p), **{**_OK, "kind": "Audio"}), "kind"),
        (lambda c, p: c.datasets.upload(_file(p), **{**_OK, "locale": ""}), "locale"),
        (lambda c, p: c.datasets.upload(_file(p), **{**_OK, "display_name": " "}), "display_name"),
        (lambda c, p: c.datasets.create(content_url="ftp://x/y", **_OK), "content_url"),
        (lambda c, p: c.datasets.create(project="nope", **_OK), "project"),
        (lambda c, p: c.datasets.create(custom_properties={"k" * 65: "v"}, **_OK), "64"),
        (lambda c, p: c.datasets.create(custom_properties={"k": "v" * 257}, **_OK), "256"),
        (
            lambda c, p: c.datasets.create(
                custom_properties={str(i): "v" for i in range(11)}, **_OK
            ),
            "10",
        ),
        (lambda c, p: c.datasets.get("12345"), "UUID"),
        (lambda c, p: c.datasets.update(_ID), "nothing to update"),
        (lambda c, p: c.datasets.upload_block(_ID, "AAA=", b""), "block"),
        (lambda c, p: c.datasets.upload_block(_ID, "not base64!", b"x"), "Base64"),
        (lambda c, p: c.datasets.commit_blocks(_ID, []), "non-empty"),
        (lambda c, p: c.datasets.get_file(_ID, "x"), "UUID"),
        (lambda c, p: c.datasets.list_files(_ID, sas_lifetime_minutes=-1).to_list(), "sas"),
        (lambda c, p: c.datasets.list(top=0).to_list(), "top"),
        (lambda c, p: c.datasets.list(filter="").to_list(), "filter"),
    ],
)
async def test_bad_input_sends_nothing(
    client: SpeechClient, emulator: SpeechEmulator, tmp_path: Path, call: Any, match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        await call(client, tmp_path)
    assert len(emulator.requests) == 0


_OK: dict[str, Any] = {"display_name": "d", "locale": "en-US", "kind": "Language"}
_ID = "9d5f4100-5f8e-4dd6-bd83-9bbbf50d57f1"


def _empty(tmp: Path) -> Path:
    path = tmp / "empty.txt"
    path.write_bytes(b"")
    return path


def _file(tmp: Path) -> Path:
    path = tmp / "data.txt"
    path.write_bytes(b"hello\n")
    return path


def test_block_ids_have_one_length() -> None:
    ids = [block_id(i) for i in (0, 9, 10, 99_999, 9_999_999)]
    assert len({len(i) for i in ids}) == 1
    assert all(len(base64.b64decode(i)) <= 64 for i in ids)


async def test_web_hook_events(client: SpeechClient, emulator: SpeechEmulator) -> None:
    events: list[tuple[str, str]] = []

    async def listen(kind: str, url: str) -> None:
        events.append((kind, url))

    emulator.state.listeners.append(listen)
    async with AudioServer() as server:
        url = server.add("text.txt", language_text())
        dataset = await client.datasets.create(
            display_name="events", locale="en-US", kind="Language", content_url=url
        )
        await client.datasets.wait(dataset, policy=POLL)
    await client.datasets.delete(dataset)
    assert [k for k, _ in events] == [
        "datasetCreation",
        "datasetProcessing",
        "datasetCompletion",
        "datasetDeletion",
    ]
    assert {u for _, u in events} == {dataset.self_}
