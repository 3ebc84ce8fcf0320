"""The list ``filter`` grammar of the service (eq, ne, gt, ge, lt, le, and, or, not)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["FilterError", "apply_filter"]


class FilterError(ValueError):
    """The filter expression is not valid for this list."""


def apply_filter(
    items: list[Mapping[str, Any]], expr: str, filterable: set[str]
) -> list[Mapping[str, Any]]:
    """The items matching ``expr``."""
    raise FilterError(f"Unsupported filter: {expr!r}.")
