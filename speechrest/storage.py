"""Batch transcription of local files through Azure Blob Storage
(``pip install 'speechrest[storage]'``, on Microsoft's ``azure-storage-blob``).

::

    from speechrest.storage import transcribe_files

    async with SpeechClient.from_env() as client:
        results = await transcribe_files(
            client, "calls/", container="https://acct.blob.core.windows.net/audio?<SAS>",
            locale="en-US",
        )
    for path, outcome in results.items():
        print(path, outcome.result.text if outcome.ok else outcome.error)

:func:`transcribe_files` checks everything it can before any upload (the SAS's scope,
permissions and lifetime, then that the container exists), uploads the files in parallel
(streamed from disk, skipping blobs already there with the same content), submits jobs of at
most 1,000 files with read links that outlive the service's queue and processing time, waits,
and maps each result back to its local file through the result's ``source``. The pieces are
public too: :func:`upload_files`, :func:`submit_files`, :func:`collect_results` and
:func:`check_sas`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import mimetypes
import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack
from urllib.parse import parse_qs, quote, unquote, urlsplit

import anyio
import attrs

from . import _checks as check
from ._limits import bounded_map
from ._redact import redact_url
from .errors import InvalidInputError, SpeechRestError, StorageError
from .types import (
    File,
    FileKind,
    FileLinks,
    LanguageIdentificationProperties,
    ProfanityFilterMode,
    PunctuationMode,
    Transcription,
    TranscriptionReport,
    TranscriptionResultFile,
)
from .types._common import url_repr

try:
    from azure.core.exceptions import AzureError, HttpResponseError
    from azure.storage.blob import (
        BlobSasPermissions,
        ContainerSasPermissions,
        ContentSettings,
        generate_blob_sas,
        generate_container_sas,
    )
    from azure.storage.blob.aio import ContainerClient
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "speechrest.storage needs azure-storage-blob: pip install 'speechrest[storage]'"
    ) from exc

if TYPE_CHECKING:
    from ._client import SpeechClient

__all__ = [
    "AUDIO_SUFFIXES",
    "DEFAULT_SAS_LIFETIME",
    "DESTINATION_NEEDS",
    "MAX_FILES_PER_JOB",
    "SOURCE_NEEDS",
    "BatchOptions",
    "FileOutcome",
    "FileResults",
    "StorageProgress",
    "UploadedFile",
    "check_sas",
    "collect_results",
    "submit_files",
    "transcribe_files",
    "upload_files",
]

QUEUE_TIME = timedelta(minutes=30)
"""The service: "it might take up to 30 minutes for a transcription job to start"."""
PROCESSING_TIME = timedelta(hours=24)
"""... "and up to 24 hours to complete" (batch transcription documentation)."""
DEFAULT_SAS_LIFETIME = QUEUE_TIME + PROCESSING_TIME
"""How long the links the service reads must stay valid after a job is submitted."""
MAX_FILES_PER_JOB = 1000
"""The service's limit of ``contentUrls`` per job."""
AUDIO_SUFFIXES = frozenset(
    {".wav", ".mp3", ".ogg", ".opus", ".flac", ".wma", ".aac", ".m4a", ".amr", ".webm", ".spx"}
)
"""Files taken from a folder (the formats batch transcription reads)."""

_BLOCK = 1024 * 1024
"""Block size of the clients made here: aiohttp warns that bodies over 1 MiB in one piece
hold up the event loop, and memory stays at a block per upload in flight."""
_BLOCKS_IN_FLIGHT = 4
"""Blocks of one large file sent at once."""
_HASH_METADATA = "speechrestsha256"
SOURCE_NEEDS = {
    "r": "the Speech service reads the audio (r)",
    "l": "speechrest lists the container to find files already uploaded (l)",
    "w": "speechrest uploads the audio (w)",
    "d": "speechrest deletes the audio afterwards, as asked (d)",
}
"""Why each SAS permission of the container audio is uploaded to is needed."""
DESTINATION_NEEDS = {
    "w": "the Speech service writes the results (w)",
    "r": "speechrest reads the results back (r)",
}
"""Why each SAS permission of a destination container is needed."""
_LETTERS = {"r": "read (r)", "a": "add (a)", "c": "create (c)", "w": "write (w)"}
_LETTERS |= {"d": "delete (d)", "l": "list (l)"}

