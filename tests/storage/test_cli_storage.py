"""``speechrest batch submit FILES --container ...``: upload, submit, and transcripts written
next to each input (or into --out), against Azurite and the in-process emulator."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import srt

import speechrest.testing
from speechrest.cli import main
from speechrest.testing import DeterministicRecognizer, make_wav
from tests.azurite import Azurite

pytest.importorskip("azure.storage.blob")


@pytest.fixture(autouse=True)
def _setup(monkeypatch) -> None:
    for name in (
        "SPEECH_KEY",
        "SPEECH_REGION",
        "SPEECH_ENDPOINT",
        "AZURE_STORAGE_CONNECTION_STRING",
    ):
        monkeypatch.delenv(name, raising=False)
    # --local hears the transcripts embedded in the test WAVs.
    monkeypatch.setattr(speechrest.testing, "best_local_recognizer", DeterministicRecognizer)


def _folder(root: Path) -> Path:
    (root / "calls" / "sub").mkdir(parents=True)
    (root / "calls" / "a.wav").write_bytes(make_wav(seconds=1, comment="Alpha."))
    (root / "calls" / "sub" / "b.wav").write_bytes(make_wav(seconds=2, comment="Bravo."))
    return root / "calls"


def test_a_folder_is_uploaded_and_transcripts_land_next_to_the_inputs(
    azurite: Azurite, tmp_path: Path, capsys, monkeypatch
) -> None:
    folder = _folder(tmp_path)
    name = asyncio.run(azurite.create())
    args = ["batch", "submit", "--local", "--wait", "--container", azurite.sas_url(name, "rlw")]
    assert main([*args, str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [str(folder / "a.txt"), str(folder / "sub" / "b.txt")]
    assert (folder / "a.txt").read_text() == "Alpha.\n"
    assert (folder / "sub" / "b.txt").read_text() == "Bravo.\n"
    assert sorted(asyncio.run(azurite.blobs(name))) == ["a.wav", "sub/b.wav"]

    # A container name in the account of AZURE_STORAGE_CONNECTION_STRING; --out; subtitles.
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    subtitles = tmp_path / "subtitles"
    args = ["batch", "submit", "--local", "--wait", "--container", name, "--format", "srt"]
    assert main([*args, "--out", str(subtitles), str(folder / "sub" / "b.wav")]) == 0
    [cue] = srt.parse((subtitles / "b.srt").read_text())
    assert cue.content == "Bravo."
    assert sorted(asyncio.run(azurite.blobs(name))) == ["a.wav", "b.wav", "sub/b.wav"]


def test_an_unfit_container_is_refused_in_one_line(
    azurite: Azurite, tmp_path: Path, capsys
) -> None:
    folder = _folder(tmp_path)
    name = asyncio.run(azurite.create())
    args = ["batch", "submit", "--local", "--wait", "--container", azurite.sas_url(name, "rw")]
    assert main([*args, str(folder)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert (
        "without l" in line and "sp=rlw" in line and "sig=" not in line.replace("sig=REDACTED", "")
    )
    assert asyncio.run(azurite.blobs(name)) == {}
    assert main(["batch", "submit", "--local", "--wait", "--container", "box", str(folder)]) == 2
    assert "AZURE_STORAGE_CONNECTION_STRING" in capsys.readouterr().err
    assert main(["batch", "submit", "--local", "--wait", str(folder), "https://a.example/x.wav",
                 "--container", azurite.sas_url(name, "rlw")]) == 2  # fmt: skip
    assert "not both" in capsys.readouterr().err
