"""Every script in examples/ runs, against the emulator."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import aiohttp
import pytest
from aiohttp import web

from speechrest import SpeechClient
from speechrest.testing import SpeechEmulator, make_wav

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SAMPLE = EXAMPLES.parent / "speechrest" / "samples" / "hello.wav"


def _run(script: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEECH_")}
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(EXAMPLES))


def test_transcribe_folder(tmp_path: Path) -> None:
    for i in range(6):
        (tmp_path / f"call{i}.wav").write_bytes(make_wav(comment=f"This is call {i}."))
    (tmp_path / "broken.wav").write_bytes(b"not audio at all")
    (tmp_path / "notes.txt").write_text("not audio, skipped")
    done = _run("transcribe_folder.py", str(tmp_path), "--concurrency", "3", "--local")
    assert done.returncode == 1, done.stderr  # one file failed, the others did not
    assert "broken.wav: FAILED" in done.stderr
    assert "6 of 7 files transcribed" in done.stdout
    out = tmp_path / "transcripts"
    assert (out / "call4.txt").read_text() == "This is call 4.\n"
    assert "This is call 4." in (out / "call4.srt").read_text()
    assert not (out / "broken.txt").exists()


def test_batch_with_webhook() -> None:
    done = _run("batch_with_webhook.py", "--local")
    assert done.returncode == 0, done.stderr
    assert "is active" in done.stdout
    assert "hello.wav: Please call me back tomorrow morning." in done.stdout


def test_custom_speech() -> None:
    done = _run("custom_speech.py", "--local")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "transcribed with the custom model: Please call me back tomorrow morning." in lines
    assert lines[-1] == "cleaned up"


def test_examples_without_credentials_say_so() -> None:
    done = _run("batch_with_webhook.py", "--port", "0")
    assert done.returncode == 0, done.stderr  # no SPEECH_KEY: the emulator is used
    assert "(using the local emulator" in done.stdout


@pytest.fixture
async def backend(client: SpeechClient) -> AsyncIterator[str]:
    app = _load("aiohttp_backend").create_app(client=client)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.mark.anyio
async def test_aiohttp_backend_transcribes_uploads(backend: str, emulator: SpeechEmulator) -> None:
    async with aiohttp.ClientSession() as http:
        form = aiohttp.FormData()
        form.add_field("audio", SAMPLE.read_bytes(), filename="hello.wav")
        async with http.post(f"{backend}/transcribe", data=form) as response:
            assert response.status == 200
            body = await response.json()
        assert body["text"] == "Please call me back tomorrow morning."
        assert body["durationMs"] == 2815
        assert body["srt"].startswith("1\n00:00:00,000 --> ")
        # The service's refusal becomes a 422 with its code, not a crash.
        form = aiohttp.FormData()
        form.add_field("audio", b"this is not a wav file", filename="x.wav")
        async with http.post(f"{backend}/transcribe", data=form) as response:
            assert response.status == 422
            assert (await response.json())["error"] == "UnprocessableEntity"
        for form in (
            aiohttp.FormData({"other": "x"}),  # not multipart
            aiohttp.FormData({"other": "x"}, default_to_multipart=True),  # no audio field
        ):
            async with http.post(f"{backend}/transcribe", data=form) as response:
                assert response.status == 400
    uploads = [r for r in emulator.requests if r.path.endswith(":transcribe")]
    assert len(uploads) == 2


def test_aiohttp_backend_main_parses_arguments() -> None:
    done = _run("aiohttp_backend.py", "--help")
    assert done.returncode == 0
    assert "--local" in done.stdout