Progress = Callable[["StorageProgress"], object]


class BatchOptions(TypedDict, total=False):
    """The options of :meth:`Transcriptions.submit` that apply to every job."""

    display_name: str
    time_to_live_hours: int
    model: str
    language_identification: Sequence[str] | LanguageIdentificationProperties
    diarization: bool
    max_speakers: int
    word_level_timestamps: bool
    display_form_word_level_timestamps: bool
    punctuation_mode: PunctuationMode | str
    profanity_filter_mode: ProfanityFilterMode | str
    channels: Sequence[int]
    custom_properties: Mapping[str, str]
    description: str
    project: str


@attrs.frozen(kw_only=True)
class StorageProgress:
    """Where a :func:`transcribe_files` run is, passed to ``on_progress`` at each change."""

    stage: str
    """``upload``, ``submit``, ``wait``, ``results`` or ``delete``."""
    files: int
    """Local files in the run."""
    files_uploaded: int = 0
    """Files uploaded so far."""
    files_skipped: int = 0
    """Files already in the container with the same content (not uploaded again)."""
    bytes: int = 0
    """Bytes of the files to upload."""
    bytes_uploaded: int = 0
    jobs: int = 0
    """Batch jobs submitted."""
    jobs_done: int = 0
    """Jobs that ended."""


@attrs.frozen(kw_only=True)
class UploadedFile:
    """A local file in the container, and the link the Speech service reads it by."""

    path: Path
    blob_name: str
    url: str = attrs.field(repr=url_repr)
    """The blob's URL with a read SAS (what the job gets in ``contentUrls``)."""
    size: int
    uploaded: bool
    """False when the blob was already there with the same content."""

    @property
    def blob_url(self) -> str:
        """The blob's URL without the SAS."""
        return self.url.split("?", 1)[0]


@attrs.frozen(kw_only=True)
class FileOutcome:
    """What became of one local file."""

    path: Path
    blob_url: str
    job_id: str | None = None
    """The job that transcribed it (None when it was never submitted)."""
    result: TranscriptionResultFile | None = None
    error: SpeechRestError | None = None

    @property
    def ok(self) -> bool:
        """Whether the file was transcribed (then ``result`` is set)."""
        return self.result is not None


class FileResults(Mapping[Path, FileOutcome]):
    """One :class:`FileOutcome` per local file, keyed by its path as given; ``jobs`` holds
    the batch jobs."""

    def __init__(self, outcomes: Mapping[Path, FileOutcome], jobs: Sequence[Transcription]):
        self._outcomes = dict(outcomes)
        self.jobs = list(jobs)

    def __getitem__(self, path: Path) -> FileOutcome:
        return self._outcomes[Path(path)]

    def __iter__(self) -> Any:
        return iter(self._outcomes)

    def __len__(self) -> int:
        return len(self._outcomes)

    @property
    def failed(self) -> list[FileOutcome]:
        """The outcomes of the files that were not transcribed."""
        return [o for o in self._outcomes.values() if not o.ok]

    def __repr__(self) -> str:
        return f"FileResults({len(self)} files, {len(self.failed)} failed, {len(self.jobs)} jobs)"


# -- SAS checks ------------------------------------------------------------------------------


