"""Batch transcription (``client.transcriptions``): submit jobs, wait for them, read results."""

from __future__ import annotations

import builtins
import contextlib
import functools
import urllib.parse
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs

from .. import _checks as check
from .. import _tracing
from .._convert import structure
from .._limits import OutcomeStream, bounded_map
from .._polling import WAIT_MANY_POLICY, Listed, Polled, PollPolicy, WaitOutcome, wait_many
from ..errors import InvalidInputError, ResponseValidationError, TranscriptionFailedError
from ..types import (
    DiarizationProperties,
    File,
    FileKind,
    LanguageIdentificationMode,
    LanguageIdentificationProperties,
    ProfanityFilterMode,
    PunctuationMode,
    Transcription,
    TranscriptionLocales,
    TranscriptionProperties,
    TranscriptionReport,
    TranscriptionResultFile,
    TranscriptionUpdate,
)
from ..types._common import url_repr
from ._base import AsyncPager
from ._entity import EntityRef, EntityResource, entity_id

__all__ = ["InputResult", "Transcriptions"]

T = TypeVar("T")

MAX_CONTENT_URLS = 1000
MIN_TTL_HOURS, MAX_TTL_HOURS = 6, 744
MAX_CONTINUOUS_CANDIDATES = 10
WHAT = "transcription"


def _content_urls(value: object) -> list[str]:
    urls = [
        check.http_url(u, "each of content_urls")
        for u in check.items(value, "content_urls", "['https://.../a.wav?<SAS>']")
    ]
    if not 1 <= len(urls) <= MAX_CONTENT_URLS:
        raise InvalidInputError(
            f"content_urls must hold 1 to {MAX_CONTENT_URLS} URLs; got {len(urls)}: "
            "split larger batches into several jobs"
        )
    return urls


def _diarization(enabled: object, max_speakers: object) -> DiarizationProperties | None:
    if enabled is None and max_speakers is None:
        return None
    check.optional(check.flag, enabled, "diarization")
    speakers = check.optional(check.max_speakers, max_speakers)
    if speakers is not None and enabled is False:
        raise InvalidInputError("max_speakers= was given but diarization=False")
    return DiarizationProperties(enabled=enabled is not False, max_speakers=speakers)


def _language_identification(value: object) -> LanguageIdentificationProperties | None:
    if value is None:
        return None
    lid = (
        value
        if isinstance(value, LanguageIdentificationProperties)
        else LanguageIdentificationProperties(
            candidate_locales=check.items(
                value, "language_identification", "['en-US', 'de-DE'] (or its properties)"
            )
        )
    )
    candidates = check.locales(lid.candidate_locales)
    mode = check.optional(
        check.enum, lid.mode, LanguageIdentificationMode, "language identification mode"
    )
    if len(candidates) < 2 or (
        mode != LanguageIdentificationMode.SINGLE and len(candidates) > MAX_CONTINUOUS_CANDIDATES
    ):
        raise InvalidInputError(
            f"language identification needs 2 to {MAX_CONTINUOUS_CANDIDATES} candidate locales "
            f"(more only in Single mode); got {len(candidates)}"
        )
    return attrs.evolve(lid, candidate_locales=candidates, mode=mode)


@attrs.frozen(kw_only=True)
class InputResult:
    """What became of one input of a batch job (:meth:`Transcriptions.input_results`).

    ``if item.ok: item.result.text``; else ``item.error_kind`` and ``item.error_message``
    say why the service could not transcribe it.
    """

    input_url: str = attrs.field(repr=url_repr)
    """The input, as the service reports it (the result's ``source``)."""
    label: str | None = None
    """Your name for the input, from ``labels=`` (such as its local file), if given."""
    result: TranscriptionResultFile | None = attrs.field(default=None, repr=False)
    """The transcript; None when the input failed."""
    error_kind: str | None = None
    """Why the input failed: an error category from the job's report."""
    error_message: str | None = None
    """Why the input failed, in words."""

    @property
    def ok(self) -> bool:
        """Whether the input was transcribed."""
        return self.result is not None


def _input_key(url: str) -> str:
    """An input URL as inputs are matched: scheme, host and path (no SAS query)."""
    parts = urllib.parse.urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path}"


async def _of_kind(files: AsyncIterable[File], kind: FileKind) -> AsyncIterator[File]:
    async for file in files:
        if file.kind == kind:
            yield file


async def _async(items: Iterable[T]) -> AsyncIterator[T]:
    for item in items:
        yield item


