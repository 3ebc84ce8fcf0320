"""The pipeline's engine: scan, register, upload, submit in shards, wait by list sweeps,
collect results into one output per input, retry failed inputs in new jobs, report."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import os
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from .. import _checks as check
from .._limits import bounded_map, first_error
from .._redact import redact_url
from ..errors import (
    APIStatusError,
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    SpeechRestError,
    TranscriptionFailedError,
)
from ..types import Transcription, TranscriptionResultFile
from ._report import InputOutcome, PipelineProgress, PipelineReport
from ._sources import (
    Candidate,
    Rejected,
    is_url,
    output_stem,
    scan_local,
    sha256,
    suffix_problem,
)
from ._store import InputRow, ShardRow, Store

if TYPE_CHECKING:
    from .._client import SpeechClient
    from .._polling import PollPolicy, WaitOutcome

__all__ = ["Settings", "execute"]

log = logging.getLogger("speechrest.pipeline")

STATE_FOLDER = ".speechrest"
"""The folder of the run's state in its output folder (``state.db``, SQLite in WAL mode)."""
REPORT = "report.json"
"""The report's file name in the output folder."""
PARTIAL = "partial"
"""Outputs are written here, then moved into place: a reader never sees half of one, and
what a killed process left half-written is cleared when the run starts again."""
_RESERVED = {"report", STATE_FOLDER}
_PAUSE = 5.0
"""Seconds before a job whose state or results could not be read is looked at again."""
_MARKS_EVERY = 0.25
"""Seconds between progress reports while uploading."""

Progress = Callable[[PipelineProgress], object]
Render = Callable[[TranscriptionResultFile, str], list[tuple[str, str]]]


@attrs.frozen(kw_only=True)
class Settings:
    """A run's settings (checked by :func:`speechrest.pipeline.run_corpus`)."""

    source: str
    out: Path
    container: Any
    locale: str
    fmt: str
    prefix: str
    files_per_job: int
    max_attempts: int
    max_jobs: int | None
    submit_grace: float
    delete_jobs: bool
    poll: PollPolicy | None
    concurrency: int
    options: dict[str, Any]
    render: Render
    suffixes: frozenset[str]
    sas_lifetime: timedelta


def fingerprint(settings: Settings) -> dict[str, Any]:
    """What must not change between a run and its resumption (no secret in it)."""
    source = settings.source
    source = redact_url(source.split("?", 1)[0]) if is_url(source) else str(Path(source).resolve())
    options = json.loads(json.dumps(settings.options, default=str, sort_keys=True))
    return {"source": source, "locale": settings.locale, "format": settings.fmt, "options": options}


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Only one process runs in a folder at a time (the lock dies with the process)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "lock").open("a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InvalidInputError(
                f"another process is running in {folder.parent}: wait for it to end, or stop it"
            ) from None
        yield


