"""Rendering results for the terminal and for files: text, JSON, SubRip, WebVTT.

Text from the service or the user (transcripts, names, file names, error messages) can hold
escape sequences that a terminal would obey (retitle the window, clear the screen, draw a
fake prompt). Everything printed goes through :func:`plain` or :func:`printable`, which
show control characters as ``\\x1b``-style escapes instead; files written with ``--out``
keep the text exactly. Nothing printed is ever read as rich markup.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import click

from .. import unstructure
from ..errors import APIStatusError

__all__ = [
    "FORMATS",
    "Documents",
    "Sink",
    "error_json",
    "plain",
    "printable",
    "render",
    "unique_stem",
]

FORMATS = ("text", "json", "srt", "vtt")
_FILE_NAME = re.compile(
    r'[\x00-\x1f\x7f-\x9f/\\:*?"<>|\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]'
)
"""Characters kept out of output file names: controls, separators, Windows' reserved."""
_SUFFIX = {"text": ".txt", "json": ".json", "srt": ".srt", "vtt": ".vtt"}
_BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
"""Marks and overrides that reorder how a line is displayed (text "spoofing")."""
_CONTROLS = [*range(0x20), *range(0x7F, 0xA0), *_BIDI]
_ONE_LINE = {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" for c in _CONTROLS}
"""Every control character shown as an escape (for names, labels, messages)."""
_LINES = {c: v for c, v in _ONE_LINE.items() if c not in (0x09, 0x0A)}
"""The same, keeping tabs and line breaks (for transcripts and subtitles)."""
_JSON = {c: f"\\u{c:04x}" for c in _CONTROLS if c >= 0x7F}
"""What ``json.dumps(ensure_ascii=False)`` leaves raw, as JSON escapes (same data)."""


def plain(text: object) -> str:
    """``text`` on one line, safe for a terminal: control characters (line breaks and
    escape sequences included) and bidi overrides shown as escapes such as ``\\x1b``."""
    return str(text).translate(_ONE_LINE)


def printable(text: str) -> str:
    """Like :func:`plain`, keeping tabs and line breaks (transcripts, subtitles)."""
    return text.translate(_LINES)


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
    """JSON text, UTF-8 kept readable; the control characters that JSON allows raw (DEL,
    C1) and bidi overrides are escaped, so that it is safe to print (the same data)."""
    if pretty:
        text = json.dumps(data, indent=2, ensure_ascii=False)
    else:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return text.translate(_JSON)


def error_json(exc: BaseException) -> dict[str, Any]:
    """What went wrong, for machine-readable output."""
    data: dict[str, Any] = {"type": type(exc).__name__, "message": " ".join(str(exc).split())}
    if isinstance(exc, APIStatusError):
        data.update(status=exc.status, code=exc.code, innerCode=exc.inner_code)
        data["requestId"] = exc.request_id
    return data


def unique_stem(source: str, taken: set[str]) -> str:
    """An output file stem for ``source`` not used yet in this run (``a``, ``a-2``, ...).
    Characters a file name cannot (or should not) hold become ``_``."""
    stem = _FILE_NAME.sub("_", Path(source).stem).strip(". ") or "audio"
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
                path.write_text(body, encoding="utf-8", newline="")  # the text, exactly
                click.echo(plain(path))
        elif self.fmt == "json":
            line = {"source": label, "result": unstructure(result)}
            click.echo(dumps(line, pretty=self.pretty))
        else:
            docs = render(result, self.fmt)
            for suffix, body in docs:
                if self.many or len(docs) > 1:
                    channel = f" ({suffix.split('.')[1]})" if len(docs) > 1 else ""
                    click.echo(f"==> {plain(label)}{channel} <==")
                click.echo(printable(body), nl=False)

    def failure(self, label: str, message: str, error: dict[str, Any]) -> None:
        """Report one input that failed: a line on standard error (and a JSON line)."""
        click.echo(f"speechrest: {plain(label)}: {plain(message)}", err=True)
        if self.fmt == "json" and self.out is None:
            click.echo(dumps({"source": label, "error": error}, pretty=self.pretty))


def _name_of(label: str) -> str:
    return Path(urlsplit(label).path if "://" in label else label).name
