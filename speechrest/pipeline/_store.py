"""The durable state of a pipeline run: one SQLite database (standard library ``sqlite3``,
WAL mode) in the run's folder.

One row per input (``inputs``) and one per job the run meant to submit (``shards``). Every
change that matters is one transaction, committed before the step that depends on it: a
shard and the assignment of its inputs are committed *before* the job is submitted, so a
process killed between the service's answer and the commit finds the shard again and looks
its job up by the shard's token (the job's display name). A job's outcome (its inputs done,
retried or failed) is committed only after their outputs are written.

Input statuses: ``rejected`` (bad input, never submitted), ``new`` (a local file still to
upload), ``ready`` (waiting for a job), ``queued`` (in a shard being submitted or running),
``done`` (its output written), ``failed`` (attempts used up). Shard statuses:
``submitting`` (committed, job id not known yet), ``running`` (job id known), ``ended``,
``refused`` (the service refused the submission), ``lost`` (never reached the service).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

__all__ = ["InputRow", "ShardRow", "Store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shards (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    job_id TEXT,
    status TEXT NOT NULL,
    files INTEGER NOT NULL,
    created REAL NOT NULL,
    submitted REAL,
    ended REAL,
    error TEXT,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS inputs (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    size INTEGER,
    hash TEXT,
    blob_name TEXT,
    output TEXT,
    status TEXT NOT NULL,
    reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    shard INTEGER REFERENCES shards(id),
    job_id TEXT,
    files TEXT,
    duration_ms INTEGER,
    channels INTEGER
);
CREATE INDEX IF NOT EXISTS inputs_status ON inputs(status);
CREATE INDEX IF NOT EXISTS inputs_shard ON inputs(shard);
"""

DB_NAME = "state.db"


@attrs.frozen(kw_only=True)
class InputRow:
    """One input as stored."""

    id: int
    source: str
    """The local path (absolute), or the URL without its query (no SAS is ever stored)."""
    kind: str
    """``file`` (uploaded first), ``url`` (given as a URL) or ``blob`` (in the source
    container)."""
    size: int | None
    hash: str | None
    blob_name: str | None
    output: str | None
    """The output's stem, relative to the run's folder."""
    status: str
    reason: str | None
    attempts: int
    shard: int | None
    job_id: str | None
    files: str | None
    """The output files written (relative paths, one per line)."""
    duration_ms: int | None
    channels: int | None


@attrs.frozen(kw_only=True)
class ShardRow:
    """One job of the run (submitted, or about to be)."""

    id: int
    token: str
    """The job's display name: how a job whose id was never recorded is found again."""
    job_id: str | None
    status: str
    files: int
    created: float
    submitted: float | None
    ended: float | None
    error: str | None
    deleted: int
    """Whether its job was deleted (once its results were in)."""


