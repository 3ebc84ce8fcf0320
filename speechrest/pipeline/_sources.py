"""What a pipeline's SOURCE holds: a folder, a list file (paths and URLs, one a line) or a
blob container (its URL with a SAS). Each entry is an input to transcribe or a rejection
with its reason (unsupported extension, not found, empty, unreadable); duplicates are found
when the inputs are registered, by content hash."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import attrs

from ..errors import InvalidInputError

__all__ = [
    "Candidate",
    "Rejected",
    "is_url",
    "output_stem",
    "plain_url",
    "scan_local",
    "sha256",
    "suffix_problem",
]


@attrs.frozen(kw_only=True)
class Candidate:
    """An input found in the source."""

    source: str
    """Its key: the absolute path, or the URL without its query."""
    kind: str
    """``file``, ``url`` or ``blob``."""
    name: str
    """Its name in the source (relative path, blob name, or the URL's file name): the
    output's name and, for files, the blob name after the prefix."""
    url: str | None = attrs.field(default=None, repr=False)
    """The URL with its SAS (``url``, ``blob``): in memory only, never stored."""
    size: int | None = None
    hash: str | None = None


@attrs.frozen(kw_only=True)
class Rejected:
    """An entry of the source that will not be transcribed, and why."""

    source: str
    reason: str


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def plain_url(url: str) -> str:
    """``url`` without its query (its SAS) or fragment."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path}"


def output_stem(name: str) -> str:
    """The output's path (without suffix) for an input named ``name``: its relative path,
    without the audio suffix, ``..`` and absolute parts left out, and in each part the
    characters an output file name of the command line may not hold made ``_``."""
    from ..cli._output import _FILE_NAME  # the command line's rule for output names

    path = PurePosixPath(name.replace("\\", "/"))
    parts = [p for p in path.with_suffix("").parts if p not in ("", ".", "..", "/")]
    clean = [_FILE_NAME.sub("_", p).strip(". ") for p in parts]
    return "/".join(p for p in clean if p) or "audio"


def suffix_problem(name: str, suffixes: frozenset[str]) -> str | None:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in suffixes:
        return None
    listed = " ".join(sorted(suffixes))
    what = f"extension {suffix}" if suffix else "no extension"
    return f"unsupported file type ({what}); batch transcription reads {listed}"


def _local(path: Path, name: str, suffixes: frozenset[str]) -> Candidate | Rejected:
    key = str(path.resolve())
    problem = suffix_problem(path.name, suffixes)
    if problem is not None:
        return Rejected(source=key, reason=problem)
    try:
        size = path.stat().st_size
        with path.open("rb"):
            pass
    except FileNotFoundError:
        return Rejected(source=key, reason="no such file")
    except OSError as exc:
        return Rejected(source=key, reason=f"cannot read it: {exc.strerror or exc}")
    if size == 0:
        return Rejected(source=key, reason="empty file (the service refuses empty audio)")
    return Candidate(source=key, kind="file", name=name, size=size)


def _folder(root: Path, suffixes: frozenset[str], skip: Path | None) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and (skip is None or here / d != skip)
        )
        for name in sorted(files):
            if not name.startswith("."):
                yield here / name


def _list_file(listing: Path) -> Iterator[tuple[str, Path | str]]:
    try:
        text = listing.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read the list file {listing}: {exc}") from None
    for line in text.splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if is_url(entry):
            yield entry, entry
        elif "://" in entry:
            yield entry, "unsupported URL scheme (give http:// or https:// URLs)"
        else:
            yield entry, (listing.parent / entry)


def scan_local(
    source: Path, suffixes: frozenset[str], *, skip: Path | None = None, root: str | None = None
) -> tuple[list[Candidate | Rejected], str]:
    """The entries of a folder (its files, recursively, hidden ones left out; ``skip`` is
    the run's own folder) or of a list file (paths relative to it, and URLs); and the root
    folder local names are relative to (``root``: the one a previous run chose)."""
    skip = skip.resolve() if skip is not None else None
    if source.is_dir():
        base = source.resolve()
        entries: list[Candidate | Rejected] = [
            _local(p, p.resolve().relative_to(base).as_posix(), suffixes)
            for p in _folder(base, suffixes, skip)
        ]
        return entries, str(base)
    if not source.is_file():
        raise InvalidInputError(
            f"no such folder or list file: {source} (give a folder of audio files, a text file "
            "listing paths or URLs one a line, or a blob container URL with a SAS)"
        )
    found = list(_list_file(source))
    paths = [p.resolve() for _, p in found if isinstance(p, Path)]
    if root is None:
        root = os.path.commonpath([p.parent for p in paths]) if paths else str(source.parent)
    entries = []
    for entry, target in found:
        if isinstance(target, Path):
            resolved = target.resolve()
            try:
                name = resolved.relative_to(root).as_posix()
            except ValueError:
                name = resolved.name
            entries.append(_local(target, name, suffixes))
        elif target == entry:
            entries.append(_url(entry, suffixes))
        else:
            entries.append(Rejected(source=entry, reason=target))
    return entries, root


def _url(url: str, suffixes: frozenset[str]) -> Candidate | Rejected:
    key = plain_url(url)
    name = unquote(PurePosixPath(urlsplit(url).path).name) or "audio"
    if PurePosixPath(name).suffix and (problem := suffix_problem(name, suffixes)):
        return Rejected(source=key, reason=problem)
    return Candidate(source=key, kind="url", name=name, url=url.strip())


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
