"""Evaluations (``client.evaluations``): compare two models on a test dataset."""

from __future__ import annotations

import builtins
from collections.abc import Callable

from .. import _checks as check
from .._polling import PollPolicy
from ..types import Evaluation, EvaluationUpdate, File
from ._base import AsyncPager
from ._entity import EntityRef, EntityResource

__all__ = ["Evaluations"]


class Evaluations(EntityResource):
    """``client.evaluations``: word error rates of two models on the same audio."""

    _path = "/evaluations"

    async def list_supported_locales(self) -> builtins.list[str]:
        """The locales evaluations can be run for (``Evaluations_ListSupportedLocales``)."""
        return await self._locales("Evaluations_ListSupportedLocales")

    def list(
        self, *, skip: int | None = None, top: int | None = None, filter: str | None = None
    ) -> AsyncPager[Evaluation]:
        """Every evaluation (``Evaluations_List``). ``filter`` may use ``displayName``,
        ``description``, ``createdDateTime``, ``lastActionDateTime``, ``status`` and
        ``locale``."""
        return self._list(Evaluation, "Evaluations_List", skip=skip, top=top, filter=filter)

    async def create(
        self,
        *,
        model1: EntityRef,
        model2: EntityRef,
        dataset: EntityRef,
        locale: str,
        display_name: str,
        description: str | None = None,
        project: EntityRef | None = None,
        custom_properties: dict[str, str] | None = None,
        transcription1: EntityRef | None = None,
        transcription2: EntityRef | None = None,
    ) -> Evaluation:
        """Evaluate ``model1`` and ``model2`` on ``dataset`` (``Evaluations_Create``); then
        ``wait()`` for the figures.

        Models are a custom model's id, or any model's URL or object (pass a base model as
        its object or URL); the dataset is an id, URL or object. ``transcription1`` and
        ``transcription2`` (an id, URL or object) name finished batch transcriptions of the
        dataset's audio made with each model, to be scored instead of transcribing anew.
        """
        body = Evaluation(
            model1=self._ref(model1, "model1", "/models"),
            model2=self._ref(model2, "model2", "/models"),
            dataset=self._ref(dataset, "dataset", "/datasets"),
            locale=check.locale(locale),
            display_name=check.name(display_name),
            description=check.optional(check.text, description, "description"),
            project=self._opt_ref(project, "project", "/projects"),
            custom_properties=check.optional(check.custom_properties, custom_properties),
            transcription1=self._opt_ref(transcription1, "transcription1", "/transcriptions"),
            transcription2=self._opt_ref(transcription2, "transcription2", "/transcriptions"),
        )
        return await self._create(body, Evaluation, "Evaluations_Create")

    async def get(self, evaluation: EntityRef) -> Evaluation:
        """One evaluation (``Evaluations_Get``)."""
        return await self._get(evaluation, Evaluation, "Evaluations_Get", "evaluation")

    async def update(
        self,
        evaluation: EntityRef,
        *,
        display_name: str | None = None,
        description: str | None = None,
        project: EntityRef | None = None,
        custom_properties: dict[str, str] | None = None,
    ) -> Evaluation:
        """Change the given fields of an evaluation (``Evaluations_Update``)."""
        body = EvaluationUpdate(
            display_name=check.optional(check.name, display_name),
            description=check.optional(check.text, description, "description"),
            project=self._opt_ref(project, "project", "/projects"),
            custom_properties=check.optional(check.custom_properties, custom_properties),
        )
        return await self._update(evaluation, body, Evaluation, "Evaluations_Update", "evaluation")

    async def delete(self, evaluation: EntityRef) -> None:
        """Delete an evaluation (``Evaluations_Delete``); succeeds if it does not exist."""
        await self._delete(evaluation, "Evaluations_Delete", "evaluation")

    def list_files(
        self,
        evaluation: EntityRef,
        *,
        sas_lifetime_minutes: int | None = None,
        skip: int | None = None,
        top: int | None = None,
        filter: str | None = None,
    ) -> AsyncPager[File]:
        """The result files of an evaluation, kind ``EvaluationDetails``
        (``Evaluations_ListFiles``)."""
        return self._list_files(
            evaluation,
            "Evaluations_ListFiles",
            "evaluation",
            sas_lifetime_minutes=sas_lifetime_minutes,
            skip=skip,
            top=top,
            filter=filter,
        )

    async def get_file(
        self, evaluation: EntityRef, file: EntityRef, *, sas_lifetime_minutes: int | None = None
    ) -> File:
        """One file of an evaluation (``Evaluations_GetFile``)."""
        return await self._get_file(
            evaluation, file, "Evaluations_GetFile", "evaluation", sas_lifetime_minutes
        )

    async def wait(
        self,
        evaluation: EntityRef,
        *,
        policy: PollPolicy | None = None,
        on_status: Callable[[Evaluation], object] | None = None,
    ) -> Evaluation:
        """Poll ``Evaluations_Get`` until the evaluation is done; raise
        :class:`~speechrest.errors.OperationFailedError` if it failed."""
        return await self._wait_for(
            evaluation, Evaluation, "Evaluations_Get", "evaluation", policy, on_status
        )
