"""What a pipeline run reports: progress while it runs, and the summary at the end."""

from __future__ import annotations

import statistics
from typing import Any

import attrs

__all__ = ["InputOutcome", "PipelineProgress", "PipelineReport"]


@attrs.frozen(kw_only=True)
class PipelineProgress:
    """Where a run is, passed to ``on_progress`` at each change."""

    stage: str
    """``scan``, ``upload``, ``transcribe`` or ``done``."""
    inputs: int
    """Inputs of the corpus (bad ones included)."""
    rejected: int = 0
    """Bad inputs, never submitted (unsupported, unreadable, duplicates)."""
    to_upload: int = 0
    """Local files this process still has to upload."""
    uploaded: int = 0
    """Local files this process uploaded (or found already uploaded)."""
    waiting: int = 0
    """Inputs waiting for a job (first attempt or retry)."""
    in_jobs: int = 0
    """Inputs in jobs being submitted or running."""
    done: int = 0
    """Inputs whose output is written."""
    failed: int = 0
    """Inputs that failed every attempt."""
    jobs_running: int = 0
    """Jobs submitted and not ended (or being submitted)."""
    jobs_ended: int = 0
    """Jobs ended (their results collected)."""
    eta_seconds: float | None = None
    """Estimated seconds to the end, from this process's pace (None until it has one)."""

    @property
    def finished(self) -> int:
        """Inputs with their final outcome (done, failed or rejected)."""
        return self.done + self.failed + self.rejected


@attrs.frozen(kw_only=True)
class InputOutcome:
    """What became of one input."""

    source: str
    """The local path, or the URL without its SAS."""
    status: str
    """``done``, ``failed`` or ``rejected``."""
    reason: str | None = None
    """Why it failed or was rejected."""
    attempts: int = 0
    """Jobs it was submitted in."""
    job_id: str | None = None
    """The job of its last attempt."""
    outputs: tuple[str, ...] = ()
    """The files written for it, relative to the run's folder (one per channel for
    subtitles of separately transcribed channels)."""
    duration_ms: int | None = None
    """Its audio's duration."""
    channels: int | None = None
    """Channels transcribed separately (0 or None when they were mixed)."""

    @property
    def ok(self) -> bool:
        """Whether its output is written."""
        return self.status == "done"


@attrs.frozen(kw_only=True)
class PipelineReport:
    """The summary of a run (also written as ``report.json`` in its folder)."""

    run_id: str
    folder: str
    inputs: tuple[InputOutcome, ...]
    """Every input of the corpus, in the order they were found."""
    jobs: int
    """Jobs the run submitted (over every attempt and restart)."""
    job_seconds: tuple[float, ...]
    """How long each ended job took, from submission to its results collected."""
    seconds: float
    """Wall time of the run, from its first start to its end (restarts included)."""

    @property
    def succeeded(self) -> list[InputOutcome]:
        """Inputs with their output written."""
        return [i for i in self.inputs if i.status == "done"]

    @property
    def failed(self) -> list[InputOutcome]:
        """Inputs that failed every attempt, with the last reason."""
        return [i for i in self.inputs if i.status == "failed"]

    @property
    def rejected(self) -> list[InputOutcome]:
        """Bad inputs, never submitted, with the reason."""
        return [i for i in self.inputs if i.status == "rejected"]

    @property
    def audio_hours(self) -> float:
        """Hours of audio transcribed (each input's duration once)."""
        return sum(i.duration_ms or 0 for i in self.inputs if i.ok) / 3_600_000

    @property
    def channel_hours(self) -> float:
        """Hours of audio times the channels transcribed separately in each (what a
        per-channel price would count)."""
        total = sum((i.duration_ms or 0) * max(1, i.channels or 1) for i in self.inputs if i.ok)
        return total / 3_600_000

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        seconds = sorted(self.job_seconds)
        return {
            "runId": self.run_id,
            "folder": self.folder,
            "inputs": len(self.inputs),
            "succeeded": len(self.succeeded),
            "failed": len(self.failed),
            "rejected": len(self.rejected),
            "audioHours": round(self.audio_hours, 6),
            "channelHours": round(self.channel_hours, 6),
            "jobs": self.jobs,
            "jobSeconds": {
                "min": round(seconds[0], 3) if seconds else None,
                "median": round(statistics.median(seconds), 3) if seconds else None,
                "max": round(seconds[-1], 3) if seconds else None,
            },
            "seconds": round(self.seconds, 3),
            "items": [
                {
                    "source": i.source,
                    "status": i.status,
                    "reason": i.reason,
                    "attempts": i.attempts,
                    "jobId": i.job_id,
                    "outputs": list(i.outputs),
                    "durationMilliseconds": i.duration_ms,
                    "channels": i.channels,
                }
                for i in self.inputs
            ],
        }

    def summary(self) -> str:
        """A few lines for people: counts, audio hours, job durations, each failure."""
        lines = [
            f"{len(self.inputs)} inputs: {len(self.succeeded)} transcribed, "
            f"{len(self.failed)} failed, {len(self.rejected)} rejected",
            f"{self.audio_hours:.3f} audio hours ({self.channel_hours:.3f} channel hours) "
            f"in {self.jobs} jobs, {self.seconds:.1f} s",
        ]
        if self.job_seconds:
            data = self.job_seconds
            lines.append(
                f"job durations: min {min(data):.1f} s, median {statistics.median(data):.1f} s,"
                f" max {max(data):.1f} s"
            )
        for item in self.failed:
            lines.append(f"failed: {item.source}: {item.reason} ({item.attempts} attempts)")
        for item in self.rejected:
            lines.append(f"rejected: {item.source}: {item.reason}")
        return "\n".join(lines)
