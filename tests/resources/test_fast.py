from __future__ import annotations

import pytest

from speechrest import SpeechClient
from speechrest.testing import SpeechEmulator

pytestmark = pytest.mark.anyio


async def test_transcribe_sample_path(client: SpeechClient, sample_wav) -> None:
    result = await client.transcribe(sample_wav, locales=["en-US"])
    assert result.text == "Hello from the speechrest emulator. The weather today is sunny."
    assert result.duration_ms == 3000
    assert result.phrases[0].words is not None


async def test_emulator_has_random_key() -> None:
    async with SpeechEmulator() as a, SpeechEmulator() as b:
        assert a.key != b.key
        assert a.endpoint.startswith("http://127.0.0.1:")