class Transcriptions(EntityResource):
    """``client.transcriptions``: batch transcription jobs.

    A job is named by its id, its URL (``self``) or the :class:`Transcription` itself.
    """

    _path = "/transcriptions"

    # -- submit ----------------------------------------------------------------------------

    async def submit(
        self,
        *,
        locale: str,
        content_urls: Sequence[str] | None = None,
        content_container_url: str | None = None,
        dataset: EntityRef | None = None,
        display_name: str | None = None,
        time_to_live_hours: int = 48,
        model: EntityRef | None = None,
        destination_container_url: str | None = None,
        language_identification: Sequence[str] | LanguageIdentificationProperties | None = None,
        diarization: bool | None = None,
        max_speakers: int | None = None,
        word_level_timestamps: bool | None = None,
        display_form_word_level_timestamps: bool | None = None,
        punctuation_mode: PunctuationMode | str | None = None,
        profanity_filter_mode: ProfanityFilterMode | str | None = None,
        channels: Sequence[int] | None = None,
        custom_properties: Mapping[str, str] | None = None,
        description: str | None = None,
        project: EntityRef | None = None,
    ) -> Transcription:
        """Create a batch transcription job (``Transcriptions_Submit``) and return it.

        Give exactly one source: ``content_urls`` (1 to 1000 audio URLs, readable by the
        service), ``content_container_url`` (a blob container SAS URL with read and list
        rights) or ``dataset`` (an id, URL or reference). ``locale`` is required.

        ``display_name`` defaults to ``"speechrest batch <UTC time>"``.
        ``time_to_live_hours`` (6..744, default 48) is how long the job and its results are
        kept after it ends. ``model`` is a custom model id, or the URL of a base model.
        ``language_identification`` is a list of 2 to 10 candidate locales (continuous
        mode), or a :class:`LanguageIdentificationProperties`. ``max_speakers`` (2..35) turns
        ``diarization`` on. Every check runs before the request; the request is never
        retried in a way that could create the job twice.
        """
        sources = sum(x is not None for x in (content_urls, content_container_url, dataset))
        if sources != 1:
            raise InvalidInputError(
                "give exactly one source: content_urls=[...], content_container_url=... or "
                f"dataset=...; got {sources}"
            )
        if display_name is None:
            display_name = f"speechrest batch {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"
        opt = check.optional
        properties = TranscriptionProperties(
            time_to_live_hours=check.integer(
                time_to_live_hours, "time_to_live_hours", MIN_TTL_HOURS, MAX_TTL_HOURS
            ),
            word_level_timestamps_enabled=opt(
                check.flag, word_level_timestamps, "word_level_timestamps"
            ),
            display_form_word_level_timestamps_enabled=opt(
                check.flag, display_form_word_level_timestamps, "display_form_word_level_timestamps"
            ),
            channels=opt(check.channels, channels),
            punctuation_mode=opt(check.enum, punctuation_mode, PunctuationMode, "punctuation_mode"),
            profanity_filter_mode=opt(
                check.enum, profanity_filter_mode, ProfanityFilterMode, "profanity_filter_mode"
            ),
            destination_container_url=opt(
                check.http_url, destination_container_url, "destination_container_url"
            ),
            language_identification=_language_identification(language_identification),
            diarization=_diarization(diarization, max_speakers),
        )
        body = Transcription(
            display_name=check.name(display_name),
            locale=check.locale(locale),
            properties=properties,
            description=check.optional(check.text, description, "description"),
            custom_properties=check.optional(check.custom_properties, custom_properties),
            content_urls=opt(_content_urls, content_urls),
            content_container_url=opt(
                check.http_url, content_container_url, "content_container_url"
            ),
            dataset=self._opt_ref(dataset, "dataset", "/datasets"),
            model=self._opt_ref(model, "model", "/models"),
            project=self._opt_ref(project, "project", "/projects"),
        )
        job = await self._fetch(
            "POST",
            "/transcriptions:submit",
            Transcription,
            operation="Transcriptions_Submit",
            json=body,
            creates=True,
        )
        if self._traced:
            _tracing.status_event(job, "submitted")
        return job

    async def submit_and_wait(
        self,
        *,
        policy: PollPolicy | None = None,
        on_status: Callable[[Transcription], object] | None = None,
        **submit: Any,
    ) -> Transcription:
        """:meth:`submit` a job (``Transcriptions_Submit``), then :meth:`wait` for it
        (``Transcriptions_Get``); takes the arguments of both. Raises
        :class:`~speechrest.errors.TranscriptionFailedError` if the job fails."""
        job = await self.submit(**submit)
        return await self.wait(job, policy=policy, on_status=on_status)

    # -- read, change, delete --------------------------------------------------------------

    async def get(self, transcription: EntityRef) -> Transcription:
        """One job, with its current status (``Transcriptions_Get``)."""
        return await self._get(transcription, Transcription, "Transcriptions_Get", WHAT)

    def list(
        self, *, skip: int | None = None, top: int | None = None, filter: str | None = None
    ) -> AsyncPager[Transcription]:
        """Every job (``Transcriptions_List``), following ``@nextLink``. ``filter`` may use
        ``displayName``, ``description``, ``createdDateTime``, ``lastActionDateTime``,
        ``status`` and ``locale``: ``"status eq 'Running'"``."""
        return self._list(Transcription, "Transcriptions_List", skip=skip, top=top, filter=filter)

    async def update(
        self,
        transcription: EntityRef,
        *,
        display_name: str | None = None,
        description: str | None = None,
        project: EntityRef | None = None,
        custom_properties: Mapping[str, str] | None = None,
    ) -> Transcription:
        """Change the given fields of a job (``Transcriptions_Update``); a merge patch, so
        the fields left out are unchanged."""
        body = TranscriptionUpdate(
            display_name=check.optional(check.name, display_name),
            description=check.optional(check.text, description, "description"),
            project=self._opt_ref(project, "project", "/projects"),
            custom_properties=check.optional(check.custom_properties, custom_properties),
        )
        return await self._update(transcription, body, Transcription, "Transcriptions_Update", WHAT)

    async def delete(self, transcription: EntityRef) -> None:
        """Delete a job and its results (``Transcriptions_Delete``); succeeds if it does not
        exist. The service refuses to delete a job that has not finished
        (``BadRequestError`` with ``inner_code == "DeleteNotAllowed"``)."""
        await self._delete(transcription, "Transcriptions_Delete", WHAT)

    async def list_supported_locales(self) -> TranscriptionLocales:
        """The locales of fast (``transcribe``) and batch (``submit``) transcription
        (``Transcriptions_ListSupportedLocales``)."""
        return await self._fetch(
            "GET",
            "/transcriptions/locales",
            TranscriptionLocales,
            operation="Transcriptions_ListSupportedLocales",
        )

    # -- files -----------------------------------------------------------------------------

    def list_files(
        self,
        transcription: EntityRef,
        *,
        sas_lifetime_minutes: int | None = None,
        skip: int | None = None,
        top: int | None = None,
        filter: str | None = None,
    ) -> AsyncPager[File]:
        """The files of a finished job (``Transcriptions_ListFiles``): one of kind
        ``Transcription`` per input transcribed, and a ``TranscriptionReport``.
        ``filter`` may use ``name``, ``createdDateTime`` and ``kind``. The
        ``links.content_url`` links stay valid for ``sas_lifetime_minutes`` (service
        default: 12 hours)."""
        return self._list_files(
            transcription,
            "Transcriptions_ListFiles",
            WHAT,
            sas_lifetime_minutes=sas_lifetime_minutes,
            skip=skip,
            top=top,
            filter=filter,
        )

    async def get_file(
        self,
        transcription: EntityRef,
        file: EntityRef,
        *,
        sas_lifetime_minutes: int | None = None,
    ) -> File:
        """One file of a job, with a fresh ``links.content_url``
        (``Transcriptions_GetFile``)."""
        return await self._get_file(
            transcription, file, "Transcriptions_GetFile", WHAT, sas_lifetime_minutes
        )

    async def results(
        self,
        transcription: EntityRef,
        *,
        concurrency: int = 8,
        sas_lifetime_minutes: int | None = None,
    ) -> AsyncIterator[TranscriptionResultFile]:
        """The parsed result of each input of a finished job.

        Lists the job's files of kind ``Transcription`` (``Transcriptions_ListFiles``) and
        downloads them from their ``links.content_url`` (SAS URLs: no key is sent),
        ``concurrency`` at a time; yields them in the order the service lists them, holding
        at most ``concurrency`` results at once. Each result's ``source`` is the input it
        belongs to; :meth:`input_results` also names the inputs and reports the ones that
        failed, which have no result (see :meth:`report`).
        """
        files = self.list_files(
            transcription,
            sas_lifetime_minutes=sas_lifetime_minutes,
            filter=f"kind eq '{FileKind.TRANSCRIPTION.value}'",
        )
        wanted = _of_kind(files, FileKind.TRANSCRIPTION)
        count = 0
        async for _, result in self.download_many(
            wanted, TranscriptionResultFile, concurrency=concurrency
        ):
            yield result
            count += 1
        if self._traced:
            _tracing.event("results_read", {"speechrest.results.count": count})

    async def input_results(
        self,
        transcription: EntityRef,
        *,
        labels: Mapping[str, str] | None = None,
        concurrency: int = 8,
        sas_lifetime_minutes: int | None = None,
    ) -> AsyncIterator[InputResult]:
        """What became of each input of a finished job: an :class:`InputResult` per input,
        with its URL, its ``label`` and its result, or why it failed.

        ``labels`` maps the inputs' URLs (as submitted, with or without their SAS query:
        inputs are matched on scheme, host and path) to your names for them, such as the
        local files they were uploaded from. The results come first, as :meth:`results`
        yields them; then the inputs that failed, in the order of the job's report.
        """
        keys = {_input_key(url): label for url, label in (labels or {}).items()}
        report = await self.report(transcription)
        async for result in self.results(
            transcription, concurrency=concurrency, sas_lifetime_minutes=sas_lifetime_minutes
        ):
            yield InputResult(
                input_url=result.source, label=keys.get(_input_key(result.source)), result=result
            )
        for detail in report.failed if report is not None else ():
            url = detail.input_url or ""
            yield InputResult(
                input_url=url,
                label=keys.get(_input_key(url)),
                error_kind=detail.error_kind,
                error_message=detail.error_message,
            )

    async def report(self, transcription: EntityRef) -> TranscriptionReport | None:
        """The job report (the file of kind ``TranscriptionReport``, found with
        ``Transcriptions_ListFiles`` and downloaded without the key): the outcome of every
        input, with the reason of each failure. None when the job has no report (it has not
        succeeded)."""
        files = self.list_files(
            transcription, filter=f"kind eq '{FileKind.TRANSCRIPTION_REPORT.value}'"
        )
        async for file in _of_kind(files, FileKind.TRANSCRIPTION_REPORT):
            return await self.download(file, TranscriptionReport)
        return None

    async def download_many(
        self,
        files: Iterable[File] | AsyncIterable[File],
        cls: type[T],
        *,
        concurrency: int = 8,
    ) -> AsyncIterator[tuple[File, T]]:
        """Download many files (as :meth:`download` does), ``concurrency`` at a time, and
        yield each with its parsed content, in the order of ``files``. At most
        ``concurrency`` are held at once; the first download that fails is raised."""
        check.positive(concurrency, "concurrency")
        if not isinstance(files, AsyncIterable):
            files = _async(check.items(files, "files", "[file1, file2]"))
        batch: builtins.list[File] = []
        async for file in files:
            batch.append(file)
            if len(batch) == concurrency:
                for pair in await self._download_batch(batch, cls):
                    yield pair
                batch = []
        for pair in await self._download_batch(batch, cls):
            yield pair

    async def _download_batch(
        self, files: builtins.list[File], cls: type[T]
    ) -> builtins.list[tuple[File, T]]:
        """Download ``files`` at once; (file, content) pairs in their order. The downloads
        start and end within this call: no task outlives it, whatever the caller does."""
        contents: dict[int, T] = {}

        async def one(index: int, file: File) -> tuple[int, T]:
            return index, await self.download(file, cls)

        async def keep(pair: tuple[int, T]) -> None:
            contents[pair[0]] = pair[1]

        await bounded_map(files, one, len(files), keep)
        return [(file, contents[index]) for index, file in enumerate(files)]

    async def download(self, file: File, cls: type[T]) -> T:
        """Download a file's content from its ``links.content_url`` (without the key) and
        parse it as ``cls``, such as :class:`TranscriptionResultFile`. At most
        ``max_download_bytes`` (a ``SpeechClient`` option, 256 MiB by default) are read:
        beyond, :class:`~speechrest.errors.ResponseTooLargeError`."""
        url = file.links.content_url if file.links is not None else None
        if not url:
            raise ResponseValidationError(
                "download", [f"the file {file.name!r} has no links.contentUrl"]
            )
        operation = f"download of {file.name or 'a file'}"
        response = await self._api.request(
            "GET", url, operation=operation, authenticated=False, download=True
        )
        return structure(response.data, cls, operation, response.request_id)

    # -- waiting ---------------------------------------------------------------------------

    async def wait(
        self,
        transcription: EntityRef,
        *,
        policy: PollPolicy | None = None,
        on_status: Callable[[Transcription], object] | None = None,
    ) -> Transcription:
        """Poll a job (``Transcriptions_Get``) until it ends, and return it.

        Returns the job when it ``Succeeded``; raises
        :class:`~speechrest.errors.TranscriptionFailedError` (``.code``, ``.message``,
        ``.entity``) when it ``Failed``. Polls follow the service's ``Retry-After`` within
        the ``policy``'s floor and ceiling; ``on_status`` is called with the job each time
        its status changes. Bound the wait with ``anyio.fail_after(seconds)``.
        """
        job_id = entity_id(transcription, WHAT)
        return await self._wait(
            f"{self._path}/{job_id}",
            Transcription,
            operation="Transcriptions_Get",
            what=f"{WHAT} {job_id}",
            policy=policy,
            on_status=on_status,
            failed_error=TranscriptionFailedError,
        )

    def wait_many(
        self,
        transcriptions: Iterable[EntityRef],
        *,
        concurrency: int = 16,
        policy: PollPolicy | None = None,
    ) -> OutcomeStream[WaitOutcome[Transcription]]:
        """Wait on many jobs at once; yield a :class:`~speechrest.WaitOutcome` per job as
        each ends (``.id``, ``.entity``, ``.error``, ``.ok``).

        A job that ``Failed`` is yielded, not raised: its ``error`` is a
        :class:`~speechrest.errors.TranscriptionFailedError`. A job that no longer exists
        (deleted, or past its time to live) is yielded with a
        :class:`~speechrest.errors.NotFoundError` and no entity. Transient failures are
        retried; refused credentials (401/403) end the whole wait with that error.

        It costs requests per page, not per job: each round reads the list of jobs still
        running and of those that ended since the last round (``Transcriptions_List``, 100
        per page, with a ``filter`` on ``status`` and ``lastActionDateTime``), whose pages
        carry each job whole; only jobs the list did not show are polled one by one
        (``Transcriptions_Get``, at most ``concurrency`` at once), and so is every job when
        only a few are pending. Rounds follow the service's ``Retry-After`` within the
        ``policy``; without one, once a minute growing to once every 10 minutes
        (:data:`~speechrest.WAIT_MANY_POLICY`, Microsoft's guidance). Like every call of
        the batch API, they stay within the client's budget of 100 requests per 10 seconds.

        Nothing is kept but the ids, so a wait can be resumed in another process from the
        ids alone. Iterate it inside ``async with``: leaving the block early cancels the
        requests in flight. Bound the wait with ``anyio.fail_after``::

            async with client.transcriptions.wait_many(jobs) as outcomes:
                async for done in outcomes:
                    ...
        """
        check.concurrency(concurrency)
        jobs = check.items(transcriptions, "transcriptions", "[job1, job2] (use wait() for one)")
        ids = builtins.list(dict.fromkeys(entity_id(t, WHAT) for t in jobs))

        async def poll(job_id: str) -> Polled[Transcription]:
            return await self._poll(
                f"{self._path}/{job_id}", Transcription, operation="Transcriptions_Get"
            )

        async def sweep(expression: str | None) -> AsyncGenerator[Listed[Transcription], None]:
            pages = self.list(top=100, filter=expression).by_page()
            async with contextlib.aclosing(pages):
                async for page in pages:
                    polled = {
                        _job_id(job): Polled(entity=job, status=job.status, retry_after=None)
                        for job in page.values
                        if job.status is not None
                    }
                    yield Listed(polled=polled, retry_after=page.retry_after, date=page.date)

        def failure(job: Transcription) -> BaseException:
            return self._failure(job, TranscriptionFailedError, f"{WHAT} {job.id}")

        produce = functools.partial(
            wait_many,
            ids,
            poll=poll,
            sweep=sweep,
            policy=policy or WAIT_MANY_POLICY,
            retry=self._api.retry,
            concurrency=concurrency,
            failure=failure,
        )
        return OutcomeStream(
            produce, buffer=concurrency, usage="client.transcriptions.wait_many(...)"
        )


def _job_id(job: Transcription) -> str:
    """A listed job's id, as ``entity_id`` writes it (or its raw id if not a UUID)."""
    try:
        return str(uuid.UUID(job.id))
    except ValueError:
        return job.id
