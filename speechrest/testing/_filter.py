"""The list ``filter`` grammar of the service.

::

    expr       := or
    or         := and ("or" and)*
    and        := unary ("and" unary)*
    unary      := "not" unary | "(" expr ")" | comparison
    comparison := property op literal
    op         := eq | ne | gt | ge | lt | le
    literal    := 'text' (a quote doubled inside) | 2024-01-31T10:00:00Z | number
                  | true | false | null

``eq`` and ``ne`` apply to every filterable property; ``gt``, ``ge``, ``lt`` and ``le`` only
to date-time properties (names ending in ``DateTime``), compared as instants. Keywords are
case-insensitive; property names and string values are not. A property that the list does
not allow, or a malformed expression, raises :class:`FilterError` (the emulator answers
400 ``InvalidArgument`` / ``UnsupportedFilter``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = ["FILTERABLE", "FilterError", "apply_filter", "compile_filter"]

_COMMON = frozenset(
    {"displayName", "description", "createdDateTime", "lastActionDateTime", "status", "locale"}
)
FILTERABLE: Mapping[str, frozenset[str]] = {
    "datasets": _COMMON | {"kind"},
    "endpoints": _COMMON,
    "models": _COMMON,
    "base_models": _COMMON,
    "transcriptions": _COMMON,
    "evaluations": _COMMON,
    "projects": frozenset(
        {"displayName", "description", "createdDateTime", "locale", "foundryProjectName"}
    ),
    "webhooks": frozenset(
        {
            "displayName",
            "description",
            "createdDateTime",
            "lastActionDateTime",
            "status",
            "webUrl",
        }
    ),
    "files": frozenset({"name", "createdDateTime", "kind"}),
}
"""The filterable properties of each list, as the API documents them."""

Predicate = Callable[[Mapping[str, Any]], bool]

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<paren>[()])
    | (?P<string>'(?:[^']|'')*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?
                   (?:Z|[+-]\d{2}:\d{2})?)
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and b is not None and a > b,
    "ge": lambda a, b: a is not None and b is not None and a >= b,
    "lt": lambda a, b: a is not None and b is not None and a < b,
    "le": lambda a, b: a is not None and b is not None and a <= b,
}
_KEYWORDS = frozenset({"and", "or", "not", *_OPS})
_ORDERING = frozenset({"gt", "ge", "lt", "le"})
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}


class FilterError(ValueError):
    """The filter expression is not valid for this list."""


def _tokenize(expr: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    expr = expr.rstrip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None or m.end() == pos:
            raise FilterError(f"Unsupported filter: unexpected text at position {pos}: {expr!r}.")
        kind = m.lastgroup
        assert kind is not None
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


def _parse_datetime(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class _Parser:
    def __init__(self, expr: str, filterable: frozenset[str]) -> None:
        self.expr = expr
        self.tokens = _tokenize(expr)
        self.pos = 0
        self.filterable = filterable

    def fail(self, why: str) -> FilterError:
        return FilterError(f"Unsupported filter {self.expr!r}: {why}.")

    def peek_keyword(self) -> str | None:
        if self.pos < len(self.tokens) and self.tokens[self.pos][0] == "word":
            word = self.tokens[self.pos][1].lower()
            return word if word in _KEYWORDS else None
        return None

    def next(self, what: str) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise self.fail(f"expected {what} at the end")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse(self) -> Predicate:
        if not self.tokens:
            raise self.fail("the expression is empty")
        predicate = self.parse_or()
        if self.pos != len(self.tokens):
            raise self.fail(f"unexpected {self.tokens[self.pos][1]!r}")
        return predicate

    def parse_or(self) -> Predicate:
        parts = [self.parse_and()]
        while self.peek_keyword() == "or":
            self.pos += 1
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else (lambda item: any(p(item) for p in parts))

    def parse_and(self) -> Predicate:
        parts = [self.parse_unary()]
        while self.peek_keyword() == "and":
            self.pos += 1
            parts.append(self.parse_unary())
        return parts[0] if len(parts) == 1 else (lambda item: all(p(item) for p in parts))

    def parse_unary(self) -> Predicate:
        if self.peek_keyword() == "not":
            self.pos += 1
            inner = self.parse_unary()
            return lambda item: not inner(item)
        kind, text = self.next("a comparison")
        if kind == "paren" and text == "(":
            inner = self.parse_or()
            kind, text = self.next("')'")
            if (kind, text) != ("paren", ")"):
                raise self.fail(f"expected ')' but found {text!r}")
            return inner
        if kind != "word" or text.lower() in _KEYWORDS:
            raise self.fail(f"expected a property name but found {text!r}")
        return self.parse_comparison(text)

    def parse_comparison(self, prop: str) -> Predicate:
        if prop not in self.filterable:
            allowed = ", ".join(sorted(self.filterable))
            raise self.fail(f"the property {prop!r} cannot be filtered on; use one of {allowed}")
        kind, op = self.next("an operator")
        op = op.lower()
        if kind != "word" or op not in _OPS:
            raise self.fail(f"expected eq, ne, gt, ge, lt or le after {prop!r}, found {op!r}")
        is_datetime = prop.endswith("DateTime")
        if op in _ORDERING and not is_datetime:
            raise self.fail(f"{op} applies only to date-time properties, not {prop!r}")
        literal = self.parse_literal(is_datetime)
        compare = _OPS[op]
        if is_datetime and literal is not None:
            return lambda item: compare(_parse_datetime(str(item.get(prop) or "")), literal)
        return lambda item: compare(item.get(prop), literal)

    def parse_literal(self, is_datetime: bool) -> Any:
        kind, text = self.next("a value")
        if kind == "string":
            value: Any = text[1:-1].replace("''", "'")
        elif kind == "datetime":
            value = text
        elif kind == "number":
            value = float(text) if "." in text else int(text)
        elif kind == "word" and text.lower() in _LITERALS:
            return _LITERALS[text.lower()]
        else:
            raise self.fail(f"expected a value but found {text!r}")
        if is_datetime:
            instant = _parse_datetime(str(value))
            if instant is None:
                raise self.fail(f"{text!r} is not an ISO 8601 date-time")
            return instant
        if kind == "datetime":
            raise self.fail(f"quote the text value {text!r}")
        return value


def compile_filter(expr: str, filterable: Sequence[str] | frozenset[str] | set[str]) -> Predicate:
    """A predicate over wire-shaped entities for ``expr``; raises FilterError."""
    return _Parser(expr, frozenset(filterable)).parse()


def apply_filter(
    items: list[Mapping[str, Any]], expr: str, filterable: set[str]
) -> list[Mapping[str, Any]]:
    """The items matching ``expr``."""
    predicate = compile_filter(expr, filterable)
    return [item for item in items if predicate(item)]
