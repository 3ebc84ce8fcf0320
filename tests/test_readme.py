"""Every code block of the README and of the documentation pages (``docs/**/*.md``) runs, as
a user would run it.

Each fenced block is preceded by a ``<!-- readme-test: MODE [NAME] -->`` comment that says
how it is exercised:

- ``python``: a complete program, saved to a file and run with ``python`` in a folder holding
  the files the pages name (``call.wav``, ``stereo.wav``, ``calls/*.wav``, ``calls.zip``),
  with ``SPEECH_ENDPOINT`` and ``SPEECH_KEY`` pointing at a ``speechrest emulator`` (as the
  docs tell a user without an Azure resource to do);
- ``pytest``: a test module, saved and run with ``python -m pytest``;
- ``server``: a web app, imported from a file, served on loopback and sent a request;
- ``shell``: a bash script run in that folder (``.venv/bin`` is this interpreter's);
- ``console``: a command and what it prints, compared line by line;
- ``install`` and ``ci``: install commands, checked against ``pyproject.toml`` and run by
  ``.ci/run`` (the ``ci`` block is the README's test command);
- ``text``: not code (a diagram).

``test_every_block_is_exercised`` fails on a block without a marker; snippet names are unique
across all pages. The programs are also type-checked with ``mypy --strict``
(``tests/test_typing.py``), and the site itself is built with ``mkdocs build --strict``.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import tomllib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import anyio
import attrs
import pytest
from aiohttp import web

from speechrest import SpeechClient
from tests.azurite import Azurite, azurite  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
SAMPLE = ROOT / "speechrest" / "samples" / "hello.wav"
SAID = "Please call me back tomorrow morning."
MODES = {"python", "pytest", "server", "shell", "console", "install", "ci", "text"}
_MARKER = re.compile(r"<!-- readme-test: ([a-z]+)(?: ([\w-]+))? -->")


@attrs.frozen
class Snippet:
    mode: str
    name: str
    language: str
    code: str
    page: str
    line: int

    def __str__(self) -> str:
        return f"{self.mode}:{self.name}"


def pages() -> list[Path]:
    """The README and every documentation page, the README first."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def page_name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def readme_blocks(text: str) -> list[tuple[int, str, str, list[str]]]:
    """(line, language, code, markers) of every fenced block; the markers are the
    ``readme-test`` comments on the lines right above it."""
    lines = text.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\S*)\s*$", lines[i])
        if fence is None:
            i += 1
            continue
        markers, j = [], i - 1
        while j >= 0 and lines[j].startswith("<!--"):
            markers += [" ".join(m) for m in _MARKER.findall(lines[j])]
            j -= 1
        end = lines.index("```", i + 1)
        blocks.append((i + 1, fence[1], "\n".join(lines[i + 1 : end]) + "\n", markers))
        i = end + 1
    return blocks


def snippets(mode: str | None = None) -> list[Snippet]:
    found = []
    for page in pages():
        for line, language, code, markers in readme_blocks(page.read_text(encoding="utf-8")):
            for marker in markers:
                kind, _, name = marker.partition(" ")
                name = name or f"line{line}"
                found.append(Snippet(kind, name, language, code, page_name(page), line))
    return [s for s in found if mode is None or s.mode == mode]


def test_every_block_is_exercised() -> None:
    unmarked = [
        f"{page_name(page)}:{line}"
        for page in pages()
        for line, _, _, markers in readme_blocks(page.read_text(encoding="utf-8"))
        if len(markers) != 1
    ]
    assert unmarked == [], "blocks (page:line) without exactly one readme-test marker"
    all_snippets = snippets()
    assert {s.mode for s in all_snippets} <= MODES
    named = [str(s) for s in all_snippets if s.mode not in ("text", "install", "ci")]
    assert len(named) == len(set(named)), "two snippets share a name"
    for snippet in all_snippets:
        if snippet.mode in ("python", "pytest", "server"):
            assert snippet.language == "python", snippet
            compile(snippet.code, str(snippet), "exec")  # complete, valid Python
        if snippet.mode == "text":
            assert snippet.language == "text", snippet
    # The blocks a user runs, each run by a test below.
    assert len(snippets("python")) >= 8 and len(snippets("server")) == 3


def test_install_commands_name_real_extras() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    for snippet in [*snippets("install"), *snippets("ci")]:
        for group in re.findall(r"'\.\[([\w,]+)\]'", snippet.code):
            assert set(group.split(",")) <= set(extras), snippet.code


