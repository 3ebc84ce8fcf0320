"""What the ``speechrest`` command prints is safe for a terminal: text from the service or
the user (transcripts, job names, file names, error messages) is never rich markup, and its
control characters are shown as escapes; files written with ``--out`` keep the text exactly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from speechrest.cli import _batch, main
from speechrest.cli._output import plain, printable, unique_stem
from speechrest.testing import Fault, ScriptedRecognizer, SpeechEmulator, make_wav
from tests._threaded import emulator_thread

ESC = "\x1b"
HOSTILE = f"Hello {ESC}]0;owned{ESC}\\ world{ESC}[2J\x9b31m\r$ sudo rm -rf /\u202eevil"
"""Retitles the window, clears the screen, draws a fake prompt, reverses the text."""


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch) -> None:
    for name in ("SPEECH_KEY", "SPEECH_REGION", "SPEECH_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def served() -> Iterator[SpeechEmulator]:
    """An emulator on its own thread (the command runs its own event loop) that hears
    ``HOSTILE`` in every file."""
    with emulator_thread(key="k", recognizer=ScriptedRecognizer(lambda audio: HOSTILE)) as emu:
        yield emu


def _args(emulator: SpeechEmulator) -> list[str]:
    return ["--endpoint", emulator.endpoint, "--key", "k"]


def _assert_safe(text: str) -> None:
    assert ESC not in text and "\x9b" not in text and "\r" not in text and "\u202e" not in text


def test_plain_and_printable_escape_every_control_character() -> None:
    assert plain("a\x1b[1mb\nc\td\x00\x7f\x85\u2066") == (
        "a\\x1b[1mb\\x0ac\\x09d\\x00\\x7f\\x85\\u2066"
    )
    assert printable("one\ttwo\nthree\x1b\r") == "one\ttwo\nthree\\x1b\\x0d"
    assert plain("[bold]café[/bold] 日本") == "[bold]café[/bold] 日本"  # text stays text
    assert unique_stem(f"../x{ESC}[2J:y?.wav", set()) == "x_[2J_y_"
    assert unique_stem("..", set()) == "audio"


def test_a_transcript_is_printed_safely_and_written_exactly(
    served: SpeechEmulator, capsys, tmp_path: Path
) -> None:
    audio = tmp_path / "call.wav"
    audio.write_bytes(make_wav(seconds=2))
    assert main(["transcribe", *_args(served), str(audio)]) == 0
    out, err = capsys.readouterr()
    _assert_safe(out + err)
    assert "\\x1b]0;owned" in out and "\\x1b[2J" in out and "\\u202eevil" in out

    for fmt in ("json", "srt", "vtt"):
        assert main(["transcribe", *_args(served), "--format", fmt, str(audio)]) == 0
        out, err = capsys.readouterr()
        _assert_safe(out + err)
    line = json.loads(_json_line(served, audio, capsys))
    assert HOSTILE.split()[0] in line["result"]["combinedPhrases"][0]["text"]

    out_dir = tmp_path / "out"
    assert main(["transcribe", *_args(served), "--out", str(out_dir), str(audio)]) == 0
    _assert_safe("".join(capsys.readouterr()))
    written = (out_dir / "call.txt").read_bytes().decode("utf-8")
    assert f"{ESC}]0;owned" in written and "\x9b31m" in written and "\u202e" in written


def _json_line(emulator: SpeechEmulator, audio: Path, capsys) -> str:
    assert main(["transcribe", *_args(emulator), "--format", "json", str(audio)]) == 0
    out = capsys.readouterr().out
    _assert_safe(out)
    return out  # the escaped characters are JSON escapes: the data is the same


def test_file_names_and_service_errors_are_printed_safely(
    served: SpeechEmulator, capsys, tmp_path: Path
) -> None:
    name = tmp_path / f"evil{ESC}]0;owned{ESC}\\.wav"
    name.write_bytes(make_wav(seconds=1))
    missing = tmp_path / f"gone{ESC}[2J.wav"
    message = f"Bad audio{ESC}[2J{ESC}]0;owned\x07\nfake: line"
    served.faults.add(
        Fault.respond(
            422, json.dumps({"code": "InvalidAudio", "message": message}), label="hostile"
        ),
        times=1,
    )
    status = main(["transcribe", *_args(served), str(name), str(missing)])
    out, err = capsys.readouterr()
    assert status == 1
    _assert_safe(out + err)
    assert "Bad audio\\x1b[2J\\x1b]0;owned\\x07 fake: line" in err  # on one line
    assert "evil\\x1b]0;owned" in err and "gone\\x1b[2J.wav" in err
    assert len(err.splitlines()) == 2  # one line per failed file, whatever the message held


def test_markup_and_escapes_in_job_names_are_shown_as_text(
    served: SpeechEmulator, capsys, monkeypatch
) -> None:
    names = ["[/bold] weekly calls", "[link=https://evil.example]click me[/link]", HOSTILE]
    for job_name in names:
        url = served.serve_bytes(make_wav(seconds=1), "a.wav")
        args = ["batch", "submit", *_args(served), "--name", job_name, url]
        assert main(args) == 0
        _assert_safe("".join(capsys.readouterr()))
    monkeypatch.setattr(_batch, "is_tty", lambda stream: True)  # the rich table
    monkeypatch.setenv("COLUMNS", "400")
    assert main(["batch", "list", *_args(served)]) == 0
    out, err = capsys.readouterr()
    _assert_safe(out + err)
    assert "[/bold] weekly calls" in out and "[link=https://evil.example]click me[/link]" in out
    assert "\\x1b]0;owned" in out

    monkeypatch.setattr(_batch, "is_tty", lambda stream: False)  # tab-separated
    assert main(["batch", "list", *_args(served)]) == 0
    rows = capsys.readouterr().out.splitlines()
    _assert_safe("\n".join(rows))
    assert len(rows) == 3 and all(len(row.split("\t")) == 5 for row in rows)


def test_a_usage_error_quoting_a_file_name_is_printed_safely(capsys, monkeypatch) -> None:
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)  # else click strips escapes itself
    assert main(["batch", "submit", "--key", "k", "--region", "eastus", f"x{ESC}[2J.wav"]) == 2
    err = capsys.readouterr().err
    _assert_safe(err)
    assert "x\\x1b[2J.wav is not a URL" in err
