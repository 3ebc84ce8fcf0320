"""The ``speechrest`` command, run in-process (``main``) and as a subprocess."""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import srt
import webvtt
from rich.filesize import decimal

import speechrest.testing
from speechrest.cli import _transcribe, main
from speechrest.testing import DeterministicRecognizer, make_wav

SAID = "Please call me back tomorrow morning."


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch) -> None:
    for name in ("SPEECH_KEY", "SPEECH_REGION", "SPEECH_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def comments(monkeypatch) -> None:
    """``--local`` hears the transcripts embedded in the test's tone WAVs (PocketSphinx,
    when installed, would hear the tones)."""
    monkeypatch.setattr(speechrest.testing, "best_local_recognizer", DeterministicRecognizer)


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
    # Mono audio ignores the channels (Learn: "For mono audio, the channels property is
    # ignored"): one file for it.
    assert main([*args, "--out", str(out_dir), str(stereo), str(mono), str(twin)]) == 0
    out, _ = capsys.readouterr()
    names = ["call.ch0.srt", "call.ch1.srt", "mono.srt", "call-2.ch0.srt", "call-2.ch1.srt"]
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
    assert [(c.voice, c.text) for c in captions] == [  # fast transcription counts from 0
        ("Speaker 0", "Good morning."),
        ("Speaker 1", "Good morning to you."),
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
        (["transcribe", "--local", "--out", "/dev/null/subs", "x.wav"], "cannot create the folder"),
        (["emulator", "--key", ""], "the key must not be empty"),
        (["batch", "wait", "--local", "JOB"], "empty emulator for this command alone"),
        (["batch", "results", "--local", "JOB"], "speechrest batch submit --local --wait"),
        (["batch", "list", "--local"], "run 'speechrest emulator'"),
        (["batch", "delete", "--local", "JOB"], "--local would start a new, empty emulator"),
    ],
)
def test_bad_usage_exits_2_with_one_clear_line(capsys, args, message) -> None:
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert message in err
    assert len(err.splitlines()) == 1, err
    assert out == ""


