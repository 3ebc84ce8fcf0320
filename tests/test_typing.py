"""What a type checker sees of the public API, as a user's code uses it: ``mypy --strict`` on
the README's programs and on small user snippets. The options of ``transcribe`` are typed
(a wrong type or a misspelt name is an error), and the documented patterns type-check."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.test_readme import snippets

pytest.importorskip("mypy", reason="the test extra installs mypy")

DOCUMENTED = """\
from pathlib import Path

from speechrest import SpeechClient
from speechrest.types import ProfanityFilterMode, TranscribeResult


async def documented(client: SpeechClient, paths: list[Path]) -> list[str]:
    result: TranscribeResult = await client.transcribe(
        "call.wav",
        locales=["en-US"],
        max_speakers=4,
        channels=[0, 1],
        profanity_filter_mode=ProfanityFilterMode.MASKED,
        phrase_list=["Contoso"],
        phrase_list_weight=1.5,
        on_progress=lambda sent: print(sent),
    )
    texts = [result.text, result.to_srt(channel=0)]
    async with client.transcribe_many(paths, concurrency=4, locales=["en-US"]) as outcomes:
        async for item in outcomes:
            source: Path = item.source
            if item.ok:
                texts.append(item.result.text)  # result is a TranscribeResult, not Optional
            else:
                texts.append(f"{source}: {item.error}")
    return texts
"""

# Each line marked "# error: A & B" must be reported with A and B in mypy's message, and
# nothing else may be reported.
MISTAKES = """\
from speechrest import SpeechClient


async def mistakes(client: SpeechClient) -> None:
    await client.transcribe("a.wav", max_speakers="four")  # error: "max_speakers" & "str"
    await client.transcribe("a.wav", locale="en-US")  # error: Unexpected keyword & "locale"
    await client.transcribe("a.wav", channels=0)  # error: "channels" & "int"
    await client.transcribe("a.wav", diarization="yes")  # error: "diarization" & "str"
    async with client.transcribe_many(["a.wav"], concurency=2) as outcomes:  # error: "concurency"
        async for item in outcomes:
            item.result.txt  # error: has no attribute "txt"
            number: int = item.source  # error: Incompatible types in assignment
"""


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[int, str]]]:
    """mypy --strict run once over every file: its errors by file name."""
    folder = tmp_path_factory.mktemp("typing")
    files = {"documented.py": DOCUMENTED, "mistakes.py": MISTAKES}
    for snippet in [*snippets("python"), *snippets("server")]:
        files[f"readme_{snippet.name.replace('-', '_')}.py"] = snippet.code
    for name, code in files.items():
        (folder / name).write_text(code)
    done = subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--strict", "--no-error-summary"),
            *("--hide-error-context", "--cache-dir", str(folder / ".mypy_cache"), *files),
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    errors: dict[str, list[tuple[int, str]]] = {name: [] for name in files}
    for line in done.stdout.splitlines():
        found = re.match(r"^([\w.]+):(\d+): error: (.*)$", line)
        if found:
            errors[found[1]].append((int(found[2]), found[3]))
        else:
            assert ": note: " in line, line  # anything else means mypy itself failed
    assert done.returncode in (0, 1), done.stderr
    return errors


def test_the_documented_patterns_type_check(mypy_output) -> None:
    assert mypy_output["documented.py"] == []


def test_the_readme_programs_type_check(mypy_output) -> None:
    readme = {name: errors for name, errors in mypy_output.items() if name.startswith("readme_")}
    assert len(readme) == len(snippets("python")) + len(snippets("server"))
    assert {name: errors for name, errors in readme.items() if errors} == {}


def test_wrong_options_are_type_errors(mypy_output) -> None:
    expected = {
        number: line.split("# error: ", 1)[1]
        for number, line in enumerate(MISTAKES.splitlines(), start=1)
        if "# error: " in line
    }
    reported = dict(mypy_output["mistakes.py"])
    assert set(reported) == set(expected), reported
    for number, parts in expected.items():
        for part in parts.split(" & "):
            assert part in reported[number], (number, reported[number])
