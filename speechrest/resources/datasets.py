"""Datasets (``client.datasets``): import from a URL, or upload a local file in blocks."""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import Callable, Sequence

import anyio

from .. import _checks as check
from .._convert import query
from .._http import Body
from .._limits import bounded_map
from .._polling import PollPolicy
from .._upload import MAX_BLOCK_SIZE, FileBlock, file_blocks
from ..errors import InvalidInputError, SpeechRestError
from ..types import (
    BlockKind,
    CommitBlocksEntry,
    Dataset,
    DatasetKind,
    DatasetLocales,
    DatasetProperties,
    DatasetUpdate,
    File,
    TextNormalizationKind,
    UploadedBlocks,
)
from ._base import AsyncPager
from ._entity import EntityRef, EntityResource, entity_id

__all__ = ["Datasets", "block_id"]

DEFAULT_UPLOAD_CONCURRENCY = 4


def block_id(index: int) -> str:
    """The Base64 block id of the ``index``-th block (the same length for every block)."""
    return base64.b64encode(f"{index:010d}".encode()).decode()


class Datasets(EntityResource):
    """``client.datasets``: training and test data for custom speech."""

    _path = "/datasets"

    async def list_supported_locales(self) -> DatasetLocales:
        """The supported locales of each dataset kind (``Datasets_ListSupportedLocales``)."""
        return await self._fetch(
            "GET", "/datasets/locales", DatasetLocales, operation="Datasets_ListSupportedLocales"
        )

    def list(
        self, *, skip: int | None = None, top: int | None = None, filter: str | None = None
    ) -> AsyncPager[Dataset]:
        """Every dataset (``Datasets_List``). ``filter`` may use ``displayName``,
        ``description``, ``createdDateTime``, ``lastActionDateTime``, ``status``, ``locale``
        and ``kind``."""
        return self._list(Dataset, "Datasets_List", skip=skip, top=top, filter=filter)

    def _definition(
        self,
        display_name: str,
        locale: str,
        kind: DatasetKind | str,
        content_url: str | None,
        description: str | None,
        project: EntityRef | None,
        custom_properties: dict[str, str] | None,
        text_normalization_kind: TextNormalizationKind | str | None,
    ) -> Dataset:
        normalization = check.optional(
            check.enum, text_normalization_kind, TextNormalizationKind, "text_normalization_kind"
        )
        return Dataset(
            display_name=check.name(display_name),
            locale=check.locale(locale),
            kind=check.enum(kind, DatasetKind, "kind"),
            content_url=check.optional(check.http_url, content_url, "content_url"),
            description=check.optional(check.text, description, "description"),
            project=self._opt_ref(project, "project", "/projects"),
            custom_properties=check.optional(check.custom_properties, custom_properties),
            properties=None
            if normalization is None
            else DatasetProperties(text_normalization_kind=normalization),
        )

    async def create(
        self,
        *,
        display_name: str,
        locale: str,
        kind: DatasetKind | str,
        content_url: str | None = None,
        description: str | None = None,
        project: EntityRef | None = None,
        custom_properties: dict[str, str] | None = None,
        text_normalization_kind: TextNormalizationKind | str | None = None,
    ) -> Dataset:
        """Create a dataset (``Datasets_Create``).

        With ``content_url`` the service imports the data from there; then ``wait()`` for
        it. Without, the dataset waits for a block upload: :meth:`upload` does it all.
        ``text_normalization_kind="None"`` tells the service that the text is normalized
        already ("2 to 3" is left as it is, not spelled out).
        """
        body = self._definition(
            display_name,
            locale,
            kind,
            content_url,
            description,
            project,
            custom_properties,
            text_normalization_kind,
        )
        return await self._create(body, Dataset, "Datasets_Create")

    async def upload(
        self,
        path: str | os.PathLike[str],
        *,
        display_name: str,
        locale: str,
        kind: DatasetKind | str,
        description: str | None = None,
        project: EntityRef | None = None,
        custom_properties: dict[str, str] | None = None,
        text_normalization_kind: TextNormalizationKind | str | None = None,
        block_size: int = MAX_BLOCK_SIZE,
        concurrency: int = DEFAULT_UPLOAD_CONCURRENCY,
        on_progress: Callable[[int], object] | None = None,
    ) -> Dataset:
        """Create a dataset from a local file, uploaded in blocks.

        Calls ``Datasets_Create`` (without a content URL), ``Datasets_UploadBlock`` for
        each block of at most ``block_size`` bytes (8 MiB, the service's limit, by default;
        ``concurrency`` blocks at a time, each streamed from disk and retried on transient
        failures) and ``Datasets_CommitBlocks``. ``on_progress`` is called with the number
        of bytes uploaded so far after each block. ``text_normalization_kind`` is as for
        :meth:`create`. If the upload fails, the dataset is
        deleted again. Returns the dataset, which then processes: ``wait()`` for it.
        """
        body = self._definition(
            display_name,
            locale,
            kind,
            None,
            description,
            project,
            custom_properties,
            text_normalization_kind,
        )
        blocks = file_blocks(path, block_size)
        check.concurrency(concurrency)
        dataset = await self._create(body, Dataset, "Datasets_Create")
        try:
            await self._upload_blocks(dataset.id, blocks, concurrency, on_progress)
            await self.commit_blocks(dataset.id, [block_id(b.index) for b in blocks])
        except BaseException:
            with anyio.CancelScope(shield=True), contextlib.suppress(SpeechRestError):
                await self.delete(dataset.id)
            raise
        return await self.get(dataset.id)

    async def _upload_blocks(
        self,
        dataset: str,
        blocks: Sequence[FileBlock],
        concurrency: int,
        on_progress: Callable[[int], object] | None,
    ) -> None:
        done = 0

        async def one(_: int, block: FileBlock) -> int:
            await self._put_block(dataset, block_id(block.index), block.body)
            return block.size

        async def progress(size: int) -> None:
            nonlocal done
            done += size
            if on_progress is not None:
                on_progress(done)

        await bounded_map(blocks, one, concurrency, progress)

    async def _put_block(self, dataset: str, block: str, body: Body) -> None:
        await self._api.request(
            "PUT",
            f"/datasets/{dataset}/blocks",
            operation="Datasets_UploadBlock",
            params=query(block_id=block),
            body=body,
        )

    async def upload_block(self, dataset: EntityRef, block: str, data: bytes) -> None:
        """Upload one block of at most 8 MiB (``Datasets_UploadBlock``).

        ``block`` is a Base64 id, at most 64 bytes before encoding and of the same length
        for every block of the dataset. Most callers want :meth:`upload` instead.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidInputError(f"data must be bytes; got {type(data).__name__}")
        payload = bytes(data)
        if not 1 <= len(payload) <= MAX_BLOCK_SIZE:
            raise InvalidInputError(
                f"a block holds 1 to {MAX_BLOCK_SIZE} bytes (8 MiB); got {len(payload)}"
            )
        body = Body(
            open=lambda: payload, content_type="application/octet-stream", length=len(payload)
        )
        await self._put_block(entity_id(dataset, "dataset"), _block(block), body)

    async def get_blocks(self, dataset: EntityRef) -> UploadedBlocks:
        """The blocks uploaded so far (``Datasets_GetBlocks``)."""
        target = self._target(dataset, "dataset", "/blocks")
        return await self._fetch("GET", target, UploadedBlocks, operation="Datasets_GetBlocks")

    async def commit_blocks(
        self, dataset: EntityRef, blocks: Sequence[str | CommitBlocksEntry]
    ) -> None:
        """Assemble the uploaded blocks, in this order, into the dataset's file and start
        processing it (``Datasets_CommitBlocks``). A plain id means an uncommitted block."""
        if isinstance(blocks, str) or not blocks:
            raise InvalidInputError("blocks must be a non-empty list of block ids")
        entries = [
            b
            if isinstance(b, CommitBlocksEntry)
            else CommitBlocksEntry(kind=BlockKind.UNCOMMITTED, id=_block(b))
            for b in blocks
        ]
        target = self._target(dataset, "dataset", "/blocks:commit")
        await self._api.request(
            "POST", target, operation="Datasets_CommitBlocks", json=entries, creates=True
        )

    async def get(self, dataset: EntityRef) -> Dataset:
        """One dataset (``Datasets_Get``)."""
        return await self._get(dataset, Dataset, "Datasets_Get", "dataset")

    async def update(
        self,
        dataset: EntityRef,
        *,
        display_name: str | None = None,
        description: str | None = None,
        project: EntityRef | None = None,
        custom_properties: dict[str, str] | None = None,
    ) -> Dataset:
        """Change the given fields of a dataset (``Datasets_Update``)."""
        body = DatasetUpdate(
            display_name=check.optional(check.name, display_name),
            description=check.optional(check.text, description, "description"),
            project=self._opt_ref(project, "project", "/projects"),
            custom_properties=check.optional(check.custom_properties, custom_properties),
        )
        return await self._update(dataset, body, Dataset, "Datasets_Update", "dataset")

    async def delete(self, dataset: EntityRef) -> None:
        """Delete a dataset (``Datasets_Delete``); succeeds if it does not exist."""
        await self._delete(dataset, "Datasets_Delete", "dataset")

    def list_files(
        self,
        dataset: EntityRef,
        *,
        sas_lifetime_minutes: int | None = None,
        skip: int | None = None,
        top: int | None = None,
        filter: str | None = None,
    ) -> AsyncPager[File]:
        """The files of a dataset (``Datasets_ListFiles``); ``links.content_url`` of each
        is valid for ``sas_lifetime_minutes`` (the service's default: 12 hours)."""
        return self._list_files(
            dataset,
            "Datasets_ListFiles",
            "dataset",
            sas_lifetime_minutes=sas_lifetime_minutes,
            skip=skip,
            top=top,
            filter=filter,
        )

    async def get_file(
        self, dataset: EntityRef, file: EntityRef, *, sas_lifetime_minutes: int | None = None
    ) -> File:
        """One file of a dataset (``Datasets_GetFile``)."""
        return await self._get_file(
            dataset, file, "Datasets_GetFile", "dataset", sas_lifetime_minutes
        )

    async def wait(
        self,
        dataset: EntityRef,
        *,
        policy: PollPolicy | None = None,
        on_status: Callable[[Dataset], object] | None = None,
    ) -> Dataset:
        """Poll ``Datasets_Get`` until the dataset is processed; raise
        :class:`~speechrest.errors.OperationFailedError` if it failed."""
        return await self._wait_for(dataset, Dataset, "Datasets_Get", "dataset", policy, on_status)


def _block(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"a block id must be a non-empty Base64 string; got {value!r}")
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        raise InvalidInputError(f"a block id must be Base64; got {value!r}") from None
    if len(raw) > 64:
        raise InvalidInputError(f"a block id holds at most 64 bytes before encoding; got {value!r}")
    return value
