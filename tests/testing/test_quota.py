"""The emulator's quotas: a sliding window per family, 429 in the gateway's shape with
Retry-After, downloads not metered, changeable at run time; and ``speechrest emulator``'s
flags for them."""

from __future__ import annotations

import json
import subprocess
import sys

import aiohttp
import pytest

from speechrest import QuotaPolicy, SpeechClient
from speechrest.errors import RateLimitError
from speechrest.testing import FAST_QUOTA, REST_QUOTA, Quota, Quotas, SpeechEmulator, make_wav

pytestmark = pytest.mark.anyio

WAV = make_wav(seconds=0.2, comment="Hello world.")
OFF = QuotaPolicy(adaptive=False)
"""A client that does not pace itself, so that it meets the quota at once."""


def naive(emulator: SpeechEmulator) -> SpeechClient:
    return SpeechClient(
        emulator.endpoint, key=emulator.key, fast_quota=OFF, rest_quota=OFF, max_retry_after=0
    )


async def test_beyond_the_quota_a_429_in_the_gateways_shape_with_retry_after() -> None:
    quotas = Quotas(fast=Quota(2, 60.0), rest=None)
    async with SpeechEmulator(quotas=quotas) as emulator:
        async with aiohttp.ClientSession() as session:
            url = f"{emulator.endpoint}/speechtotext/transcriptions:transcribe"
            params = {"api-version": "2025-10-15"}
            headers = {"Ocp-Apim-Subscription-Key": emulator.key}
            for expected in (200, 200, 429):
                form = aiohttp.FormData()
                form.add_field("definition", "{}")
                form.add_field("audio", WAV, filename="a.wav")
                async with session.post(url, params=params, headers=headers, data=form) as resp:
                    assert resp.status == expected
                    body = await resp.json()
                    retry_after = resp.headers.get("Retry-After")
        assert set(body) == {"error"} and body["error"]["code"] == "429"
        assert "rate limit" in body["error"]["message"] and "quota" not in body["error"]["message"]
        assert retry_after is not None and 59 <= int(retry_after) <= 60
        assert (quotas.admitted["fast"], quotas.throttled["fast"]) == (2, 1)


async def test_each_family_has_its_own_window_and_downloads_are_not_metered() -> None:
    async with SpeechEmulator(quotas=Quotas(fast=Quota(1, 60.0), rest=Quota(2, 60.0))) as emu:
        url = emu.serve_bytes(WAV, "a.wav")
        async with naive(emu) as client:
            await client.transcribe(WAV)
            with pytest.raises(RateLimitError) as caught:
                await client.transcribe(WAV)  # the fast family's one request is used
            assert caught.value.retry_after is not None and not caught.value.inner_code
            await client.transcriptions.list_supported_locales()  # the REST family's own
            async with aiohttp.ClientSession() as session:
                for _ in range(5):  # served audio (Blob Storage) is not the Speech API
                    async with session.get(url) as resp:
                        assert resp.status == 200
            await client.transcriptions.list_supported_locales()
            with pytest.raises(RateLimitError):
                await client.transcriptions.list_supported_locales()
        assert emu.quotas.admitted == {"fast": 1, "rest": 2}
        assert emu.quotas.throttled == {"fast": 1, "rest": 1}


async def test_quotas_change_while_it_runs_and_are_off_by_default(emulator) -> None:
    assert (emulator.quotas.fast, emulator.quotas.rest) == (None, None)
    async with naive(emulator) as client:
        for _ in range(3):
            await client.transcriptions.list_supported_locales()
        emulator.quotas.rest = Quota(1, 60.0)
        await client.transcriptions.list_supported_locales()
        with pytest.raises(RateLimitError):
            await client.transcriptions.list_supported_locales()
        emulator.quotas.reset()
        assert emulator.quotas.throttled == {}
        await client.transcriptions.list_supported_locales()  # a fresh window


def test_the_documented_limits_and_quota_parsing() -> None:
    documented = Quotas()
    assert (documented.fast, documented.rest) == (FAST_QUOTA, REST_QUOTA)
    assert (Quota(600, 60.0), Quota(100, 10.0)) == (FAST_QUOTA, REST_QUOTA)
    assert str(documented) == "fast: 600 requests per 60 seconds, rest: 100 requests per 10 seconds"
    assert Quota.parse("80/1") == Quota(80, 1.0)
    for bad in ("80", "80/0", "x/1", "0/5", "1.5/2"):
        with pytest.raises(ValueError, match=r"REQUESTS/SECONDS|requests >= 1"):
            Quota.parse(bad)


def test_the_command_line_flags() -> None:
    script = (
        "import asyncio, json, sys\n"
        "from speechrest import SpeechClient, QuotaPolicy\n"
        "from speechrest.errors import RateLimitError\n"
        "async def main(endpoint, key):\n"
        "    off = QuotaPolicy(adaptive=False)\n"
        "    async with SpeechClient(endpoint, key=key, rest_quota=off, max_retry_after=0) as c:\n"
        "        codes = []\n"
        "        for _ in range(3):\n"
        "            try:\n"
        "                await c.transcriptions.list_supported_locales(); codes.append(200)\n"
        "            except RateLimitError: codes.append(429)\n"
        "        print(json.dumps(codes))\n"
        "asyncio.run(main(*sys.argv[1:]))\n"
    )
    emulator = subprocess.Popen(
        [sys.executable, "-m", "speechrest", "emulator", "--port", "0", "--rest-quota", "2/60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        lines = [emulator.stdout.readline() for _ in range(4)]
        env = dict(line.strip().split("=", 1) for line in lines if line.startswith("SPEECH_"))
        assert "throttling at fast: not metered, rest: 2 requests per 60 seconds" in lines[1]
        out = subprocess.run(
            [sys.executable, "-c", script, env["SPEECH_ENDPOINT"], env["SPEECH_KEY"]],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert json.loads(out.stdout) == [200, 200, 429]
    finally:
        emulator.kill()
        emulator.communicate()
    bad = subprocess.run(
        [sys.executable, "-m", "speechrest", "emulator", "--fast-quota", "lots"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2 and "REQUESTS/SECONDS" in bad.stderr


def test_the_quota_flags_combine() -> None:
    from speechrest.cli._emulator import _quotas

    assert _quotas(False, None, None) is None  # nothing metered by default
    documented = _quotas(True, None, None)
    assert documented is not None
    assert (documented.fast, documented.rest) == (FAST_QUOTA, REST_QUOTA)
    mixed = _quotas(True, "80/1", None)  # one family's own limit, the other documented
    assert mixed is not None and (mixed.fast, mixed.rest) == (Quota(80, 1.0), REST_QUOTA)
    alone = _quotas(False, None, "5/10")  # only the family asked for
    assert alone is not None and (alone.fast, alone.rest) == (None, Quota(5, 10.0))
