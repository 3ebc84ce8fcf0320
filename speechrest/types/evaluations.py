"""Evaluations: compare the accuracy of two models on a test dataset (``Evaluations_*``)."""

from __future__ import annotations

from datetime import datetime

import attrs

from ._common import EntityError, EntityReference, Identified, Status

__all__ = [
    "EditsSummary",
    "Evaluation",
    "EvaluationLinks",
    "EvaluationProperties",
    "EvaluationUpdate",
    "TokenErrorDetails",
]


@attrs.frozen(kw_only=True)
class EditsSummary:
    """How many token edits of one kind (punctuation, capitalization, ...) an evaluation
    counted, and their share of all edits (see :class:`TokenErrorDetails`)."""

    number_of_edits: int | None = None
    """Edits of this kind."""
    percentage_of_all_edits: float | None = None
    """Their share of all edits, in percent."""


@attrs.frozen(kw_only=True)
class TokenErrorDetails:
    """Token edits by kind."""

    punctuation: EditsSummary | None = None
    """Punctuation edits."""
    capitalization: EditsSummary | None = None
    """Capitalization edits."""
    inverse_text_normalization: EditsSummary | None = None
    """Inverse text normalization edits (e.g. "twenty" vs "20")."""
    lexical: EditsSummary | None = None
    """Lexical edits (different words)."""
    others: EditsSummary | None = None
    """Other edits."""


@attrs.frozen(kw_only=True)
class EvaluationProperties:
    """Accuracy figures of model1 (suffix 1) and model2 (suffix 2)."""

    word_error_rate1: float | None = None
    """Word error rate of model1."""
    sentence_error_rate1: float | None = None
    """Sentence error rate of model1."""
    token_error_rate1: float | None = None
    """Token error rate of model1."""
    sentence_count1: int | None = None
    """Sentences processed with model1."""
    word_count1: int | None = None
    """Words processed with model1."""
    correct_word_count1: int | None = None
    """Words model1 recognized correctly."""
    word_substitution_count1: int | None = None
    """Words model1 substituted."""
    word_deletion_count1: int | None = None
    """Words model1 deleted."""
    word_insertion_count1: int | None = None
    """Words model1 inserted."""
    token_count1: int | None = None
    """Tokens processed with model1."""
    correct_token_count1: int | None = None
    """Tokens model1 recognized correctly."""
    token_substitution_count1: int | None = None
    """Tokens model1 substituted."""
    token_deletion_count1: int | None = None
    """Tokens model1 deleted."""
    token_insertion_count1: int | None = None
    """Tokens model1 inserted."""
    token_errors1: TokenErrorDetails | None = None
    """Token edits of model1, by kind."""
    word_error_rate2: float | None = None
    """Word error rate of model2."""
    sentence_error_rate2: float | None = None
    """Sentence error rate of model2."""
    token_error_rate2: float | None = None
    """Token error rate of model2."""
    sentence_count2: int | None = None
    """Sentences processed with model2."""
    word_count2: int | None = None
    """Words processed with model2."""
    correct_word_count2: int | None = None
    """Words model2 recognized correctly."""
    word_substitution_count2: int | None = None
    """Words model2 substituted."""
    word_deletion_count2: int | None = None
    """Words model2 deleted."""
    word_insertion_count2: int | None = None
    """Words model2 inserted."""
    token_count2: int | None = None
    """Tokens processed with model2."""
    correct_token_count2: int | None = None
    """Tokens model2 recognized correctly."""
    token_substitution_count2: int | None = None
    """Tokens model2 substituted."""
    token_deletion_count2: int | None = None
    """Tokens model2 deleted."""
    token_insertion_count2: int | None = None
    """Tokens model2 inserted."""
    token_errors2: TokenErrorDetails | None = None
    """Token edits of model2, by kind."""
    error: EntityError | None = None
    """Why the evaluation failed, when it did."""


@attrs.frozen(kw_only=True)
class EvaluationLinks:
    """Links of an evaluation (``links``)."""

    files: str | None = None
    """``Evaluations_ListFiles``."""


@attrs.frozen(kw_only=True)
class Evaluation(Identified):
    """An evaluation of two models on one dataset. Its ``status`` ends ``Succeeded``."""

    display_name: str
    """The display name (at least one character)."""
    description: str | None = None
    """A description."""
    custom_properties: dict[str, str] | None = None
    """Up to 10 entries; keys up to 64 characters, values up to 256."""
    self_: str | None = None
    """The evaluation's URL."""
    created_date_time: datetime | None = None
    """When the evaluation was created."""
    last_action_date_time: datetime | None = None
    """When the current status was entered."""
    model1: EntityReference
    """The first model (custom or base)."""
    model2: EntityReference
    """The second model (custom or base)."""
    dataset: EntityReference
    """The test dataset (audio with human-labelled transcripts)."""
    transcription1: EntityReference | None = None
    """The transcription made with model1."""
    transcription2: EntityReference | None = None
    """The transcription made with model2."""
    project: EntityReference | None = None
    """The project the evaluation belongs to."""
    links: EvaluationLinks | None = None
    """Where the evaluation's files are listed."""
    locale: str
    """The locale, e.g. ``en-US``."""
    properties: EvaluationProperties | None = None
    """The accuracy figures, once it has succeeded."""
    status: Status | None = None
    """``NotStarted``, ``Running``, ``Succeeded`` or ``Failed``."""


@attrs.frozen(kw_only=True)
class EvaluationUpdate:
    """The body of ``Evaluations_Update``: only the fields given are changed."""

    display_name: str | None = None
    """A new display name."""
    description: str | None = None
    """A new description."""
    project: EntityReference | None = None
    """Move the evaluation to this project."""
    custom_properties: dict[str, str] | None = None
    """New custom properties."""
