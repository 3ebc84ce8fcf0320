"""The ``speechrest`` command (needs the ``speechrest[cli]`` extra: click and rich)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

_EXTRA = ("click", "rich")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return its exit status (0 ok, 1 some work failed, 2 bad usage)."""
    try:
        from ._app import run
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in _EXTRA:
            raise
        print(
            "speechrest: the command line needs its extra packages (click, rich): "
            "pip install 'speechrest[cli]'",
            file=sys.stderr,
        )
        return 2
    return run(argv)