class _Run:
    def __init__(
        self, client: SpeechClient, settings: Settings, store: Store, on_progress: Progress | None
    ) -> None:
        self.client = client
        self.s = settings
        self.store = store
        self.on_progress = on_progress
        self.stage = "scan"
        self.urls: dict[str, str] = {}
        """Source key -> URL with its SAS (URL and blob inputs), from this process's scan."""
        self.upload_box: Any = None
        self.source_box: Any = None
        self.uploaded = 0
        self.to_upload = 0
        self.uploading = False
        """Whether uploads are under way (jobs of uploaded files go meanwhile)."""
        self.uploads = anyio.Event()
        """Set when the uploads made inputs ready, or ended (then replaced)."""
        self.started = time.monotonic()
        self.finished_here = 0
        self.last_mark = 0.0
        self.run_id: str = ""

    # -- progress --------------------------------------------------------------------------

    def progress(self, *, force: bool = True) -> None:
        if self.on_progress is None:
            return
        now = time.monotonic()
        if not force and now - self.last_mark < _MARKS_EVERY:
            return
        self.last_mark = now
        counts = self.store.counts()
        live = len(self.store.shards("submitting", "running"))
        ended = len(self.store.shards("ended"))
        remaining = sum(counts.get(k, 0) for k in ("new", "ready", "queued"))
        elapsed = now - self.started
        eta = remaining * elapsed / self.finished_here if self.finished_here else None
        self.on_progress(
            PipelineProgress(
                stage=self.stage,
                inputs=sum(counts.values()),
                rejected=counts.get("rejected", 0),
                to_upload=self.to_upload - self.uploaded if self.stage == "upload" else 0,
                uploaded=self.uploaded,
                waiting=counts.get("ready", 0),
                in_jobs=counts.get("queued", 0),
                done=counts.get("done", 0),
                failed=counts.get("failed", 0),
                jobs_running=live,
                jobs_ended=ended,
                eta_seconds=eta,
            )
        )

    # -- scan and register -----------------------------------------------------------------

    async def scan(self) -> None:
        """Find the source's inputs; register the ones not known yet (hashing local files
        to find duplicates); keep every URL's SAS in memory only."""
        if is_url(self.s.source):
            entries = await self._scan_container()
        else:
            scan = functools.partial(scan_local, skip=self.s.out, root=self.store.meta("root"))
            entries, root = await anyio.to_thread.run_sync(
                scan, Path(self.s.source), self.s.suffixes
            )
            self.store.set_meta("root", root)
        entries = _listed_once(entries)
        for entry in entries:
            if isinstance(entry, Candidate) and entry.url is not None:
                self.urls[entry.source] = entry.url
        known = self.store.known_sources()
        fresh = [e for e in entries if e.source not in known]
        await self._register(fresh)
        if not any(isinstance(e, Candidate) for e in entries) and not known:
            raise InvalidInputError(f"no audio to transcribe in {redact_url(self.s.source)}")

    async def _scan_container(self) -> list[Candidate | Rejected]:
        entries: list[Candidate | Rejected] = []
        box = self.source_box
        async for blob in _listing(box):
            url = box.signed(blob.name, _expiry(self.s))
            key = box.blob_url(blob.name)
            problem = suffix_problem(blob.name, self.s.suffixes)
            if problem is not None:
                entries.append(Rejected(source=key, reason=problem))
            elif not blob.size:
                entries.append(Rejected(source=key, reason="empty blob"))
            else:
                md5 = blob.content_settings.content_md5 if blob.content_settings else None
                entries.append(
                    Candidate(
                        source=key,
                        kind="blob",
                        name=blob.name,
                        url=url,
                        size=blob.size,
                        hash=f"md5:{bytes(md5).hex()}" if md5 else None,
                    )
                )
        return entries

    async def _register(self, entries: Sequence[Candidate | Rejected]) -> None:
        hashes = await self._hashes([e for e in entries if isinstance(e, Candidate)])
        seen_hash = {h: h for h in self.store.taken("hash")}
        taken = {o.casefold() for o in self.store.taken("output")} | _RESERVED
        rows: list[dict[str, Any]] = []
        by_hash: dict[str, str] = {}
        for entry in entries:
            row: dict[str, Any] = {"source": entry.source, "kind": "file", "size": None}
            row["hash"] = None
            row |= {"blob_name": None, "output": None, "status": "rejected", "reason": None}
            if isinstance(entry, Rejected):
                row["reason"] = entry.reason
                rows.append(row)
                continue
            digest = hashes.get(entry.source, entry.hash)
            row |= {"kind": entry.kind, "size": entry.size, "hash": digest}
            if digest is not None and (digest in seen_hash or digest in by_hash):
                first = by_hash.get(digest, "an input registered earlier")
                row |= {"hash": None, "reason": f"duplicate: same content as {first}"}
                rows.append(row)
                continue
            if digest is not None:
                by_hash[digest] = entry.source
            row["output"] = _claim(output_stem(entry.name), taken)
            row["status"] = "new" if entry.kind == "file" else "ready"
            if entry.kind == "file":
                row["blob_name"] = self.s.prefix + entry.name
            elif entry.kind == "blob":
                row["blob_name"] = entry.name
            rows.append(row)
        self.store.add_inputs(rows)

    async def _hashes(self, entries: Sequence[Candidate]) -> dict[str, str]:
        files = [e.source for e in entries if e.kind == "file"]
        found: dict[str, str] = {}

        async def one(_: int, path: str) -> tuple[str, str]:
            return path, await anyio.to_thread.run_sync(sha256, path)

        async def keep(item: tuple[str, str]) -> None:
            found[item[0]] = item[1]
            self.progress(force=False)

        await bounded_map(files, one, self.s.concurrency, keep)
        return found

    # -- upload ----------------------------------------------------------------------------

    async def upload(self) -> None:
        """Upload the local files not uploaded yet (a blob already there with the same
        content is kept); each is marked ready as soon as it is there, and jobs of them are
        submitted while the rest uploads."""
        todo = self.store.inputs("new")
        self.uploading, self.stage, self.to_upload = True, "upload", len(todo)
        try:
            if todo:
                self.progress()
                await self._upload(todo)
        finally:
            self.uploading, self.stage = False, "transcribe"
            self._poke()
            self.progress()

    def _poke(self) -> None:
        self.uploads.set()
        self.uploads = anyio.Event()

    async def _upload(self, todo: list[InputRow]) -> None:
        from .. import storage

        box = self.upload_box
        common = os.path.commonprefix([r.blob_name or "" for r in todo])  # noqa: RUF071
        existing = await storage._existing(box, common)
        reporter = storage._Reporter(None, len(todo))
        batch: list[int] = []

        async def one(_: int, row: InputRow) -> tuple[int, str | None]:
            path, name = Path(row.source), row.blob_name or ""
            try:
                size = os.stat(path).st_size
            except OSError as exc:
                return row.id, f"cannot read it: {exc.strerror or exc}"
            if size != row.size:
                return row.id, "the file changed while the run was under way"
            if existing.get(name) != (size, row.hash):
                await storage._upload_one(box, path, name, size, row.hash or "", reporter)
            return row.id, None

        async def keep(item: tuple[int, str | None]) -> None:
            row_id, problem = item
            self.uploaded += 1
            if problem is not None:
                self.store.set_status([row_id], "rejected", problem)
                return
            batch.append(row_id)
            if len(batch) >= 64:
                self.store.set_status(batch, "ready")
                batch.clear()
                self._poke()
            self.progress(force=False)

        try:
            await bounded_map(todo, one, self.s.concurrency, keep)
        finally:
            if batch:
                self.store.set_status(batch, "ready")

    # -- links -----------------------------------------------------------------------------

    def link(self, row: InputRow) -> str | None:
        """The URL the service reads ``row`` by (with a SAS), or None when this process
        cannot make it (a URL no longer in the source)."""
        if row.kind == "file":
            return str(self.upload_box.signed(row.blob_name, _expiry(self.s)))
        return self.urls.get(row.source)

    # -- submit ----------------------------------------------------------------------------

    def _next_chunk(self) -> list[InputRow] | None:
        """The inputs of the next job to submit, or None: full jobs first; a partial one
        when it holds a first attempt or nothing else is running (retries gather
        while jobs are still running)."""
        live = len(self.store.shards("submitting", "running"))
        if self.s.max_jobs is not None and live >= self.s.max_jobs:
            return None
        ready = self.store.inputs("ready", limit=self.s.files_per_job)
        if not ready:
            return None
        if len(ready) < self.s.files_per_job and (
            self.uploading or (live and all(r.attempts for r in ready))
        ):
            return None
        return ready

    async def submit_all(self) -> None:
        while (chunk := self._next_chunk()) is not None:
            links = {r.id: self.link(r) for r in chunk}
            gone = [i for i, url in links.items() if url is None]
            if gone:
                self.store.set_status(gone, "failed", "no longer in the source")
                continue
            shard = self.store.new_shard(self.run_id, [r.id for r in chunk])
            self.progress()
            await self._submit(shard, [links[r.id] or "" for r in chunk])
            self.progress()

    async def _submit(self, shard: ShardRow, urls: list[str]) -> None:
        options = dict(self.s.options)
        options.setdefault(
            "description", f"speechrest pipeline run {self.run_id}: {len(urls)} files"
        )
        try:
            job = await self.client.transcriptions.submit(
                content_urls=urls, locale=self.s.locale, display_name=shard.token, **options
            )
        except (InvalidInputError, AuthenticationError, PermissionDeniedError) as exc:
            self.store.unsubmitted(shard.id, "lost", _one_line(exc), False, self.s.max_attempts)
            raise
        except APIStatusError as exc:
            if exc.status in (408, 429) or exc.status >= 500:
                log.warning("%s: the submission's outcome is unknown: %s", shard.token, exc)
                return  # looked up by its token once the grace period has passed
            self.store.unsubmitted(shard.id, "refused", _one_line(exc), True, self.s.max_attempts)
            return
        except SpeechRestError as exc:
            log.warning("%s: the submission's outcome is unknown: %s", shard.token, exc)
            return
        self.store.submitted(shard.id, job.id)

    async def resolve(self) -> float | None:
        """Find the jobs of shards whose submission's outcome is unknown (a process killed
        after the request, a connection lost): by their token, once ``submit_grace`` has
        passed since they were created; a shard whose job is not there never reached the
        service. Returns the seconds until the next shard may be looked up, if any."""
        wait: float | None = None
        for shard in self.store.shards("submitting"):
            age = time.time() - shard.created
            if age < self.s.submit_grace:
                left = self.s.submit_grace - age
                wait = left if wait is None else min(wait, left)
                continue
            job = await self._find(shard.token)
            if job is not None:
                self.store.submitted(shard.id, job.id)
            else:
                reason = "the submission never reached the service"
                self.store.unsubmitted(shard.id, "lost", reason, True, self.s.max_attempts)
        return wait

    async def _find(self, token: str) -> Transcription | None:
        quoted = token.replace("'", "''")
        async for job in self.client.transcriptions.list(filter=f"displayName eq '{quoted}'"):
            if job.display_name == token:
                return job
        return None

    # -- wait and collect ------------------------------------------------------------------

    async def wait(self) -> None:
        """Wait on the running jobs by list sweeps; collect each as it ends. Returns early
        when a new job can be submitted (retries gathered, a free slot)."""
        shards = {s.job_id: s for s in self.store.shards("running") if s.job_id}
        if not shards:
            return
        waits = self.client.transcriptions.wait_many(list(shards), policy=self.s.poll)
        settled = True
        async with anyio.create_task_group() as tg, waits as outcomes:
            tg.start_soon(self._until_a_job_is_ready, tg.cancel_scope)
            async for outcome in outcomes:
                with anyio.CancelScope(shield=True):  # collected whole, or not at all
                    settled = await self._ended(shards[outcome.id], outcome) and settled
                self.progress()
                if self._next_chunk() is not None or self.store.shards("submitting"):
                    break
            tg.cancel_scope.cancel()
        if not settled:  # a job whose state or results could not be read: later
            await anyio.sleep(_PAUSE)

    async def _until_a_job_is_ready(self, scope: anyio.CancelScope) -> None:
        """Cancel ``scope`` (a wait) as soon as the uploads made a whole job ready."""
        while self.uploading:
            await self.uploads.wait()
            if self._next_chunk() is not None:
                scope.cancel()
                return
        await anyio.sleep_forever()

    async def _ended(self, shard: ShardRow, outcome: WaitOutcome[Transcription]) -> bool:
        """Record how a job ended; False when that cannot be told yet (its status or its
        results could not be read): the job stays running and is looked at again later,
        so that its inputs never go into another job while it may be alive."""
        rows = [r for r in self.store.shard_inputs(shard.id) if r.status == "queued"]
        gone = isinstance(outcome.error, NotFoundError | TranscriptionFailedError)
        try:
            if outcome.ok and outcome.entity is not None:
                done, failed = await self._collect(outcome.entity, rows)
                error = None
            elif gone:
                error = _one_line(outcome.error) if outcome.error else "the job failed"
                done, failed = [], [(r.id, error) for r in rows]
            else:
                raise outcome.error or SpeechRestError(f"job {outcome.id}: no outcome")
        except (AuthenticationError, PermissionDeniedError):
            raise
        except SpeechRestError as exc:
            log.warning("job %s: cannot tell how it ended yet: %s", outcome.id, exc)
            return False
        self.store.job_ended(shard.id, done, failed, self.s.max_attempts, error)
        self.finished_here += len(done) + len(failed)
        if outcome.entity is not None:
            await self._delete(self.store.shard(shard.id))
        return True

    async def _delete(self, shard: ShardRow) -> None:
        """Delete an ended job (its results are in), as Microsoft advises; best effort (its
        time to live deletes it anyway)."""
        if not self.s.delete_jobs or shard.job_id is None or shard.deleted:
            return
        try:
            await self.client.transcriptions.delete(shard.job_id)
        except SpeechRestError as exc:
            log.warning("could not delete job %s: %s", shard.job_id, exc)
            return
        self.store.deleted(shard.id)

    async def _collect(
        self, job: Transcription, rows: list[InputRow]
    ) -> tuple[list[tuple[int, str, int | None, int | None]], list[tuple[int, str]]]:
        """Each input's result, written as its output, or the reason it failed."""
        by_id = {r.id: r for r in rows}
        labels = {url: str(r.id) for r in rows if (url := self._plain_link(r))}
        done: list[tuple[int, str, int | None, int | None]] = []
        failed: list[tuple[int, str]] = []
        seen: set[int] = set()
        async for item in self.client.transcriptions.input_results(
            job, labels=labels, concurrency=self.s.concurrency
        ):
            row = by_id.get(int(item.label)) if item.label else None
            if row is None or row.id in seen:
                continue
            seen.add(row.id)
            if item.result is not None:
                files = await anyio.to_thread.run_sync(self._write, row, item.result)
                channels = len(item.result.channels)
                done.append((row.id, files, item.result.duration_ms, channels))
            else:
                reason = ": ".join(m for m in (item.error_kind, item.error_message) if m)
                failed.append((row.id, _one_line(reason or "the service could not transcribe it")))
        missing = f"job {job.id} returned no result for it"
        failed += [(r.id, missing) for r in rows if r.id not in seen]
        return done, failed

    def _plain_link(self, row: InputRow) -> str | None:
        if row.kind == "file":
            return str(self.upload_box.blob_url(row.blob_name))
        return row.source

    def _write(self, row: InputRow, result: TranscriptionResultFile) -> str:
        """Write the output of ``row`` (atomically: a reader never sees half of it)."""
        written = []
        for suffix, body in self.s.render(result, self.s.fmt):
            relative = f"{row.output}{suffix}"
            target = self.s.out / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.s.out / STATE_FOLDER / PARTIAL / f"{row.id}{suffix}"
            temporary.write_text(body, encoding="utf-8")
            temporary.replace(target)
            written.append(relative)
        return "\n".join(written)

    # -- the whole run ---------------------------------------------------------------------

    async def transcribe(self) -> None:
        """Submit, wait and collect until every input has its outcome (while the uploads
        go on, jobs of the files already uploaded go too)."""
        self.started = time.monotonic()  # the pace of the ETA
        self.progress()
        while True:
            wait = await self.resolve()
            await self.submit_all()
            if self.store.shards("running"):
                await self.wait()
            elif wait is not None or self.uploading:
                with anyio.move_on_after(math.inf if wait is None else wait):
                    await self.uploads.wait()
            elif not self.store.shards("submitting") and self._next_chunk() is None:
                break
        for shard in self.store.shards("ended"):  # those a killed process left behind
            await self._delete(shard)

    def report(self) -> PipelineReport:
        inputs = tuple(_outcome(r) for r in self.store.inputs())
        shards = self.store.all_shards()
        jobs = [s for s in shards if s.job_id is not None]
        durations = tuple(
            s.ended - s.submitted
            for s in jobs
            if s.status == "ended" and s.ended is not None and s.submitted is not None
        )
        first = self.store.meta("started") or time.time()
        return PipelineReport(
            run_id=self.run_id,
            folder=str(self.s.out),
            inputs=inputs,
            jobs=len(jobs),
            job_seconds=durations,
            seconds=time.time() - float(first),
        )


