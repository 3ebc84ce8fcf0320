"""MkDocs hook: the docstrings' reStructuredText habits shown as the reader expects.

The docstrings are written for both Python's ``help()`` and this site. On the site a role
prefix would show as text (":class:X"), so it is dropped (``~a.b.C`` shows as ``C``), and the
``::`` that introduces an example shows as one colon, as Sphinx shows it.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:attr|class|data|exc|func|meth|mod|obj):<code>(~?)([^<]*)</code>")


def _code(match: re.Match[str]) -> str:
    short, name = match.groups()
    return f"<code>{name.rsplit('.', 1)[-1] if short else name}</code>"


def on_page_content(html: str, **_: Any) -> str:
    return _ROLE.sub(_code, html).replace("::</p>", ":</p>")
