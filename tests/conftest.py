from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from speechrest import QuotaPolicy, SpeechClient
from speechrest.testing import SpeechEmulator, make_wav

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_WAV = ROOT / "speechrest" / "samples" / "hello.wav"
SPEC_DIR = ROOT.parent / "shared" / "spec"


@pytest.fixture
def anyio_backend() -> str:
    # aiohttp runs on asyncio only.
    return "asyncio"


@pytest.fixture
async def emulator() -> AsyncIterator[SpeechEmulator]:
    async with SpeechEmulator() as emu:
        yield emu


UNMETERED = QuotaPolicy(rate_limit=None)
"""The REST family without its budget of 100 requests per 10 seconds: the emulator's jobs end
within tenths of a second, and the tests that wait for them poll every few milliseconds.
(The budget itself is tested in tests/test_limits.py.)"""


@pytest.fixture
async def client(emulator: SpeechEmulator) -> AsyncIterator[SpeechClient]:
    async with SpeechClient(emulator.endpoint, key=emulator.key, rest_quota=UNMETERED) as c:
        yield c


@pytest.fixture
def sample_wav() -> Path:
    return SAMPLE_WAV


@pytest.fixture
def wav_file(tmp_path: Path):
    """Factory: write a WAV whose default transcript is ``text``."""

    def make(name: str = "a.wav", text: str | None = "Hello world.", **kw: Any) -> Path:
        path = tmp_path / name
        path.write_bytes(make_wav(comment=text, **kw))
        return path

    return make


def spec_dir() -> Path:
    if not (SPEC_DIR / "speechtotext-2025-10-15.json").is_file():
        pytest.skip(
            "the official spec is not present beside the project (../shared/spec); "
            "these tests check the models against it"
        )
    return SPEC_DIR


def load_example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((spec_dir() / "examples" / name).read_text())
    return data
