"""MkDocs hook: the docstrings' Sphinx roles (``:class:`X```) shown as plain code.

The docstrings are written for both Python's ``help()`` and this site; on the site a role
prefix would show as text (":class:X"), so it is dropped, and ``~a.b.C`` shows as ``C``.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:attr|class|data|exc|func|meth|mod|obj):<code>(~?)([^<]*)</code>")


def _code(match: re.Match[str]) -> str:
    short, name = match.groups()
    return f"<code>{name.rsplit('.', 1)[-1] if short else name}</code>"


def on_page_content(html: str, **_: Any) -> str:
    return _ROLE.sub(_code, html)
