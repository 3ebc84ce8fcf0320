"""The programs of the tracing and blocking-client pages (``docs/tracing.md``,
``docs/sync.md``) run as a user runs them: against ``speechrest emulator``, in a folder with
the README's files (the README's harness: its fixtures and its block markers)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.test_readme import ROOT, files_url, readme_blocks, run, speech_env, workdir  # noqa: F401

SAID = "Please call me back tomorrow morning."
EXPECTED = {
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
    "sync": [
        f"{SAID}\n",
        *(f"calls/call{i}.wav {SAID}\n" for i in range(3)),
        "status: Succeeded\n",
        " Succeeded\n",
    ],
}


def program(page: str) -> str:
    text = (ROOT / "docs" / f"{page}.md").read_text(encoding="utf-8")
    found = [code for _, _, code, markers in readme_blocks(text) if f"python {page}" in markers]
    assert len(found) == 1
    return found[0]


def test_every_block_of_the_pages_is_marked() -> None:
    for page in EXPECTED:
        text = (ROOT / "docs" / f"{page}.md").read_text(encoding="utf-8")
        assert all(len(markers) == 1 for _, _, _, markers in readme_blocks(text)), page


@pytest.mark.parametrize("page", sorted(EXPECTED))
def test_the_pages_program_runs(page: str, workdir: Path, speech_env: dict[str, str]) -> None:  # noqa: F811
    script = workdir / f"docs_{page}.py"
    script.write_text(program(page))
    done = run([sys.executable, str(script)], workdir, speech_env)
    assert done.returncode == 0, done.stderr
    for expected in EXPECTED[page]:
        assert expected in done.stdout, (expected, done.stdout)
    assert speech_env["SPEECH_KEY"] not in done.stdout
    assert "sig=" not in done.stdout.replace("sig=REDACTED", "")