class Store:
    """The run's database. Open with :meth:`open`; every method commits what it changes."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    @classmethod
    def open(cls, folder: Path) -> Store:
        folder.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(folder / DB_NAME, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        db.executescript(_SCHEMA)
        return cls(db)

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic change: committed when the block ends, rolled back if it raises."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- meta ------------------------------------------------------------------------------

    def meta(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row["value"])

    def set_meta(self, key: str, value: Any) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value))
            )

    # -- inputs ----------------------------------------------------------------------------

    def known_sources(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT source FROM inputs")}

    def taken(self, column: str) -> set[str]:
        """The values of ``hash`` or ``output`` in use."""
        assert column in ("hash", "output")
        query = f"SELECT {column} FROM inputs WHERE {column} IS NOT NULL"  # noqa: S608
        return {r[0] for r in self.db.execute(query)}

    def add_inputs(self, rows: Iterable[dict[str, Any]]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO inputs (source, kind, size, hash, blob_name, output, status, reason)"
                " VALUES (:source, :kind, :size, :hash, :blob_name, :output, :status, :reason)",
                rows,
            )

    def inputs(self, *statuses: str, limit: int = -1) -> list[InputRow]:
        """The inputs with these statuses (every input without), in the order found."""
        if statuses:
            marks = ",".join("?" * len(statuses))
            query = f"SELECT * FROM inputs WHERE status IN ({marks}) ORDER BY id LIMIT ?"  # noqa: S608
            rows = self.db.execute(query, (*statuses, limit))
        else:
            rows = self.db.execute("SELECT * FROM inputs ORDER BY id")
        return [InputRow(**dict(r)) for r in rows]

    def inputs_of_kind(self, kind: str, statuses: Sequence[str]) -> int:
        marks = ",".join("?" * len(statuses))
        query = f"SELECT COUNT(*) FROM inputs WHERE kind = ? AND status IN ({marks})"  # noqa: S608
        return int(self.db.execute(query, (kind, *statuses)).fetchone()[0])

    def shard_inputs(self, shard: int) -> list[InputRow]:
        rows = self.db.execute("SELECT * FROM inputs WHERE shard = ? ORDER BY id", (shard,))
        return [InputRow(**dict(r)) for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT status, COUNT(*) FROM inputs GROUP BY status")
        return {r[0]: r[1] for r in rows}

    def set_status(self, ids: Sequence[int], status: str, reason: str | None = None) -> None:
        with self.transaction() as db:
            db.executemany(
                "UPDATE inputs SET status = ?, reason = ? WHERE id = ?",
                [(status, reason, i) for i in ids],
            )

    # -- shards ----------------------------------------------------------------------------

    def new_shard(self, run_id: str, inputs: Sequence[int]) -> ShardRow:
        """A shard of ``inputs`` (each ``ready``), committed with their assignment and their
        attempt counted, before its job is submitted."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO shards (token, status, files, created) VALUES (?, ?, ?, ?)",
                (f"pending-{time.time_ns()}", "submitting", len(inputs), time.time()),
            )
            shard_id = cursor.lastrowid
            assert shard_id is not None
            token = f"speechrest {run_id} job {shard_id}"
            db.execute("UPDATE shards SET token = ? WHERE id = ?", (token, shard_id))
            db.executemany(
                "UPDATE inputs SET status = 'queued', shard = ?, job_id = NULL,"
                " attempts = attempts + 1 WHERE id = ? AND status = 'ready'",
                [(shard_id, i) for i in inputs],
            )
        return self.shard(shard_id)

    def shard(self, shard_id: int) -> ShardRow:
        row = self.db.execute("SELECT * FROM shards WHERE id = ?", (shard_id,)).fetchone()
        return ShardRow(**dict(row))

    def shards(self, *statuses: str) -> list[ShardRow]:
        marks = ",".join("?" * len(statuses))
        query = f"SELECT * FROM shards WHERE status IN ({marks}) ORDER BY id"  # noqa: S608
        return [ShardRow(**dict(r)) for r in self.db.execute(query, statuses)]

    def all_shards(self) -> list[ShardRow]:
        return [ShardRow(**dict(r)) for r in self.db.execute("SELECT * FROM shards ORDER BY id")]

    def deleted(self, shard: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE shards SET deleted = 1 WHERE id = ?", (shard,))

    def submitted(self, shard: int, job_id: str) -> None:
        """The service accepted the shard's job."""
        with self.transaction() as db:
            db.execute(
                "UPDATE shards SET job_id = ?, status = 'running', submitted = ? WHERE id = ?",
                (job_id, time.time(), shard),
            )
            db.execute("UPDATE inputs SET job_id = ? WHERE shard = ?", (job_id, shard))

    def unsubmitted(self, shard: int, status: str, error: str, retry: bool, limit: int) -> None:
        """The shard's job does not exist: ``refused`` by the service (its inputs' attempt
        counts) or ``lost`` (it never reached the service: the attempt is given back)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE shards SET status = ?, error = ?, ended = ? WHERE id = ?",
                (status, error, time.time(), shard),
            )
            if status == "lost":
                db.execute(
                    "UPDATE inputs SET attempts = attempts - 1, status = 'ready', shard = NULL"
                    " WHERE shard = ? AND status = 'queued'",
                    (shard,),
                )
            else:
                _retry_or_fail(db, shard, error, retry, limit)

    def job_ended(
        self,
        shard: int,
        done: Sequence[tuple[int, str, int | None, int | None]],
        failed: Sequence[tuple[int, str]],
        limit: int,
        error: str | None = None,
    ) -> None:
        """Record a job's outcome at once: ``done`` (input id, files written, duration,
        channels), ``failed`` (input id, reason: retried in a new job while attempts are
        left), and the shard itself."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE inputs SET status = 'done', reason = NULL, files = ?, duration_ms = ?,"
                " channels = ? WHERE id = ? AND shard = ? AND status = 'queued'",
                [(f, d, c, i, shard) for i, f, d, c in done],
            )
            db.executemany(
                "UPDATE inputs SET status = CASE WHEN attempts < ? THEN 'ready' ELSE 'failed'"
                " END, reason = ? WHERE id = ? AND shard = ? AND status = 'queued'",
                [(limit, reason, i, shard) for i, reason in failed],
            )
            db.execute(
                "UPDATE shards SET status = 'ended', ended = ?, error = ? WHERE id = ?",
                (time.time(), error, shard),
            )


def _retry_or_fail(
    db: sqlite3.Connection, shard: int, reason: str, retry: bool, limit: int
) -> None:
    db.execute(
        "UPDATE inputs SET status = CASE WHEN ? AND attempts < ? THEN 'ready' ELSE 'failed' END,"
        " reason = ? WHERE shard = ? AND status = 'queued'",
        (retry, limit, reason, shard),
    )
