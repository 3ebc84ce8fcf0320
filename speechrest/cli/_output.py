"""Rendering results for the terminal and for files: text, JSON, SubRip, WebVTT."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import click

from .. import unstructure
from ..errors import APIStatusError

__all__ = ["FORMATS", "Documents", "Sink", "error_json", "render", "unique_stem"]

FORMATS = ("text", "json", "srt", "vtt")
_SUFFIX = {"text": ".txt", "json": ".json", "srt": ".srt", "vtt": ".vtt"}


class Subtitled(Protocol):
    """A result that can be written as subtitles (fast results and batch result files)."""

    @property
    def text(self) -> str: ...

    @property
    def channels(self) -> list[int]: ...

    def to_srt(self, *, channel: int | None = None) -> str: ...

    def to_webvtt(self, *, channel: int | None = None) -> str: ...


Documents = list[tuple[str, str]]
"""(file name suffix, content) pairs: one document, or one per channel for subtitles."""


def render(result: Subtitled, fmt: str, *, pretty: bool = True) -> Documents:
    """The documents for ``result`` in format ``fmt``."""
    suffix = _SUFFIX[fmt]
    if fmt == "text":
        return [(suffix, result.text + "\n")]
    if fmt == "json":
        return [(suffix, dumps(unstructure(result), pretty=pretty) + "\n")]
    channels: list[int | None] = list(result.channels) if len(result.channels) > 1 else [None]
    docs = []
    for channel in channels:
        body = result.to_srt(channel=channel) if fmt == "srt" else result.to_webvtt(channel=channel)
        docs.append((suffix if channel is None else f".ch{channel}{suffix}", body))
    return docs


def dumps(data: Any, *, pretty: bool) -> str:
    if pretty:
        return json.dumps(data, indent=2, ensure_ascii=False)
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def error_json(exc: BaseException) -> dict[str, Any]:
    """What went wrong, for machine-readable output."""
    data: dict[str, Any] = {"type": type(exc).__name__, "message": " ".join(str(exc).split())}
    if isinstance(exc, APIStatusError):
        data.update(status=exc.status, code=exc.code, innerCode=exc.inner_code)
        data["requestId"] = exc.request_id
    return data


def unique_stem(source: str, taken: set[str]) -> str:
    """An output file stem for ``source`` not used yet in this run (``a``, ``a-2``, ...)."""
    stem = Path(source).stem or "audio"
    candidate, n = stem, 1
    while candidate in taken:
        n += 1
        candidate = f"{stem}-{n}"
    taken.add(candidate)
    return candidate


class Sink:
    """Where results go: files in ``out`` (one per result, per channel for subtitles), or
    standard output (labelled ``==> source <==`` when there are several documents; JSON
    lines when ``pretty`` is off)."""

    def __init__(self, fmt: str, out: Path | None, *, many: bool, pretty: bool) -> None:
        self.fmt = fmt
        self.out = out
        self.many = many
        self.pretty = pretty
        self._stems: set[str] = set()
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)

    def result(self, label: str, result: Subtitled) -> None:
        """Write one result; ``label`` names its input (a path, or a redacted URL)."""
        if self.out is not None:
            stem = unique_stem(_name_of(label), self._stems)
            for suffix, body in render(result, self.fmt, pretty=True):
                path = self.out / f"{stem}{suffix}"
                path.write_text(body, encoding="utf-8")
                click.echo(str(path))
        elif self.fmt == "json":
            line = {"source": label, "result": unstructure(result)}
            click.echo(dumps(line, pretty=self.pretty))
        else:
            docs = render(result, self.fmt)
            for suffix, body in docs:
                if self.many or len(docs) > 1:
                    channel = f" ({suffix.split('.')[1]})" if len(docs) > 1 else ""
                    click.echo(f"==> {label}{channel} <==")
                click.echo(body, nl=False)

    def failure(self, label: str, message: str, error: dict[str, Any]) -> None:
        """Report one input that failed: a line on standard error (and a JSON line)."""
        click.echo(f"speechrest: {label}: {message}", err=True)
        if self.fmt == "json" and self.out is None:
            click.echo(dumps({"source": label, "error": error}, pretty=self.pretty))


def _name_of(label: str) -> str:
    return Path(urlsplit(label).path if "://" in label else label).name
