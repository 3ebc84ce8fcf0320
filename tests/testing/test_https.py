"""The emulator over HTTPS, with a certificate authority made on the spot, and bearer tokens:
from Python and from ``speechrest emulator``."""

from __future__ import annotations

import importlib.util
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import attrs
import pytest

from speechrest import PollPolicy, SpeechClient, errors
from speechrest.testing import SpeechEmulator, Timing, make_wav

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        importlib.util.find_spec("trustme") is None,
        reason="trustme is not installed (pip install -e '.[emulator]')",
    ),
]

TOKEN = "a-token"
POLL = PollPolicy(initial_interval=0.02, max_interval=0.1)


class Credential:
    """An async token provider, as azure.identity.aio's credentials."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token

    async def get_token(self, *scopes: str) -> AccessToken:
        assert scopes == ("https://cognitiveservices.azure.com/.default",)
        return AccessToken(self.token, int(time.time()) + 3600)


@attrs.frozen
class AccessToken:
    token: str
    expires_on: int


async def test_https_with_a_token_end_to_end(tmp_path: Path) -> None:
    async with SpeechEmulator(
        https=True, tokens=[TOKEN], ca_dir=tmp_path, timing=Timing(queue_delay=0.01, run_time=0.01)
    ) as emu:
        assert emu.endpoint.startswith("https://127.0.0.1:")
        assert emu.ca_cert == tmp_path / "speechrest-emulator-ca.pem"
        assert emu.ca_cert.read_text().startswith("-----BEGIN CERTIFICATE-----")
        async with SpeechClient(
            emu.endpoint, credential=Credential(), ssl=emu.ssl_context()
        ) as client:
            result = await client.transcribe(make_wav(comment="Over TLS."))
            assert result.text == "Over TLS."
            # The emulator reads what it serves over HTTPS too (it trusts its own authority).
            url = emu.serve_bytes(make_wav(comment="From a served URL."), "served.wav")
            assert url.startswith("https://")
            assert (await client.transcribe(audio_url=url)).text == "From a served URL."
            job = await client.transcriptions.submit_and_wait(
                content_urls=[url], locale="en-US", policy=POLL
            )
            assert [r.text async for r in client.transcriptions.results(job)] == [
                "From a served URL."
            ]
        bearer = [r for r in emu.requests if r.path.startswith("/speechtotext/")]
        assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in bearer)
        # A client that does not trust the authority cannot connect; a wrong token is refused.
        async with SpeechClient(emu.endpoint, key=emu.key) as untrusting:
            with pytest.raises(errors.APIConnectionError):
                await untrusting.transcribe(make_wav())

        wrong = Credential("not-the-token")
        async with SpeechClient(emu.endpoint, credential=wrong, ssl=emu.ssl_context()) as client:
            with pytest.raises(errors.AuthenticationError):
                await client.transcribe(make_wav())
    assert emu.ca_cert.exists()  # a folder given by the caller is left as it is


async def test_the_default_authority_folder_is_removed_on_stop() -> None:
    async with SpeechEmulator(https=True) as emu:
        cert = emu.ca_cert
        assert cert is not None and cert.exists()
        context = ssl.create_default_context(cafile=str(cert))
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                emu.endpoint + "/speechtotext/transcriptions/locales",
                params={"api-version": "2025-10-15"},
                headers={"Ocp-Apim-Subscription-Key": emu.key},
                ssl=context,
            ) as resp,
        ):
            assert resp.status == 200
    assert not cert.exists() and emu.ca_cert is None
    with pytest.raises(RuntimeError, match="https=True"):
        SpeechEmulator().ssl_context()


def test_the_command_line_serves_https_and_tokens(sample_wav: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "speechrest",
            "emulator",
            "--port",
            "0",
            "--https",
            "--token",
            TOKEN,
            "--recognizer",
            "deterministic",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    env: dict[str, str] = {}
    try:
        assert proc.stdout is not None
        while "SPEECH_CA_CERT" not in env:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else "the emulator exited"
            if "=" in line:
                name, value = line.strip().split("=", 1)
                env[name] = value
        assert env["SPEECH_ENDPOINT"].startswith("https://127.0.0.1:")
        cert = Path(env["SPEECH_CA_CERT"])
        assert cert.is_file()
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "import json, ssl, sys, urllib.request;"
                "req = urllib.request.Request(sys.argv[1] + '/speechtotext/transcriptions/locales"
                "?api-version=2025-10-15', headers={'Authorization': 'Bearer ' + sys.argv[3]});"
                "ctx = ssl.create_default_context(cafile=sys.argv[2]);"
                "print(json.load(urllib.request.urlopen(req, context=ctx))['Transcribe'][0])",
                env["SPEECH_ENDPOINT"],
                str(cert),
                TOKEN,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "SPEECH_CA_CERT" not in err
        assert not cert.exists()  # deleted when the emulator stops, as it says
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
