"""The ``speechrest`` command, run in-process (``main``) and as a subprocess."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import srt
import webvtt
from rich.filesize import decimal

from speechrest.cli import _transcribe, main
from speechrest.testing import DeterministicRecognizer, _local, make_wav

SAID = "Please call me back tomorrow morning."


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch) -> None:
    for name in ("SPEECH_KEY", "SPEECH_REGION", "SPEECH_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def comments(monkeypatch) -> None:
    """``--local`` hears the transcripts embedded in the test's tone WAVs (PocketSphinx,
    when installed, would hear the tones)."""
    monkeypatch.setattr(_local, "best_local_recognizer", DeterministicRecognizer)


def _wav(tmp_path: Path, name: str, text: str, **kw) -> Path:
    path = tmp_path / name
    path.write_bytes(make_wav(comment=text, **kw))
    return path


def test_local_sample_prints_what_was_said(capsys, sample_wav: Path) -> None:
    assert main(["transcribe", "--local", str(sample_wav)]) == 0
    out, err = capsys.readouterr()
    assert out == SAID + "\n"
    assert err == ""


def test_json_lines_and_per_file_errors(comments, capsys, tmp_path: Path) -> None:
    a = _wav(tmp_path, "a.wav", "First file.")
    b = _wav(tmp_path, "b.wav", "Second file.")
    missing = tmp_path / "missing.wav"
    args = ["transcribe", "--local", "--format", "json", str(a), str(missing), str(b)]
    assert main(args) == 1
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]  # one document per line
    by_source = {line["source"]: line for line in lines}
    assert set(by_source) == {str(a), str(missing), str(b)}
    assert by_source[str(a)]["result"]["combinedPhrases"][0]["text"] == "First file."
    assert by_source[str(b)]["result"]["durationMilliseconds"] == 1000
    assert by_source[str(missing)]["error"]["type"] == "AudioSourceError"
    assert err.splitlines() == [
        f"speechrest: {missing}: audio file not found: {missing}",
    ]


def test_subtitles_per_channel_into_a_folder(comments, capsys, tmp_path: Path) -> None:
    stereo = _wav(tmp_path, "call.wav", "Hello there. How are you?", seconds=4, channels=2)
    (tmp_path / "other").mkdir()
    twin = _wav(tmp_path / "other", "call.wav", "Same name.", seconds=2, channels=2)
    mono = _wav(tmp_path, "mono.wav", "One channel only.")
    out_dir = tmp_path / "subs"
    args = ["transcribe", "--local", "--format", "srt", "--channels", "0,1", "--concurrency", "1"]
    assert main([*args, "--out", str(out_dir), str(stereo), str(mono), str(twin)]) == 1
    out, err = capsys.readouterr()
    assert "mono.wav" in err and "channel" in err
    names = ["call.ch0.srt", "call.ch1.srt", "call-2.ch0.srt", "call-2.ch1.srt"]
    assert out.split() == [str(out_dir / name) for name in names]
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(names)
    for name in names[:2]:
        subs = list(srt.parse((out_dir / name).read_text()))
        assert [s.content for s in subs] == ["Hello there.", "How are you?"]
    assert main(["transcribe", "--local", "--format", "vtt", "--out", str(out_dir), str(mono)]) == 0
    [cue] = webvtt.from_string((out_dir / "mono.vtt").read_text())
    assert cue.text == "One channel only."


def test_diarized_webvtt_to_stdout(comments, capsys, tmp_path: Path) -> None:
    path = _wav(tmp_path, "two.wav", "Good morning. Good morning to you.", seconds=3)
    assert main(["transcribe", "--local", "--max-speakers", "2", "--format", "vtt", str(path)]) == 0
    captions = webvtt.from_string(capsys.readouterr().out)
    assert [(c.voice, c.text) for c in captions] == [
        ("Speaker 1", "Good morning."),
        ("Speaker 2", "Good morning to you."),
    ]


def test_many_files_in_text_are_labelled_and_stdin_lists_files(
    comments, capsys, monkeypatch, tmp_path: Path
) -> None:
    paths = [_wav(tmp_path, f"f{i}.wav", f"File number {i}.") for i in range(5)]
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{p}\n" for p in paths)))
    assert main(["transcribe", "--local", "--concurrency", "2", "-"]) == 0
    out = capsys.readouterr().out.splitlines()
    pairs = dict(zip(out[::2], out[1::2], strict=True))
    assert pairs == {f"==> {p} <==": f"File number {i}." for i, p in enumerate(paths)}


def test_progress_bar_on_a_terminal(comments, capsys, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(_transcribe, "is_tty", lambda stream: stream is sys.stderr)
    paths = [_wav(tmp_path, f"p{i}.wav", "Progress.", seconds=2) for i in range(3)]
    total = sum(p.stat().st_size for p in paths)
    assert main(["transcribe", "--local", str(tmp_path / "gone.wav"), *map(str, paths)]) == 1
    out, err = capsys.readouterr()
    assert out.count("Progress.") == 3
    assert "4/4 done, 1 failed" in err
    assert f"{decimal(total)}/{decimal(total)}" in err  # every byte uploaded


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["transcribe", "--max-speakers", "50", "x.wav"], "--max-speakers"),
        (["transcribe", "--channels", "left", "x.wav"], "--channels"),
        (["transcribe", "--format", "doc", "x.wav"], "--format"),
        (["transcribe"], "FILE"),
        (["transcribe", "x.wav"], "no key: pass --key or set SPEECH_KEY"),
        (["transcribe", "--key", "k", "x.wav"], "no endpoint"),
        (["transcribe", "--local", "--channels", "0,1,2", "x.wav"], "at most 2 channels"),
        (["nope"], "No such command"),
    ],
)
def test_bad_usage_exits_2_with_one_clear_line(capsys, args, message) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_missing_extra_says_how_to_install(capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "click", None)
    for name in [m for m in sys.modules if m.startswith("speechrest.cli._")]:
        monkeypatch.delitem(sys.modules, name)
    assert main(["transcribe", "--local", "x.wav"]) == 2
    assert "pip install 'speechrest[cli]'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    """``speechrest emulator`` in a subprocess, with the variables it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "speechrest", "emulator", "--port", "0", "--key", "cli-key"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    env: dict[str, str] = {}
    assert proc.stdout is not None
    while "SPEECH_KEY" not in env:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "the emulator exited"
        if "=" in line:
            name, value = line.strip().split("=", 1)
            env[name] = value
    try:
        yield proc, env
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_credentials_from_the_environment(capsys, monkeypatch, served, sample_wav) -> None:
    _, env = served
    assert env["SPEECH_ENDPOINT"].startswith("http://127.0.0.1:")
    assert env["SPEECH_KEY"] == "cli-key"
    monkeypatch.setenv("SPEECH_ENDPOINT", env["SPEECH_ENDPOINT"])
    monkeypatch.setenv("SPEECH_KEY", env["SPEECH_KEY"])
    assert main(["transcribe", str(sample_wav)]) == 0
    assert capsys.readouterr().out == SAID + "\n"
    # A wrong key fails every file: exit 1, one line per file.
    assert main(["transcribe", "--key", "wrong", str(sample_wav), str(sample_wav)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all("HTTP 401" in line for line in err)
    # Options win over the environment.
    monkeypatch.setenv("SPEECH_ENDPOINT", "http://127.0.0.1:9")
    endpoint = env["SPEECH_ENDPOINT"]
    assert main(["transcribe", "--endpoint", endpoint, str(sample_wav)]) == 0


def test_emulator_stops_cleanly_on_interrupt(served) -> None:
    proc, _ = served
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "stopped" in err


def test_python_dash_m_and_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "speechrest", "--version"],
        capture_output=True,
        text=True,
        env={**os.environ},
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("speechrest, version ")
