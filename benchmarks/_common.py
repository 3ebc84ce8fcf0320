"""Shared pieces of the benchmarks: scales, the loopback server, and the clients compared.

Every client does the same thing: send one WAV file as the ``multipart/form-data`` body of
``Transcriptions_Transcribe`` with the definition ``{"locales": ["en-US"]}``, and decode
the JSON result. They differ only in the library doing it:

* ``speechrest``: ``await client.transcribe(path, locales=["en-US"])``;
* ``raw aiohttp``: the floor of client overhead: a hand-written multipart body of the same
  bytes, posted with one shared ``aiohttp.ClientSession``, and ``json.loads`` of the reply.
  Its boundary is fresh per request (``os.urandom``, as aiohttp's, httpx's and requests'
  multipart encoders do): a fixed boundary could occur in the audio and break the body;
* ``azure-ai-transcription``: Microsoft's official async SDK, used as its samples show
  (an open binary file in ``TranscriptionContent``);
* ``httpx (openai-style)``: an ``httpx.AsyncClient`` upload built the way openai-python
  builds one (the file read into memory with ``anyio.Path.read_bytes``, then ``files=``),
  without the pydantic model the real SDK would also build.

Peers are optional (the ``bench`` extra): a client whose library is missing is reported as
skipped, with the reason.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KEY = "bench-key"
API_VERSION = "2025-10-15"
DEFINITION = {"locales": ["en-US"]}
PATH = "/speechtotext/transcriptions:transcribe"

SPEECHREST = "speechrest"
SPEECHREST_MANY = "speechrest transcribe_many"
RAW = "raw aiohttp"
SDK = "azure-ai-transcription"
HTTPX = "httpx (openai-style)"
CLIENTS = (SPEECHREST, SPEECHREST_MANY, RAW, SDK, HTTPX)
"""Every client, in table order; ``RAW`` is the baseline."""


@dataclass(frozen=True)
class Scale:
    """How much work each benchmark does."""

    name: str
    requests: int  # requests per fan-out measurement
    repeats: int  # fan-out measurements per cell (the best is kept)
    overhead_repeats: int  # the same for raw aiohttp and speechrest: the ratios they give
    # are the overhead target, and this machine's noise is a few tens of percent per run
    concurrency: tuple[int, ...]
    budget: float  # seconds per fan-out measurement, at most (slow peers send fewer)
    target_requests: int  # the "2,000 transcriptions at concurrency 64" row
    reuse_requests: int
    upload_mb: tuple[int, ...]


SCALES = {
    "full": Scale("full", 2000, 3, 9, (1, 16, 64, 256), 10.0, 2000, 1000, (10, 100, 240)),
    "quick": Scale("quick", 400, 1, 3, (1, 16, 64, 256), 1.0, 2000, 1000, (10, 240)),
    "smoke": Scale("smoke", 8, 1, 1, (1, 4), 5.0, 8, 8, (1, 2)),
}


def row(
    name: str,
    value: float | None,
    baseline: float | None,
    unit: str,
    *,
    note: str = "",
    target: str = "",
) -> dict[str, Any]:
    """A table row; ``ratio`` is value / baseline (empty when either is missing)."""
    ratio = value / baseline if value is not None and baseline else None
    return {
        "name": name,
        "value": value,
        "baseline": baseline,
        "ratio": ratio,
        "unit": unit,
        "note": note,
        "target": target,
    }


def missing(client: str) -> str | None:
    """Why ``client`` cannot run here, or None when it can."""
    needs = {SDK: "azure.ai.transcription", HTTPX: "httpx"}.get(client)
    if needs is None:
        return None
    try:
        found = importlib.util.find_spec(needs) is not None
    except ModuleNotFoundError:
        found = False
    return None if found else f"skipped: {needs} is not installed (pip install -e '.[bench]')"


def small_wav(directory: Path, size: int = 30 * 1024) -> Path:
    """A ~30 KB WAV file (about one second of 16 kHz mono speech-band audio)."""
    from speechrest.testing import make_wav

    path = directory / "small.wav"
    seconds = (size - 100) / 32000
    path.write_bytes(make_wav(seconds=seconds, comment="Hello world."))
    return path


class LoopbackServer:
    """The minimal server of ``_server.py``, in its own process."""

    def __enter__(self) -> LoopbackServer:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "_server.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"the loopback server did not start: {line!r}")
        self.endpoint = f"http://127.0.0.1:{int(line.split()[1])}"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def _get(self, path: str) -> dict[str, int]:
        with urllib.request.urlopen(self.endpoint + path, timeout=10) as resp:
            data: dict[str, int] = json.loads(resp.read())
            return data

    def reset(self) -> None:
        self._get("/_reset")

    def stats(self) -> dict[str, int]:
        return self._get("/_stats")


# -- the clients ---------------------------------------------------------------------------


class SpeechrestClient:
    def __init__(self, endpoint: str) -> None:
        from speechrest import SpeechClient

        self.client = SpeechClient(endpoint, key=KEY)

    async def __aenter__(self) -> SpeechrestClient:
        await self.client.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.__aexit__(*exc)

    async def send(self, path: Path) -> None:
        result = await self.client.transcribe(path, locales=DEFINITION["locales"])
        assert result.text


class RawAiohttpClient:
    def __init__(self, endpoint: str) -> None:
        self.url = f"{endpoint}{PATH}?api-version={API_VERSION}"
        self.definition = json.dumps(DEFINITION)

    async def __aenter__(self) -> RawAiohttpClient:
        import aiohttp

        self.session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()

    async def send(self, path: Path) -> None:
        boundary = os.urandom(16).hex()
        head = (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="definition"\r\n\r\n'
            f"{self.definition}\r\n"
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="audio"; filename="{path.name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        body = head.encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        headers = {
            "Ocp-Apim-Subscription-Key": KEY,
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        }
        async with self.session.post(self.url, data=body, headers=headers) as resp:
            raw = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}: {raw[:200]!r}")
        assert json.loads(raw)["combinedPhrases"][0]["text"]


class AzureSdkClient:
    def __init__(self, endpoint: str) -> None:
        from azure.ai.transcription.aio import TranscriptionClient
        from azure.core.credentials import AzureKeyCredential

        self.client = TranscriptionClient(endpoint, AzureKeyCredential(KEY))

    async def __aenter__(self) -> AzureSdkClient:
        await self.client.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.__aexit__(*exc)

    async def send(self, path: Path) -> None:
        from azure.ai.transcription.models import TranscriptionContent, TranscriptionOptions

        with open(path, "rb") as audio:
            content = TranscriptionContent(
                definition=TranscriptionOptions(locales=DEFINITION["locales"]), audio=audio
            )
            result = await self.client.transcribe(content)
        assert result.combined_phrases[0].text


class HttpxClient:
    def __init__(self, endpoint: str) -> None:
        import httpx

        # openai-python's defaults: 600 s timeout, 1000 connections, 100 kept alive.
        self.client = httpx.AsyncClient(
            base_url=endpoint,
            timeout=httpx.Timeout(600.0, connect=5.0),
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100),
            follow_redirects=True,
        )

    async def __aenter__(self) -> HttpxClient:
        await self.client.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.__aexit__(*exc)

    async def send(self, path: Path) -> None:
        import anyio

        content = await anyio.Path(path).read_bytes()
        resp = await self.client.post(
            PATH,
            params={"api-version": API_VERSION},
            headers={"Ocp-Apim-Subscription-Key": KEY},
            data={"definition": json.dumps(DEFINITION)},
            files=[("audio", (path.name, content, "application/octet-stream"))],
        )
        resp.raise_for_status()
        assert resp.json()["combinedPhrases"][0]["text"]


FACTORIES: dict[str, Any] = {
    SPEECHREST: SpeechrestClient,
    SPEECHREST_MANY: SpeechrestClient,
    RAW: RawAiohttpClient,
    SDK: AzureSdkClient,
    HTTPX: HttpxClient,
}