def _parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _duration(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _check_scope(fields: Mapping[str, str], what: str) -> None:
    if fields.get("sr") == "c":
        return
    if "srt" in fields and {"c", "o"} <= set(fields["srt"]) and "b" in fields.get("ss", ""):
        return
    raise InvalidInputError(
        f"{what} has a SAS for {'a blob' if fields.get('sr') == 'b' else 'something else'} "
        f"(sr={fields.get('sr', '?')}): give a container SAS (sr=c), e.g. "
        "`az storage container generate-sas --name <container> --permissions ...`"
    )


def _check_lifetime(fields: Mapping[str, str], what: str, lifetime: timedelta) -> None:
    now = datetime.now(UTC)
    start = _parse_time(fields.get("st", ""))
    if start is not None and start > now + timedelta(minutes=5):
        raise InvalidInputError(f"{what} has a SAS not valid before {start:%Y-%m-%d %H:%M} UTC")
    ends = [t for t in (_parse_time(fields.get(k, "")) for k in ("se", "ske")) if t is not None]
    if not ends:
        raise InvalidInputError(f"{what} has a SAS without a valid expiry (se=)")
    expiry, needed = min(ends), now + lifetime
    if expiry < needed:
        left = "has expired" if expiry <= now else f"expires in {_duration(expiry - now)}"
        raise InvalidInputError(
            f"{what} has a SAS that {left} ({expiry:%Y-%m-%d %H:%M} UTC), but batch jobs can "
            f"wait up to 30 minutes to start and take up to 24 hours to finish, and the "
            f"service reads the audio and writes results meanwhile: make a SAS valid at least "
            f"{_duration(lifetime)} from now (se={needed:%Y-%m-%dT%H:%MZ} or later), or lower "
            "sas_lifetime= if your jobs are known to run sooner"
        )


def check_sas(
    url: str,
    *,
    permissions: str,
    lifetime: timedelta = DEFAULT_SAS_LIFETIME,
    what: str = "the container URL",
    stored_policy: bool = True,
    needs: Mapping[str, str] | None = None,
) -> None:
    """Check, without any request, that the container SAS of ``url`` is fit for a batch job:
    a container SAS (``sr=c``, or an account SAS for containers and objects), with every
    letter of ``permissions``, valid now and for at least ``lifetime`` more, over the URL's
    protocol. Raises :class:`~speechrest.errors.InvalidInputError` saying what to change.

    A SAS of a stored access policy (``si=``) keeps its permissions and expiry on the
    container, out of sight: it passes unchecked, or is refused with
    ``stored_policy=False`` (``destinationContainerUrl`` does not accept one). ``needs``
    says why each permission letter is needed, for the message (such as
    :data:`SOURCE_NEEDS`).
    """
    parts = urlsplit(url)
    fields = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    where = f"{what} ({redact_url(url)})"
    if "sig" not in fields:
        raise InvalidInputError(
            f"{where} has no SAS token (no sig=): append a container SAS to it, "
            f"?<SAS> with permissions {permissions}"
        )
    if "si" in fields:
        if not stored_policy:
            raise InvalidInputError(
                f"{where} uses a stored access policy (si=), which the service does not "
                "accept here: give an ad hoc container SAS"
            )
        return
    _check_scope(fields, where)
    granted = fields.get("sp", "")
    uses = {**_LETTERS, **(needs or {})}
    missing = [p for p in permissions if p not in granted]
    if missing:
        reasons = "; ".join(uses.get(p, p) for p in missing)
        raise InvalidInputError(
            f"{where} has a SAS with permissions sp={granted or '(none)'}, without "
            f"{''.join(missing)}: {reasons}. Make a SAS with sp={permissions}"
        )
    if fields.get("spr") == "https" and parts.scheme != "https":
        raise InvalidInputError(f"{where} has an https-only SAS (spr=https) on an http URL")
    _check_lifetime(fields, where, lifetime)


# -- containers ------------------------------------------------------------------------------


def _storage_error(exc: AzureError, doing: str) -> StorageError:
    """THE one place Azure SDK exceptions become ours."""
    if isinstance(exc, HttpResponseError):
        status = exc.status_code
        error_code = getattr(exc, "error_code", None)
        code = str(error_code) if error_code else None
        hint = {
            "ContainerNotFound": ": the container does not exist; create it, or check its name",
            "AuthorizationPermissionMismatch": ": the SAS does not allow it; add the permission",
            "AuthorizationFailure": ": the SAS was refused (wrong container, expired or revoked)",
            "AuthenticationFailed": ": the credential or SAS signature was refused",
        }.get(code or "", "")
        return StorageError(
            f"Blob Storage refused to {doing}: HTTP {status} {code or ''}{hint}".strip(),
            status=status,
            code=code,
        )
    return StorageError(f"Blob Storage could not {doing}: {type(exc).__name__}")


@attrs.frozen
class _Container:
    """A container: a client, and how to make links the Speech service uses."""

    client: ContainerClient
    sas: str | None = attrs.field(repr=False)
    """The caller's container SAS (query string), or None with an account key."""
    key: str | None = attrs.field(repr=False)

    @property
    def base(self) -> str:
        return self.client.url.split("?", 1)[0].rstrip("/")

    def blob_url(self, name: str) -> str:
        return f"{self.base}/{quote(name, safe='/')}"

    def signed(self, name: str, expiry: datetime) -> str:
        """A read link of one blob, valid until ``expiry``."""
        if self.sas is not None:
            return f"{self.blob_url(name)}?{self.sas}"
        token = generate_blob_sas(
            self.client.account_name or "",
            self.client.container_name,
            name,
            account_key=self.key,
            permission=BlobSasPermissions(read=True),
            expiry=expiry,
        )
        return f"{self.blob_url(name)}?{token}"

    def writable(self, expiry: datetime) -> str:
        """The container's URL with a SAS the service can write results with."""
        if self.sas is not None:
            return f"{self.base}?{self.sas}"
        # The service documents "writable" only; read, create, write and list cover every
        # reading of it, and no delete is ever needed.
        token = generate_container_sas(
            self.client.account_name or "",
            self.client.container_name,
            account_key=self.key,
            permission=ContainerSasPermissions(read=True, write=True, list=True, create=True),
            expiry=expiry,
        )
        return f"{self.base}?{token}"

    def blob_name(self, url: str) -> str | None:
        """The name of the blob at ``url`` when it is in this container."""
        plain = url.split("?", 1)[0]
        if not plain.startswith(self.base + "/"):
            return None
        return unquote(plain[len(self.base) + 1 :])


@contextlib.asynccontextmanager
async def _open_container(
    container: str | ContainerClient,
    what: str,
    needs: Mapping[str, str],
    permissions: str,
    lifetime: timedelta,
) -> AsyncIterator[_Container]:
    """The container to use; its SAS checked (``needs`` names why each letter is needed:
    a destination's SAS may not be a stored access policy)."""
    check_url = functools.partial(
        check_sas,
        permissions=permissions,
        lifetime=lifetime,
        what=what,
        needs=needs,
        stored_policy=needs is not DESTINATION_NEEDS,
    )
    if isinstance(container, str):
        check_url(container)
        client = ContainerClient.from_container_url(
            container, max_single_put_size=_BLOCK, max_block_size=_BLOCK
        )
        async with client:
            yield _Container(client, urlsplit(container).query, None)
        return
    if not isinstance(container, ContainerClient):
        raise InvalidInputError(
            f"{what} must be a container URL with a SAS or an "
            f"azure.storage.blob.aio.ContainerClient, not {type(container).__name__}"
        )
    key = getattr(container.credential, "account_key", None)
    query = urlsplit(container.url).query
    if key is None and "sig=" not in query:
        raise InvalidInputError(
            f"{what}: the ContainerClient has no account key and no SAS, so no SAS links can "
            "be made for the Speech service; give it an account key, or give a container URL "
            "with a SAS"
        )
    if key is None:
        check_url(container.url)
    yield _Container(container, query if key is None else None, key)


async def _existing(container: _Container, prefix: str) -> dict[str, tuple[int, str]]:
    """(size, content hash) of the blobs under ``prefix``; the request that proves that the
    container exists and may be listed."""
    found: dict[str, tuple[int, str]] = {}
    try:
        async for blob in container.client.list_blobs(
            name_starts_with=prefix or None, include=["metadata"]
        ):
            found[blob.name] = (blob.size, (blob.metadata or {}).get(_HASH_METADATA, ""))
    except AzureError as exc:
        raise _storage_error(exc, f"list the container {container.base}") from None
    return found


# -- local files -----------------------------------------------------------------------------


def _local_files(files: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    if isinstance(files, str | os.PathLike):
        given: list[str | os.PathLike[str]] = [files]
    else:
        given = list(check.iterable(files, "files", "['a.wav', 'calls/']"))
    paths: list[Path] = []
    for item in given:
        path = Path(item)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in AUDIO_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                raise InvalidInputError(f"no audio files in the folder {path}")
            paths += found
        elif path.is_file():
            paths.append(path)
        else:
            raise InvalidInputError(f"no such file or folder: {path}")
    if not paths:
        raise InvalidInputError("give at least one audio file or folder")
    empty = [str(p) for p in paths if p.stat().st_size == 0]
    if empty:
        raise InvalidInputError(f"empty audio file(s), which the service refuses: {empty[:3]}")
    return list(dict.fromkeys(paths))


def _blob_names(paths: list[Path], prefix: str) -> list[str]:
    """Blob names: each path relative to the folder the files share (never two alike)."""
    resolved = [p.resolve() for p in paths]
    root = Path(os.path.commonpath([p.parent for p in resolved]))
    return [prefix + p.relative_to(root).as_posix() for p in resolved]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


# -- upload ----------------------------------------------------------------------------------


class _Reporter:
    def __init__(self, callback: Progress | None, files: int) -> None:
        self.callback = callback
        self.state = StorageProgress(stage="upload", files=files)

    def update(self, **changes: Any) -> None:
        self.state = attrs.evolve(self.state, **changes)
        if self.callback is not None:
            self.callback(self.state)

    def add(self, **increments: int) -> None:
        self.update(**{k: getattr(self.state, k) + v for k, v in increments.items()})


async def _upload_one(
    container: _Container, path: Path, name: str, size: int, digest: str, report: _Reporter
) -> None:
    done = 0

    async def hook(current: int, total: int | None) -> None:
        nonlocal done
        report.add(bytes_uploaded=current - done)
        done = current

    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    try:
        with path.open("rb") as f:
            await container.client.upload_blob(
                name,
                f,
                length=size,
                overwrite=True,
                metadata={_HASH_METADATA: digest},
                content_settings=ContentSettings(content_type=kind),
                max_concurrency=_BLOCKS_IN_FLIGHT,
                progress_hook=hook,
            )
    except AzureError as exc:
        raise _storage_error(exc, f"upload {path} as {name}") from None


async def _upload(
    container: _Container,
    paths: list[Path],
    prefix: str,
    concurrency: int,
    report: _Reporter,
) -> list[tuple[Path, str, int, bool]]:
    """(path, blob name, size, uploaded) per file, in order."""
    names = _blob_names(paths, prefix)
    common = os.path.commonprefix(names)  # noqa: RUF071 - a blob name prefix, by characters
    existing = await _existing(container, common)
    sizes = [p.stat().st_size for p in paths]
    report.update(bytes=sum(sizes))
    out: list[tuple[Path, str, int, bool]] = []

    async def one(index: int, path: Path) -> tuple[Path, str, int, bool]:
        name, size = names[index], sizes[index]
        digest = await anyio.to_thread.run_sync(_sha256, path)
        if existing.get(name) == (size, digest):
            report.add(files_skipped=1, bytes=-size)
            return path, name, size, False
        await _upload_one(container, path, name, size, digest, report)
        report.add(files_uploaded=1)
        return path, name, size, True

    async def keep(item: tuple[Path, str, int, bool]) -> None:
        out.append(item)

    await bounded_map(paths, one, concurrency, keep)
    order = {p: i for i, p in enumerate(paths)}
    return sorted(out, key=lambda item: order[item[0]])


async def upload_files(
    files: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    container: str | ContainerClient,
    prefix: str = "",
    concurrency: int = 8,
    sas_lifetime: timedelta = DEFAULT_SAS_LIFETIME,
    delete_permission: bool = False,
    on_progress: Progress | None = None,
) -> list[UploadedFile]:
    """Upload local audio ``files`` (paths, or folders: their audio files, recursively) to
    ``container`` and return each with a read link for the Speech service.

    ``container`` is a container URL with a SAS (``sp`` with ``r``, ``l``, ``w``; ``d``
    with ``delete_permission``), valid at least ``sas_lifetime`` more, or an
    ``azure.storage.blob.aio.ContainerClient`` with an account key (its links are then blob
    SAS links with read permission only, valid ``sas_lifetime``). Blob names are the paths
    relative to the folder the files share, after ``prefix``. Files are streamed from disk,
    ``concurrency`` at a time; a blob already there with the same size and SHA-256 is not
    uploaded again.

    Every check runs before the first upload: :class:`~speechrest.errors.InvalidInputError`
    for bad files or an unfit SAS, :class:`~speechrest.errors.StorageError` for a container
    that does not exist or refuses to be listed.
    """
    check.positive(concurrency, "concurrency")
    paths = _local_files(files)
    report = _Reporter(on_progress, len(paths))
    needs = "rlwd" if delete_permission else "rlw"
    opening = _open_container(container, "the container URL", SOURCE_NEEDS, needs, sas_lifetime)
    async with opening as box:
        done = await _upload(box, paths, prefix, concurrency, report)
        expiry = datetime.now(UTC) + sas_lifetime
        return [
            UploadedFile(path=p, blob_name=n, url=box.signed(n, expiry), size=s, uploaded=u)
            for p, n, s, u in done
        ]


# -- submit, results -------------------------------------------------------------------------


async def submit_files(
    client: SpeechClient,
    files: Sequence[UploadedFile],
    *,
    locale: str,
    destination_container_url: str | None = None,
    files_per_job: int = MAX_FILES_PER_JOB,
    **options: Unpack[BatchOptions],
) -> list[tuple[Transcription | SpeechRestError, list[UploadedFile]]]:
    """Submit jobs of at most ``files_per_job`` (<= 1000) uploaded files each; return each
    job (or the error that refused it) with its files. Jobs are named ``display_name``
    (default ``"speechrest <n> files"``) with `` (i/n)`` appended when there are several."""
    size = check.integer(files_per_job, "files_per_job", 1, MAX_FILES_PER_JOB)
    chunks = [list(files[i : i + size]) for i in range(0, len(files), size)]
    rest: dict[str, Any] = {k: v for k, v in options.items() if k != "display_name"}
    name = options.get("display_name") or f"speechrest {len(files)} files"
    jobs: list[tuple[Transcription | SpeechRestError, list[UploadedFile]]] = []
    for i, chunk in enumerate(chunks, 1):
        label = name if len(chunks) == 1 else f"{name} ({i}/{len(chunks)})"
        try:
            job: Transcription | SpeechRestError = await client.transcriptions.submit(
                content_urls=[f.url for f in chunk],
                locale=locale,
                display_name=label,
                destination_container_url=destination_container_url,
                **rest,
            )
        except InvalidInputError:
            raise
        except SpeechRestError as exc:
            job = exc
        jobs.append((job, chunk))
    return jobs


def _source_key(url: str) -> tuple[str, str]:
    """A result's ``source`` (or a content URL) as (host, blob path), SAS left out."""
    parts = urlsplit(url)
    return parts.netloc.lower(), unquote(parts.path)


Signer = Callable[[File], File]


async def collect_results(
    client: SpeechClient,
    job: Transcription,
    files: Sequence[UploadedFile],
    *,
    sign: Signer | None = None,
    concurrency: int = 8,
) -> list[FileOutcome]:
    """The outcome of each of ``files`` in a finished ``job``: its result, matched by the
    result's ``source`` (the blob URL, SAS left out), or the reason the report gives, or an
    error saying the service returned nothing for it. ``sign`` adds a credential to each
    file's link (results in a destination container are listed without one)."""
    by_source = {_source_key(f.url): f for f in files}
    found: dict[Path, FileOutcome] = {}
    listed = [f async for f in client.transcriptions.list_files(job)]
    wanted = [
        f for f in listed if f.kind in (FileKind.TRANSCRIPTION, FileKind.TRANSCRIPTION_REPORT)
    ]

    async def fetch(_: int, file: File) -> TranscriptionResultFile | TranscriptionReport:
        file = sign(file) if sign is not None else file
        if file.kind == FileKind.TRANSCRIPTION_REPORT:
            return await client.transcriptions.download(file, TranscriptionReport)
        return await client.transcriptions.download(file, TranscriptionResultFile)

    async def keep(doc: TranscriptionResultFile | TranscriptionReport) -> None:
        if isinstance(doc, TranscriptionResultFile):
            mine = by_source.get(_source_key(doc.source))
            if mine is not None:
                found[mine.path] = FileOutcome(
                    path=mine.path, blob_url=mine.blob_url, job_id=job.id, result=doc
                )
            return
        for detail in doc.failed:
            mine = by_source.get(_source_key(detail.input_url or ""))
            if mine is not None and mine.path not in found:
                reason = ": ".join(m for m in (detail.error_kind, detail.error_message) if m)
                error = SpeechRestError(
                    f"{mine.path}: the service could not transcribe it: {reason}"
                )
                found[mine.path] = FileOutcome(
                    path=mine.path, blob_url=mine.blob_url, job_id=job.id, error=error
                )

    await bounded_map(wanted, fetch, concurrency, keep)
    missing = SpeechRestError(f"job {job.id} returned no result for this file")
    return [
        found.get(f.path)
        or FileOutcome(path=f.path, blob_url=f.blob_url, job_id=job.id, error=missing)
        for f in files
    ]


def _signer(destination: _Container | None) -> Signer | None:
    if destination is None:
        return None
    expiry = datetime.now(UTC) + timedelta(hours=1)

    def sign(file: File) -> File:
        url = file.links.content_url if file.links is not None else None
        name = destination.blob_name(url or "")
        if url is None or name is None or "sig=" in url:
            return file
        return attrs.evolve(file, links=FileLinks(content_url=destination.signed(name, expiry)))

    return sign


async def _wait_and_collect(
    client: SpeechClient,
    submitted: list[tuple[Transcription | SpeechRestError, list[UploadedFile]]],
    destination: _Container | None,
    report: _Reporter,
) -> dict[Path, FileOutcome]:
    outcomes: dict[Path, FileOutcome] = {}
    jobs = {job.id: chunk for job, chunk in submitted if isinstance(job, Transcription)}
    for job, chunk in submitted:
        if isinstance(job, SpeechRestError):
            for f in chunk:
                outcomes[f.path] = FileOutcome(path=f.path, blob_url=f.blob_url, error=job)
    report.update(stage="wait", jobs=len(jobs))
    sign = _signer(destination)
    async with client.transcriptions.wait_many(list(jobs)) as waits:
        async for done in waits:
            chunk = jobs[done.id]
            if done.entity is not None and done.error is None:
                results = await collect_results(client, done.entity, chunk, sign=sign)
                outcomes.update((o.path, o) for o in results)
            else:
                error = (
                    done.error
                    if isinstance(done.error, SpeechRestError)
                    else SpeechRestError(f"job {done.id} failed: {done.error}")
                )
                for f in chunk:
                    outcomes[f.path] = FileOutcome(
                        path=f.path, blob_url=f.blob_url, job_id=done.id, error=error
                    )
            report.add(jobs_done=1)
    return outcomes


async def _delete(container: _Container, names: list[str], concurrency: int) -> None:
    async def one(_: int, name: str) -> None:
        try:
            await container.client.delete_blob(name)
        except HttpResponseError as exc:
            if exc.status_code != 404:
                raise _storage_error(exc, f"delete {name}") from None
        except AzureError as exc:
            raise _storage_error(exc, f"delete {name}") from None

    async def nothing(_: None) -> None:
        return None

    await bounded_map(names, one, concurrency, nothing)


async def transcribe_files(
    client: SpeechClient,
    files: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    container: str | ContainerClient,
    locale: str,
    prefix: str = "",
    destination_container: str | ContainerClient | None = None,
    delete_uploaded: bool = False,
    sas_lifetime: timedelta = DEFAULT_SAS_LIFETIME,
    files_per_job: int = MAX_FILES_PER_JOB,
    concurrency: int = 8,
    on_progress: Progress | None = None,
    **options: Unpack[BatchOptions],
) -> FileResults:
    """Transcribe local audio files with batch transcription, through Blob Storage: upload
    (see :func:`upload_files` for ``files``, ``container``, ``prefix``, ``concurrency``),
    submit jobs of at most ``files_per_job`` files, wait for them, and return a
    :class:`FileResults`: one :class:`FileOutcome` per local file, keyed by its path.

    ``sas_lifetime`` (default 24 h 30 min: the service's documented worst case of 30
    minutes in the queue and 24 hours of processing) is how long every SAS the service
    uses must stay valid. ``destination_container`` (a container URL with a SAS allowing
    ``r`` and ``w``, or a ``ContainerClient`` with an account key) makes the service write
    the results there (they outlive the job); they are read back from there.
    ``delete_uploaded`` deletes the uploaded audio once every job has ended (the SAS then
    needs ``d``). ``on_progress`` is called with a :class:`StorageProgress` at each
    change. The other options are those of ``client.transcriptions.submit``.

    Before anything is uploaded or submitted, bad files and unfit SAS tokens raise
    :class:`~speechrest.errors.InvalidInputError`, and a container that does not exist or
    cannot be listed :class:`~speechrest.errors.StorageError`. A job that fails, or an input
    the service could not read, is reported in the outcomes of its files.
    """
    check.positive(concurrency, "concurrency")
    check.integer(files_per_job, "files_per_job", 1, MAX_FILES_PER_JOB)
    check.locale(locale)
    paths = _local_files(files)
    needs = "rlwd" if delete_uploaded else "rlw"
    report = _Reporter(on_progress, len(paths))
    async with contextlib.AsyncExitStack() as stack:
        source = await stack.enter_async_context(
            _open_container(container, "the container URL", SOURCE_NEEDS, needs, sas_lifetime)
        )
        destination = None
        if destination_container is not None:
            destination = await stack.enter_async_context(
                _open_container(
                    destination_container,
                    "the destination container URL",
                    DESTINATION_NEEDS,
                    "rw",
                    sas_lifetime,
                )
            )
        done = await _upload(source, paths, prefix, concurrency, report)
        expiry = datetime.now(UTC) + sas_lifetime
        if isinstance(container, str):  # the upload took time: is the SAS still long enough?
            check_sas(container, permissions=needs, lifetime=sas_lifetime, needs=SOURCE_NEEDS)
        uploaded = [
            UploadedFile(path=p, blob_name=n, url=source.signed(n, expiry), size=s, uploaded=u)
            for p, n, s, u in done
        ]
        report.update(stage="submit")
        submitted = await submit_files(
            client,
            uploaded,
            locale=locale,
            destination_container_url=destination.writable(expiry) if destination else None,
            files_per_job=files_per_job,
            **options,
        )
        outcomes = await _wait_and_collect(client, submitted, destination, report)
        if delete_uploaded:
            report.update(stage="delete")
            await _delete(source, [f.blob_name for f in uploaded], concurrency)
    jobs = [job for job, _ in submitted if isinstance(job, Transcription)]
    return FileResults({p: outcomes[p] for p in paths}, jobs)