def _listed_once(entries: list[Candidate | Rejected]) -> list[Candidate | Rejected]:
    """``entries``, with an entry listed again rejected as a duplicate (named with its
    occurrence, so that a resumed run names it alike)."""
    seen: dict[str, int] = {}
    out: list[Candidate | Rejected] = []
    for entry in entries:
        n = seen[entry.source] = seen.get(entry.source, 0) + 1
        if n > 1:
            reason = "duplicate: listed more than once"
            entry = Rejected(source=f"{entry.source} (#{n})", reason=reason)
        out.append(entry)
    return out


def _outcome(row: InputRow) -> InputOutcome:
    status = row.status if row.status in ("done", "failed", "rejected") else "pending"
    return InputOutcome(
        source=redact_url(row.source),
        status=status,
        reason=row.reason,
        attempts=row.attempts,
        job_id=row.job_id,
        outputs=tuple(row.files.split("\n")) if row.files else (),
        duration_ms=row.duration_ms,
        channels=row.channels,
    )


def _claim(stem: str, taken: set[str]) -> str:
    """``stem``, or ``stem-2``, ``stem-3``, ...: the first not ``taken`` (case-insensitive,
    as some file systems are); claimed."""
    candidate, n = stem, 1
    while candidate.casefold() in taken or candidate.split("/", 1)[0] in _RESERVED:
        n += 1
        candidate = f"{stem}-{n}"
    taken.add(candidate.casefold())
    return candidate


