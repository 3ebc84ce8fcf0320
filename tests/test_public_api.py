"""The public API is what the docs say it is.

Every name a public module exports exists and has a docstring; every name the README uses in
code exists; the README's exception tree is the real one.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib
import importlib.util
import inspect
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import speechrest
from speechrest import errors
from speechrest.testing import FaultPlan, SpeechEmulator
from speechrest.testing._operations import OPERATIONS
from speechrest.webhooks import WebhookReceiver

README = Path(__file__).resolve().parent.parent / "README.md"

PUBLIC_MODULES = [
    "speechrest",
    "speechrest.errors",
    "speechrest.storage",
    "speechrest.pipeline",
    "speechrest.sync",
    "speechrest.testing",
    "speechrest.types",
    "speechrest.webhooks",
]


# -- docstrings ------------------------------------------------------------------------------


def _attribute_docstring(module_name: str, name: str) -> str | None:
    """The docstring under the module-level assignment of ``name`` (an attribute docstring,
    as Sphinx reads it), following ``from .x import name`` to where it is assigned."""
    module = importlib.import_module(module_name)
    body = ast.parse(inspect.getsource(module)).body
    for node, following in zip(body, [*body[1:], None], strict=True):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    source = "." * node.level + (node.module or "")
                    origin = importlib.util.resolve_name(source, module.__package__)
                    return _attribute_docstring(origin, alias.name)
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            if (
                isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                return following.value.value
            return None
    return None


def _docstring(module: ModuleType, name: str) -> str | None:
    obj = getattr(module, name)
    if inspect.isclass(obj):
        return obj.__dict__.get("__doc__")  # its own, not one inherited from a base class
    if inspect.ismodule(obj) or inspect.isroutine(obj):
        return obj.__doc__
    # A constant or a type alias: its value's __doc__ is that of str, dict, ...
    return _attribute_docstring(module.__name__, name)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_export_exists_and_has_a_docstring(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert (module.__doc__ or "").strip(), f"{module_name} has no docstring"
    exported = list(module.__all__)
    assert len(set(exported)) == len(exported), "a name is exported twice"
    missing = [name for name in exported if not hasattr(module, name)]
    assert missing == [], f"{module_name}.__all__ names what it does not have"
    undocumented = [name for name in exported if not (_docstring(module, name) or "").strip()]
    assert undocumented == [], f"exported by {module_name} without a docstring"


def _undocumented_members(cls: type) -> list[str]:
    """Public methods and properties of ``cls`` (and of its speechrest base classes) that
    have no docstring."""
    missing = []
    for klass in cls.__mro__:
        if not klass.__module__.startswith("speechrest"):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_"):
                continue
            if isinstance(value, property):
                value = value.fget
            elif isinstance(value, classmethod | staticmethod):
                value = value.__func__
            elif not inspect.isfunction(value):
                continue
            if not (getattr(value, "__doc__", None) or "").strip():
                missing.append(f"{cls.__name__}.{name}")
    return missing


def test_every_public_method_and_property_has_a_docstring() -> None:
    classes = [
        obj
        for module_name in PUBLIC_MODULES
        for obj in vars(importlib.import_module(module_name)).values()
        if inspect.isclass(obj)
        and obj.__module__.startswith("speechrest")
        and not obj.__name__.startswith("_")
    ]
    client = speechrest.SpeechClient("http://127.0.0.1:9", key="unused")
    classes += [type(group) for name, group in vars(client).items() if not name.startswith("_")]
    assert len(classes) > 100
    undocumented = sorted({name for cls in classes for name in _undocumented_members(cls)})
    assert undocumented == []


def test_the_docstring_check_sees_what_it_checks() -> None:
    assert _docstring(speechrest, "DEFAULT_API_VERSION")
    assert _docstring(speechrest, "__version__")
    assert _docstring(speechrest.types, "DatasetLocales")  # a type alias
    assert _docstring(errors, "SpeechRestError")
    assert _attribute_docstring("speechrest.webhooks", "no_such_name") is None

    class Undocumented(errors.SpeechRestError):
        pass

    fake = ModuleType("fake")
    fake.Undocumented = Undocumented  # type: ignore[attr-defined]
    assert _docstring(fake, "Undocumented") is None  # the base class's docstring is not its own

    class Members(errors.SpeechRestError):
        """Documented."""

        def method(self) -> None:
            pass

        @property
        def prop(self) -> int:
            return 1

    Members.__module__ = "speechrest.fake"
    assert _undocumented_members(Members) == ["Members.method", "Members.prop"]


# -- the README ------------------------------------------------------------------------------


def _readme() -> str:
    """The README and the documentation pages (``docs/``), where the README's detail lives."""
    pages = [README, *sorted((README.parent / "docs").rglob("*.md"))]
    return "\n".join(page.read_text(encoding="utf-8") for page in pages)


def _fenced_blocks(text: str) -> list[str]:
    return re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def _inline_spans(text: str) -> list[str]:
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.DOTALL | re.MULTILINE)
    return re.findall(r"`([^`\n]+)`", prose)


def _code(text: str) -> str:
    """Every piece of code in the README: fenced blocks and inline code spans."""
    return "\n".join([*_fenced_blocks(text), *_inline_spans(text)])


def _imports(code: str) -> dict[str, str]:
    """``{name: module}`` for every ``from speechrest... import name``."""
    found = {}
    pattern = r"from (speechrest(?:\.\w+)*) import (?:\(([\w\s,]+)\)|([\w ,]+))"
    for module, *names in re.findall(pattern, code):
        for name in re.split(r"[\s,]+", "".join(names).strip()):
            if name:
                found[name] = module
    return found


