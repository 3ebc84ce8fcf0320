"""Unique ids: ``x-ms-client-request-id`` values and multipart boundaries."""

from __future__ import annotations

import uuid

__all__ = ["unique_id"]


def unique_id() -> str:
    """A random UUID string, unique across processes and machines."""
    return str(uuid.uuid4())