def _expiry(settings: Settings) -> datetime:
    return datetime.now(UTC) + settings.sas_lifetime


def _one_line(exc: BaseException | str) -> str:
    """An error as one line, any SAS in it redacted (reasons go into the report)."""
    text = exc if isinstance(exc, str) else str(exc) or type(exc).__name__
    return redact_url(" ".join(text.split()))


async def _listing(box: Any) -> AsyncIterator[Any]:
    from azure.core.exceptions import AzureError

    from .. import storage

    try:
        async for blob in box.client.list_blobs():
            yield blob
    except AzureError as exc:
        raise storage._storage_error(exc, f"list the container {box.base}") from None


async def execute(
    client: SpeechClient, settings: Settings, on_progress: Progress | None
) -> PipelineReport:
    """Run (or resume) the pipeline of ``settings``; its report."""
    state = settings.out / STATE_FOLDER
    with _locked(state):
        store = Store.open(state)
        try:
            return await _execute(client, settings, store, on_progress)
        finally:
            store.close()


async def _execute(
    client: SpeechClient, settings: Settings, store: Store, on_progress: Progress | None
) -> PipelineReport:
    wanted = fingerprint(settings)
    stored = store.meta("settings")
    if stored is None:
        store.set_meta("settings", wanted)
        store.set_meta("run_id", secrets.token_hex(6))
        store.set_meta("started", time.time())
    elif stored != wanted:
        if stored.get("source") != wanted["source"] or store.shards(
            "submitting", "running", "ended"
        ):
            raise InvalidInputError(
                f"{settings.out} holds a run of other settings ({_difference(stored, wanted)}):"
                " resume it with the same command, or give another output folder"
            )
        store.set_meta("settings", wanted)  # no job yet: other options are still fine
    partial = settings.out / STATE_FOLDER / PARTIAL
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    run = _Run(client, settings, store, on_progress)
    run.run_id = str(store.meta("run_id"))
    async with _containers(run, settings, store):
        await run.scan()
        _same_container(run, store)
        try:
            async with anyio.create_task_group() as tg:
                run.uploading = True  # until upload() says otherwise
                tg.start_soon(run.upload)
                await run.transcribe()
        except BaseExceptionGroup as group:
            raise first_error(group) from None
    run.stage = "done"
    run.progress()
    report = run.report()
    written = partial / REPORT
    written.write_text(
        json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    written.replace(settings.out / REPORT)
    return report


def _same_container(run: _Run, store: Store) -> None:
    """Local files need the upload container, and the same one on every start (their
    blobs are there; its SAS may change)."""
    if run.upload_box is None:
        if store.inputs_of_kind("file", ("new", "ready", "queued")):
            raise InvalidInputError(
                "local files need a blob container to upload them to: give container= "
                "(--container), a container URL with a SAS allowing rlw"
            )
        return
    used, now = store.meta("container"), str(run.upload_box.base)
    if used is None:
        store.set_meta("container", now)
    elif used != now:
        raise InvalidInputError(
            f"this run uploads to the container {used}, not {now}: give that one again "
            "(with a fresh SAS if need be), or another output folder"
        )


def _difference(stored: dict[str, Any], wanted: dict[str, Any]) -> str:
    keys = [k for k in wanted if stored.get(k) != wanted.get(k)]
    return ", ".join(f"{k}: {stored.get(k)!r} then, {wanted.get(k)!r} now" for k in keys)


@contextlib.asynccontextmanager
async def _containers(run: _Run, settings: Settings, store: Store) -> AsyncIterator[None]:
    """The source container (a container source) and the upload container (local files),
    opened with their SAS checked; the upload container is needed while local files are
    to upload or to link."""
    from .. import storage

    async with contextlib.AsyncExitStack() as stack:
        if is_url(settings.source):
            run.source_box = await stack.enter_async_context(
                storage._open_container(
                    settings.source,
                    "the source container URL",
                    storage.SOURCE_NEEDS,
                    "rl",
                    settings.sas_lifetime,
                )
            )
        elif settings.container is not None:
            run.upload_box = await stack.enter_async_context(
                storage._open_container(
                    settings.container,
                    "the container URL",
                    storage.SOURCE_NEEDS,
                    "rlw",
                    settings.sas_lifetime,
                )
            )
        yield


def check_settings(settings: Settings) -> None:
    """What can be told before any work."""
    check.integer(settings.files_per_job, "files_per_job", 1, 1000)
    check.integer(settings.max_attempts, "max_attempts", 1, 100)
    check.optional(check.positive, settings.max_jobs, "max_jobs")
    check.number(settings.submit_grace, "submit_grace", low=0)
    check.positive(settings.concurrency, "concurrency")
    check.locale(settings.locale)
    if not is_url(settings.source) and Path(settings.source).resolve() == settings.out:
        raise InvalidInputError(
            "the output folder is the source folder: give another one (a folder inside the "
            "source is fine: it is left out of the inputs)"
        )
    if not is_url(settings.source) and not Path(settings.source).exists():
        raise InvalidInputError(
            f"no such folder or list file: {settings.source} (give a folder of audio files, a "
            "text file listing paths or URLs one a line, or a blob container URL with a SAS)"
        )