def test_the_ci_script_runs_the_readme_test_command() -> None:
    [ci] = snippets("ci")
    assert ci.page == "README.md"
    awk = "/<!-- test-command -->/{getline; while ($0 ~ /^```/) getline; print; exit}"
    assert awk in (ROOT / ".ci" / "run").read_text()
    command = subprocess.run(
        ["awk", awk, str(README)], capture_output=True, text=True, check=True
    ).stdout
    assert command == ci.code
    assert "pytest" in command


# -- where the snippets run ------------------------------------------------------------------


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the files the README's snippets name, written by its own program."""
    folder = tmp_path_factory.mktemp("readme")
    script = folder / "files.py"
    script.write_text(by_name("python")["files"].code)
    done = run([sys.executable, str(script)], folder, dict(os.environ))
    assert done.returncode == 0, done.stderr
    (folder / "speechrest" / "samples").mkdir(parents=True)  # as in a clone of the project
    shutil.copy(SAMPLE, folder / "speechrest" / "samples" / "hello.wav")
    (folder / "examples").symlink_to(ROOT / "examples")
    (folder / ".venv").symlink_to(Path(sys.prefix))
    return folder


@pytest.fixture(scope="module")
def files_url(workdir: Path) -> Iterator[str]:
    """The work folder over HTTP (as blob storage serves files), for batch jobs."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(workdir))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def speechrest_emulator(*args: str) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """``speechrest emulator`` in a subprocess, with the lines it printed first."""
    process = subprocess.Popen(
        [sys.executable, "-m", "speechrest", "emulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        printed: list[str] = []
        while not printed or not printed[-1].startswith("SPEECH_KEY="):
            line = process.stdout.readline()
            assert line, "the emulator exited"
            printed.append(line.rstrip("\n"))
        yield process, printed
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)


@pytest.fixture(scope="module")
def speech_env(files_url: str) -> Iterator[dict[str, str]]:
    """The environment a user gets by exporting what ``speechrest emulator`` prints."""
    with speechrest_emulator("--port", "0", "--recognizer", "deterministic") as (_, printed):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPEECH")}
        env.update(line.split("=", 1) for line in printed if line.startswith("SPEECH_"))
        env["CALL_URL"] = f"{files_url}/call.wav"
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        yield env


def by_name(mode: str) -> dict[str, Snippet]:
    return {s.name: s for s in snippets(mode)}


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False
    )


# -- python programs -------------------------------------------------------------------------

PROGRAM_OUTPUT = {
    "files": [],
    "storage": [f"calls/call{i}.wav {SAID}" for i in range(3)],
    "pipeline": [
        "3 inputs: 1 transcribed, 0 failed, 2 rejected",
        "done ('call0.json',) None",
        "rejected () duplicate: same content as",
    ],
    "use": [SAID],
    "taste": [SAID, "-->", "Speaker "],
    "fast": [SAID, "-->", "channel 0:", "channel 1:"],
    "many": [f"calls/call{i}.wav {SAID}" for i in range(3)],
    "batch": [SAID, "failed inputs: []", " True None"],
    "custom-speech": [f"Succeeded {SAID}"],
    "projects": ["support calls holds calls Succeeded"],
    "evaluations": ["word error rates: 0.0 0.0", "EvaluationDetails "],
    "model-copy": ["Succeeded http://127.0.0.1:"],
    "sync": [
        f"{SAID}\n",
        *(f"calls/call{i}.wav {SAID}\n" for i in range(3)),
        "status: Succeeded\n",
        " Succeeded\n",
    ],
    "tracing": [
        f"{SAID}\n",
        "CLIENT POST http://127.0.0.1:",
        "INTERNAL speechrest transcribe\n",
        "INTERNAL handle call",
        "INTERNAL speechrest transcriptions.submit submitted\n",
        "INTERNAL speechrest transcriptions.wait status_changed",
        "sig=REDACTED",
        "INTERNAL speechrest transcriptions.results results_read\n",
    ],
    "errors": [f"call.wav {SAID}", "missing.wav not sent: audio file not found", "refused: "],
    "retries": [SAID],
    "faults": [SAID, "submit failed: APIConnectionError", "'http_503': 2"],
    "quotas": ["QuotaStats(limit=", "429s answered: "],
}


@pytest.mark.parametrize("name", sorted(PROGRAM_OUTPUT))
def test_python_program(
    name: str, workdir: Path, speech_env, files_url: str, request: pytest.FixtureRequest
) -> None:
    snippet = by_name("python")[name]
    script = workdir / f"readme_{name.replace('-', '_')}.py"
    script.write_text(snippet.code)
    args = [f"{files_url}/call.wav"] if name == "batch" else []
    if name in ("storage", "pipeline"):  # a container with a SAS, in Azurite
        storage: Azurite = request.getfixturevalue("azurite")
        args = [storage.sas_url(anyio.run(storage.create), "rlw")]
    done = run([sys.executable, str(script), *args], workdir, speech_env)
    assert done.returncode == 0, done.stderr
    assert speech_env["SPEECH_KEY"] not in done.stdout + done.stderr  # never printed
    assert "sig=" not in done.stdout.replace("sig=REDACTED", "")  # SAS signatures redacted
    for expected in PROGRAM_OUTPUT[name]:
        assert expected in done.stdout, (expected, done.stdout)
    if name == "batch":
        assert "tomorrow morning." in (workdir / "call.srt").read_text()


def test_every_program_is_run() -> None:
    assert set(by_name("python")) == set(PROGRAM_OUTPUT)


# -- pytest modules --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["triage", "batch-results", "keyless"])
def test_pytest_module(name: str, tmp_path: Path) -> None:
    snippet = by_name("pytest")[name]
    (tmp_path / f"test_{name.replace('-', '_')}.py").write_text(snippet.code)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPEECH", "PYTEST"))}
    done = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], tmp_path, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_every_pytest_module_is_run() -> None:
    assert set(by_name("pytest")) == {"triage", "batch-results", "keyless"}


# -- servers ---------------------------------------------------------------------------------


def load(snippet: Snippet, folder: Path) -> ModuleType:
    path = folder / f"readme_{snippet.name}.py"
    path.write_text(snippet.code)
    spec = importlib.util.spec_from_file_location(f"readme_{snippet.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def as_user(monkeypatch, speech_env: dict[str, str]) -> dict[str, str]:
    for name in ("SPEECH_ENDPOINT", "SPEECH_KEY"):
        monkeypatch.setenv(name, speech_env[name])
    return speech_env


@contextlib.asynccontextmanager
async def aiohttp_serving(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


async def post_audio(url: str, path: Path) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http:
        form = aiohttp.FormData()
        form.add_field("audio", path.read_bytes(), filename=path.name, content_type="audio/wav")
        async with http.post(url, data=form) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()


def not_audio(folder: Path) -> Path:
    path = folder / "not-audio.wav"
    path.write_text("These are notes, not audio.")
    return path


@pytest.mark.anyio
async def test_server_fastapi(as_user, workdir: Path) -> None:
    from tests.test_web_backends import uvicorn_serving

    app = load(by_name("server")["fastapi"], workdir).app
    async with uvicorn_serving(app, lifespan="on") as base:
        url = f"{base}/transcribe"
        assert await post_audio(url, workdir / "call.wav") == (200, {"text": SAID})
        status, body = await post_audio(url, not_audio(workdir))
    assert status == 422 and "audio" in body["detail"]  # the service's message


@pytest.mark.anyio
async def test_server_aiohttp(as_user, workdir: Path) -> None:
    app = load(by_name("server")["aiohttp"], workdir).app
    async with aiohttp_serving(app) as base:
        url = f"{base}/transcribe"
        assert await post_audio(url, workdir / "call.wav") == (200, {"text": SAID})
        status, body = await post_audio(url, not_audio(workdir))
    assert status == 422 and "audio" in body  # the service's message


@pytest.mark.anyio
async def test_server_webhooks(as_user, monkeypatch, capsys, workdir: Path, files_url) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", "a secret of at least sixteen characters")
    app = load(by_name("server")["webhooks"], workdir).app
    async with (
        aiohttp_serving(app) as base,
        SpeechClient.from_env() as client,
    ):
        hook = await client.webhooks.create(
            f"{base}/speech-events/",
            events=["transcriptionCompletion"],
            secret=os.environ["WEBHOOK_SECRET"],
        )
        await client.webhooks.wait(hook)  # the challenge was answered
        job = await client.transcriptions.submit(
            content_urls=[f"{files_url}/call.wav"], locale="en-US"
        )
        printed = ""
        with anyio.fail_after(60):
            while f"transcription finished: {job.id}" not in printed:
                await anyio.sleep(0.05)
                printed += capsys.readouterr().out
        await client.webhooks.delete(hook)


def test_every_server_is_run() -> None:
    assert set(by_name("server")) == {"fastapi", "aiohttp", "webhooks"}


# -- shell scripts and console sessions ------------------------------------------------------

SHELL_CHECKS = {
    "quick-start": lambda done, folder: done.stdout == SAID + "\n",
    "examples": lambda done, folder: (
        (folder / "transcripts" / "hello.txt").read_text() == SAID + "\n"
    ),
    "cli-fast": lambda done, folder: (
        "tomorrow morning." in (folder / "call.srt").read_text()
        and sorted(p.name for p in (folder / "subs").iterdir())
        == ["stereo.ch0.srt", "stereo.ch1.srt"]
        and len((folder / "results.jsonl").read_text().splitlines()) == 3
        and len(list((folder / "subtitles").glob("*.vtt"))) == 3
    ),
    "cli-batch": lambda done, folder: (
        "tomorrow morning." in (folder / "subtitles" / "call.srt").read_text()
        and "deleted " in done.stdout
    ),
    "cli-local": lambda done, folder: "tomorrow morning." in done.stdout and "-->" in done.stdout,
    "cli-storage": lambda done, folder: (
        (folder / "transcripts" / "hello.txt").read_text() == SAID + "\n"
    ),
    "cli-pipeline": lambda done, folder: (
        (folder / "corpus" / "call0.txt").read_text() == SAID + "\n"
        and "3 inputs: 1 transcribed, 0 failed, 2 rejected" in done.stdout
        and "duplicate: same content as" in done.stdout
    ),
}


@pytest.mark.parametrize("name", sorted(SHELL_CHECKS))
def test_shell_script(name: str, workdir: Path, speech_env, request: pytest.FixtureRequest) -> None:
    snippet = by_name("shell")[name]
    env = dict(speech_env)
    if name in ("cli-storage", "cli-pipeline"):  # after the README's commands that start Azurite
        storage: Azurite = request.getfixturevalue("azurite")
        env["AZURE_STORAGE_CONNECTION_STRING"] = storage.connection_string
    shutil.rmtree(workdir / "transcripts", ignore_errors=True)
    shutil.rmtree(workdir / "corpus", ignore_errors=True)
    done = run(["bash", "-e", "-o", "pipefail", "-c", snippet.code], workdir, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert SHELL_CHECKS[name](done, workdir), done.stdout + done.stderr


def test_every_shell_script_is_run() -> None:
    assert set(by_name("shell")) == set(SHELL_CHECKS)


def test_console_emulator() -> None:
    [command, *shown] = by_name("console")["emulator"].code.splitlines()
    args = command.removeprefix("$ speechrest emulator ").split()
    assert args == ["--port", "8765"]
    with speechrest_emulator("--port", "0") as (_, printed):  # (8765 may be taken)
        pass
    assert len(printed) == len(shown)
    for got, expected in zip(printed, shown, strict=True):
        pattern = re.escape(expected).replace("8765", r"\d+")
        pattern = re.sub(r"[0-9a-f]*\\\.\\\.\\\.", "[0-9a-f]+", pattern)  # emu-3f0c...
        if not importlib.util.find_spec("pocketsphinx"):
            pattern = pattern.replace("PocketSphinxRecognizer", "DeterministicRecognizer")
        assert re.fullmatch(pattern, got), (got, expected)


def test_readme_snippet_check_sees_the_readme() -> None:
    """The extraction finds what the README shows, so the checks above cannot pass vacuously."""
    modes = [s.mode for s in snippets()]
    assert modes.count("python") == len(PROGRAM_OUTPUT)
    assert modes.count("shell") == len(SHELL_CHECKS)
    assert "transcribe_many" in by_name("python")["many"].code


# -- the site --------------------------------------------------------------------------------


def test_the_docs_site_builds_strictly(tmp_path: Path) -> None:
    """``mkdocs build --strict`` (as CI runs it): no broken link, anchor or reference, no page
    left out of the navigation, the API reference generated, nothing fetched at run time."""
    pytest.importorskip("mkdocs", reason="the docs extra installs MkDocs")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)]
    done = run(command, ROOT, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    reference = (site / "reference" / "client" / "index.html").read_text()
    for anchor in ("speechrest.SpeechClient.transcribe", "speechrest.SpeechClient.with_options"):
        assert f'id="{anchor}"' in reference, anchor
    assert ":class:" not in reference and ":meth:" not in reference  # roles shown as code
    assert "::</p>" not in reference  # an example introduced with one colon
    html = {page: page.read_text() for page in site.rglob("*.html")}
    for page, text in html.items():
        assert "fonts.googleapis.com" not in text and "fonts.gstatic.com" not in text, page
    # The reference documents every public export (and nothing is hidden by a typo).
    from tests.test_public_api import PUBLIC_MODULES

    everything = "".join(html.values())
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            if name.startswith("__") or isinstance(getattr(module, name), ModuleType):
                continue
            anchors = [f'id="{documented}.{name}"' for documented in PUBLIC_MODULES]
            assert any(a in everything for a in anchors), f"{module_name}.{name}"  # re-exports
    for page in sorted(DOCS.rglob("*.md")):  # every page is built, none left out
        built = site / page.relative_to(DOCS).with_suffix("")
        assert (built / "index.html").exists() or page.name == "index.md", page
