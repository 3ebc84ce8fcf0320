"""``speechrest batch``: batch transcription jobs."""

from __future__ import annotations

import click

__all__ = ["batch"]


@click.group()
def batch() -> None:
    """Batch transcription: submit audio URLs, wait, download results."""