def test_any_failure_is_one_line_and_an_exit_status(capsys, monkeypatch, tmp_path) -> None:
    def broken(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "subs" / "a.srt"))

    monkeypatch.setattr(_transcribe.Sink, "result", broken)
    audio = _wav(tmp_path, "a.wav", "Hello.")
    assert main(["transcribe", "--local", "--out", str(tmp_path / "subs"), str(audio)]) == 1
    assert (
        capsys.readouterr().err == f"speechrest: {tmp_path / 'subs' / 'a.srt'}: Permission denied\n"
    )

    monkeypatch.setattr(_transcribe.Sink, "result", lambda *a: 1 / 0)
    assert main(["transcribe", "--local", str(audio)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("speechrest: unexpected error: ZeroDivisionError: division by zero")
    assert len(err.splitlines()) == 1
    monkeypatch.setenv("SPEECHREST_DEBUG", "1")  # then the traceback, for a bug report
    with pytest.raises(ZeroDivisionError):
        main(["transcribe", "--local", str(audio)])


def test_missing_extra_says_how_to_install(capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "click", None)
    for name in [m for m in sys.modules if m.startswith("speechrest.cli._")]:
        monkeypatch.delitem(sys.modules, name)
    assert main(["transcribe", "--local", "x.wav"]) == 2
    assert "pip install 'speechrest[cli]'" in capsys.readouterr().err


@contextlib.contextmanager
def _serve(*args: str) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    """``speechrest emulator`` in a subprocess, with the variables it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "speechrest", "emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    env: dict[str, str] = {}
    assert proc.stdout is not None
    try:
        while "SPEECH_KEY" not in env:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else "the emulator exited"
            if "=" in line:
                name, value = line.strip().split("=", 1)
                env[name] = value
        yield proc, env
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    with _serve("--key", "cli-key", "--recognizer", "deterministic") as running:
        yield running


@pytest.fixture
def served_env(monkeypatch, served) -> dict[str, str]:
    _, env = served
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


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


def test_emulator_on_every_interface_prints_an_endpoint_clients_can_use(sample_wav) -> None:
    with _serve("--host", "0.0.0.0", "--recognizer", "deterministic") as (proc, env):
        assert env["SPEECH_ENDPOINT"].startswith("http://127.0.0.1:")
        done = subprocess.run(
            [sys.executable, "-m", "speechrest", "transcribe", str(sample_wav)],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
        )
        assert (done.returncode, done.stdout) == (0, SAID + "\n"), done.stderr
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert "from another machine, use this machine's address" in err


def test_emulator_stops_cleanly_on_interrupt() -> None:
    with _serve() as (proc, env):
        assert env["SPEECH_KEY"].startswith("emu-")
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


# -- batch ---------------------------------------------------------------------------------


def test_batch_local_submit_wait_results(capsys, sample_wav: Path) -> None:
    args = ["batch", "submit", "--local", "--wait", "--words", "--format", "srt"]
    assert main([*args, str(sample_wav)]) == 0
    out, err = capsys.readouterr()
    [sub] = srt.parse(out)  # standard output holds the subtitles alone
    assert sub.content == SAID
    assert sub.end.total_seconds() <= 2.815
    assert "Succeeded" in err


def test_batch_local_needs_wait(capsys, sample_wav: Path) -> None:
    assert main(["batch", "submit", "--local", str(sample_wav)]) == 2
    assert "add --wait" in capsys.readouterr().err
    assert main(["batch", "submit", "--key", "k", "--region", "eastus", str(sample_wav)]) == 2
    assert "is not a URL" in capsys.readouterr().err


@pytest.fixture
def audio_urls(tmp_path: Path) -> Iterator[str]:
    """A loopback HTTP server for the files in ``tmp_path``; yields its base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_batch_against_a_served_emulator(capsys, served_env, audio_urls, tmp_path) -> None:
    _wav(tmp_path, "one.wav", "The first call.")
    _wav(tmp_path, "two.wav", "The second call.")
    urls = [f"{audio_urls}/one.wav", f"{audio_urls}/two.wav", f"{audio_urls}/gone.wav"]
    assert main(["batch", "submit", "--name", "cli test", *urls]) == 0
    job = capsys.readouterr().out.strip()
    assert main(["batch", "submit", urls[0]]) == 0
    other = capsys.readouterr().out.strip()

    assert main(["batch", "wait", job, other]) == 0
    assert sorted(capsys.readouterr().out.splitlines()) == sorted(
        [f"{job}\tSucceeded", f"{other}\tSucceeded"]
    )

    # One JSON line per input; the input that could not be read fails (exit 1).
    assert main(["batch", "results", "--format", "json", job]) == 1
    out, err = capsys.readouterr()
    lines = {line["source"]: line for line in map(json.loads, out.splitlines())}
    assert set(lines) == set(urls)
    first = lines[urls[0]]["result"]
    assert first["combinedRecognizedPhrases"][0]["display"] == "The first call."
    assert "error" in lines[urls[2]]
    assert err.startswith(f"speechrest: {urls[2]}: ")

    out_dir = tmp_path / "results"
    assert main(["batch", "results", "--format", "vtt", "--out", str(out_dir), job]) == 1
    assert sorted(p.name for p in out_dir.iterdir()) == ["one.vtt", "two.vtt"]
    [cue] = webvtt.from_string((out_dir / "two.vtt").read_text())
    assert cue.text == "The second call."
    capsys.readouterr()

    assert main(["batch", "list", "--filter", "displayName eq 'cli test'"]) == 0
    [row] = capsys.readouterr().out.splitlines()
    assert row.split("\t")[:2] == [job, "Succeeded"]
    assert row.endswith("\tcli test")
    assert main(["batch", "list", "--json", "--top", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1

    assert main(["batch", "delete", job, other]) == 0
    assert capsys.readouterr().out.splitlines() == [f"deleted {job}", f"deleted {other}"]
    assert main(["batch", "wait", job]) == 1
    out, err = capsys.readouterr()
    assert out == f"{job}\tFailed\n"
    assert "HTTP 404" in err


def test_batch_local_labels_results_with_local_file_names(capsys, comments, tmp_path) -> None:
    one, two = _wav(tmp_path, "one.wav", "One."), _wav(tmp_path, "two.wav", "Two.")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....not audio")
    assert main(["batch", "submit", "--local", "--wait", str(one), str(two), str(bad)]) == 1
    out, err = capsys.readouterr()
    assert f"==> {one} <==\nOne.\n" in out and f"==> {two} <==\nTwo.\n" in out
    assert "http" not in out
    assert f"speechrest: {bad}: " in err