def _resolve(root: Any, attributes: list[str]) -> str | None:
    """Follow ``root.a.b.c``; return the first name that is missing, or None."""
    obj = root
    for i, name in enumerate(attributes):
        try:
            inspect.getattr_static(obj, name)  # exists, without running a property
        except AttributeError:
            return ".".join(attributes[: i + 1])
        if i < len(attributes) - 1:
            obj = getattr(obj, name)
    return None


def _package_source() -> str:
    return "".join(p.read_text() for p in Path(speechrest.__file__).parent.rglob("*.py"))


def _readme_references() -> dict[str, str | None]:
    """Every public name the README uses in code, with what is missing of it (None: found)."""
    code = _code(_readme())
    refs: dict[str, str | None] = {}
    imported = _imports(code)
    for name, module in imported.items():
        refs[f"{module}.{name}"] = _resolve(importlib.import_module(module), [name])
    for dotted in re.findall(r"\bspeechrest(?:\.\w+)+", code):
        parts = dotted.split(".")
        for end in range(2, len(parts) + 1):  # submodules are attributes once imported
            with contextlib.suppress(ImportError):
                importlib.import_module(".".join(parts[:end]))
        refs[dotted] = _resolve(speechrest, parts[1:])
        if refs[dotted] and f'"{dotted}"' in _package_source():  # a name it emits (span attribute)
            refs[dotted] = None
    # Attributes of imported names (SpeechClient.from_env, errors.RateLimitError,
    # Fault.respond), and of the objects the examples name client, emulator/emu and plan.
    roots: dict[str, Any] = {
        name: getattr(importlib.import_module(module), name) for name, module in imported.items()
    }
    roots["client"] = speechrest.SpeechClient("http://127.0.0.1:9", key="unused")
    roots["emulator"] = roots["emu"] = SpeechEmulator()
    roots["plan"] = FaultPlan()
    roots["receiver"] = WebhookReceiver(secret="unused")
    blocking = importlib.import_module("speechrest.sync").SpeechClient  # also named `client`
    for root, chain in re.findall(r"(?<![\w.])(\w+)((?:\.\w+)+)", code):
        if root in roots:
            names = chain.lstrip(".").split(".")
            missing = _resolve(roots[root], names)
            if missing and root == "client":
                missing = _resolve(blocking, names) and missing
            refs[root + chain] = missing
    # A class named on its own in the text (`ScriptedRecognizer`, `Timing(...)`; not `ICMT`).
    exported = {n for m in PUBLIC_MODULES for n in importlib.import_module(m).__all__}
    for span in _inline_spans(_readme()):
        bare = re.fullmatch(r"([A-Z]\w*[a-z]\w*)(?:\(.*\))?", span)
        if bare and not hasattr(builtins, bare[1]):
            # `Transcriptions_Get` is an operationId; other names are exported classes.
            known = OPERATIONS if "_" in bare[1] else exported
            refs[bare[1]] = None if bare[1] in known else bare[1]
    return refs


def test_every_name_the_readme_uses_exists() -> None:
    refs = _readme_references()
    missing = sorted(f"{ref} ({gone} is missing)" for ref, gone in refs.items() if gone)
    assert missing == []


def test_the_readme_check_sees_the_readme() -> None:
    """The extraction finds what the README shows, so the check above cannot pass vacuously."""
    refs = _readme_references()
    for expected in [
        "speechrest.SpeechClient",  # from speechrest import SpeechClient
        "speechrest.webhooks.WebhookReceiver",
        "speechrest.testing.FaultPlan",
        "speechrest.PollPolicy",
        "SpeechClient.from_region",
        "errors.UnprocessableEntityError",
        "Fault.respond",
        "client.transcriptions.wait_many",
        "client.webhooks.ensure_active",
        "emulator.faults.injected",
        "plan.record",
        "receiver.on",
        "PocketSphinxRecognizer",  # `PocketSphinxRecognizer()` in the text
    ]:
        assert expected in refs, expected
    assert len(refs) > 60
    assert _resolve(speechrest, ["SpeechClient", "no_such_method"]) == "SpeechClient.no_such_method"


def _error_tree() -> list[tuple[int, list[str]]]:
    """The README's exception tree: (depth, names) per line."""
    [tree] = [b for b in _fenced_blocks(_readme()) if b.startswith("SpeechRestError\n")]
    lines = []
    for line in tree.splitlines():
        indent, entry = re.fullmatch(r"([│├└─ ]*)(.*)", line).groups()  # type: ignore[union-attr]
        named = re.split(r"\s{2,}", entry)[0]  # the names, not the description after them
        names = re.findall(r"\b[A-Z]\w*Error\b", named)
        if names:
            lines.append((len(indent) // 4, names))
    return lines


def test_the_readme_exception_tree_is_the_real_one() -> None:
    tree = _error_tree()
    shown = [name for _, names in tree for name in names]
    assert sorted(shown) == sorted(errors.__all__), "the tree and speechrest.errors differ"
    parents: dict[int, str] = {}
    for depth, names in tree:
        for name in names:
            cls = getattr(errors, name)
            if depth:
                parent = parents[depth - 1]
                assert issubclass(cls, getattr(errors, parent)), f"{name} is not a {parent}"
        parents[depth] = names[0]
