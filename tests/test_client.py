from __future__ import annotations

import time
from typing import Any

import aiohttp
import anyio
import attrs
import pytest

from speechrest import SpeechClient, errors
from speechrest.testing import SpeechEmulator

pytestmark = pytest.mark.anyio


@attrs.frozen
class _Token:
    token: str
    expires_on: int


class FakeCredential:
    """An azure-identity-like async token provider."""

    def __init__(self, emulator: SpeechEmulator, lifetime: int = 3600) -> None:
        self.emulator = emulator
        self.lifetime = lifetime
        self.calls: list[tuple[str, ...]] = []

    async def get_token(self, *scopes: str) -> Any:
        self.calls.append(scopes)
        token = f"token-{len(self.calls)}"
        self.emulator.state.tokens.add(token)
        return _Token(token, int(time.time()) + self.lifetime)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of key="),
        ({"key": "k", "credential": object()}, "exactly one of key="),
        ({"key": "  "}, "key= is empty"),
    ],
)
def test_auth_arguments_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.InvalidInputError, match=message):
        SpeechClient("https://eastus.api.cognitive.microsoft.com", **kwargs)


def test_plain_http_only_for_loopback() -> None:
    with pytest.raises(errors.InvalidInputError, match="loopback"):
        SpeechClient("http://speech.example.com", key="k")
    SpeechClient("http://speech.example.com", key="k", allow_insecure_http=True)
    SpeechClient("http://127.0.0.1:8080", key="k")
    with pytest.raises(errors.InvalidInputError, match="absolute http"):
        SpeechClient("eastus", key="k")


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://eastus.api.cognitive.microsoft.com/speechtotext",
        "https://eastus.api.cognitive.microsoft.com/speechtotext/",
        "https://my.cognitiveservices.azure.com/speechtotext/v3.2",
        "https://eastus.api.cognitive.microsoft.com/SpeechToText/transcriptions:transcribe",
    ],
)
def test_an_endpoint_with_the_api_path_says_what_an_endpoint_is(endpoint: str) -> None:
    # (The service answers such a URL with a bare 404 on every call.)
    with pytest.raises(errors.InvalidInputError, match=r"without /speechtotext") as caught:
        SpeechClient(endpoint, key="k")
    assert "https://eastus.api.cognitive.microsoft.com," in str(caught.value)


def test_under_trio_the_first_call_says_asyncio_is_needed() -> None:
    pytest.importorskip("trio")

    async def main() -> None:
        async with SpeechClient("http://127.0.0.1:9", key="k"):  # never reached
            pass

    with pytest.raises(errors.ClientStateError, match=r"needs asyncio.*not under trio"):
        anyio.run(main, backend="trio")

    async def emulate() -> None:
        async with SpeechEmulator():
            pass

    with pytest.raises(RuntimeError, match=r"SpeechEmulator needs asyncio"):
        anyio.run(emulate, backend="trio")


def test_from_region_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    c = SpeechClient.from_region("westeurope", key="k")
    assert c.endpoint == "https://westeurope.api.cognitive.microsoft.com"
    monkeypatch.setenv("SPEECH_KEY", "k")
    monkeypatch.delenv("SPEECH_ENDPOINT", raising=False)
    monkeypatch.setenv("SPEECH_REGION", "eastus")
    assert SpeechClient.from_env().endpoint == "https://eastus.api.cognitive.microsoft.com"
    monkeypatch.setenv("SPEECH_ENDPOINT", "https://my.cognitiveservices.azure.com/")
    assert SpeechClient.from_env().endpoint == "https://my.cognitiveservices.azure.com"
    monkeypatch.delenv("SPEECH_KEY")
    with pytest.raises(errors.InvalidInputError, match="SPEECH_KEY"):
        SpeechClient.from_env()
    with pytest.raises(errors.InvalidInputError, match="region"):
        SpeechClient.from_region("east us!", key="k")


def test_repr_never_shows_the_key() -> None:
    c = SpeechClient("https://eastus.api.cognitive.microsoft.com", key="super-secret-key")
    assert "super-secret-key" not in repr(c)
    assert "super-secret-key" not in repr(vars(c))
    assert "super-secret-key" not in repr(vars(c._api.transport.auth))


async def test_unopened_and_closed_client_raise(emulator: SpeechEmulator, sample_wav) -> None:
    c = SpeechClient(emulator.endpoint, key=emulator.key)
    with pytest.raises(errors.ClientStateError, match="async with"):
        await c.transcribe(sample_wav)
    async with c:
        await c.transcribe(sample_wav)
    with pytest.raises(errors.ClientStateError, match="closed"):
        await c.transcribe(sample_wav)
    with pytest.raises(errors.ClientStateError):
        async with c:
            pass


async def test_injected_session_is_used_and_not_closed(
    emulator: SpeechEmulator, sample_wav
) -> None:
    async with aiohttp.ClientSession() as session:
        async with SpeechClient(emulator.endpoint, key=emulator.key, session=session) as c:
            await c.transcribe(sample_wav)
        assert not session.closed
        async with session.get(emulator.endpoint + "/nothing") as resp:
            assert resp.status == 404


async def test_headers_user_agent_and_request_ids(
    client: SpeechClient, emulator, sample_wav
) -> None:
    await client.transcribe(sample_wav)
    await client.transcribe(sample_wav)
    records = [r for r in emulator.requests if r.path.endswith(":transcribe")]
    assert len(records) == 2
    for r in records:
        assert r.headers["user-agent"].startswith("speechrest/")
        assert r.query["api-version"] == "2025-10-15"
        assert r.headers["ocp-apim-subscription-key"] == emulator.key
    ids = {r.headers["x-ms-client-request-id"] for r in records}
    assert len(ids) == 2


async def test_service_request_id_is_kept_on_errors(client: SpeechClient) -> None:
    with pytest.raises(errors.UnprocessableEntityError) as info:
        await client.transcribe(b"not audio at all")
    err = info.value
    assert err.status == 422
    assert err.code == "UnprocessableEntity"
    assert err.inner_code == "InvalidAudioFormat"
    assert err.request_id and len(err.request_id) == 36
    assert err.operation == "Transcriptions_Transcribe"
    assert err.request_id in str(err)


async def test_wrong_key_gives_authentication_error_from_gateway_shape(emulator) -> None:
    async with SpeechClient(emulator.endpoint, key="wrong-key") as c:
        with pytest.raises(errors.AuthenticationError) as info:
            await c.transcribe(b"RIFF")
    assert info.value.status == 401
    assert "invalid subscription key" in (info.value.message or "")
    assert "wrong-key" not in str(info.value)


async def test_key_rotation_without_rebuilding(emulator: SpeechEmulator, sample_wav) -> None:
    async with SpeechClient(emulator.endpoint, key=emulator.key) as c:
        await c.transcribe(sample_wav)
        emulator.state.keys = {"second-key"}
        with pytest.raises(errors.AuthenticationError):
            await c.transcribe(sample_wav)
        c.key = "second-key"
        await c.transcribe(sample_wav)
    with pytest.raises(errors.InvalidInputError):
        c.key = ""


async def test_bearer_token_credential_and_refresh(emulator: SpeechEmulator, sample_wav) -> None:
    cred = FakeCredential(emulator, lifetime=3600)
    async with SpeechClient(emulator.endpoint, credential=cred) as c:
        await c.transcribe(sample_wav)
        await c.transcribe(sample_wav)
    assert cred.calls == [("https://cognitiveservices.azure.com/.default",)]
    last = [r for r in emulator.requests if r.path.endswith(":transcribe")][-1]
    assert last.headers["authorization"] == "Bearer token-1"
    assert "ocp-apim-subscription-key" not in last.headers

    short = FakeCredential(emulator, lifetime=60)  # expires within the refresh margin
    async with SpeechClient(emulator.endpoint, credential=short) as c:
        await c.transcribe(sample_wav)
        await c.transcribe(sample_wav)
    assert len(short.calls) == 2


async def test_connection_refused_is_a_connection_error(sample_wav) -> None:
    async with SpeechClient("http://127.0.0.1:9", key="k", max_retries=1) as c:
        with pytest.raises(errors.APIConnectionError, match="cannot connect") as info:
            await c.transcribe(sample_wav)
    assert not isinstance(info.value, errors.APITimeoutError)


def test_invalid_client_options() -> None:
    url = "https://eastus.api.cognitive.microsoft.com"
    with pytest.raises(errors.InvalidInputError, match="max_retries"):
        SpeechClient(url, key="k", max_retries=-1)
    with pytest.raises(errors.InvalidInputError, match="read_timeout"):
        SpeechClient(url, key="k", read_timeout=0)
    with pytest.raises(errors.InvalidInputError, match="max_retries"):
        SpeechClient(url, key="k").with_options(max_retries=-2)


async def test_fan_out_streams_are_used_inside_async_with(client, emulator) -> None:
    stream = client.transcribe_many([b"x"])
    with pytest.raises(errors.ClientStateError, match=r"async with client\.transcribe_many"):
        async for _ in stream:
            pass
    waits = client.transcriptions.wait_many([])
    with pytest.raises(errors.ClientStateError, match="wait_many"):
        async for _ in waits:
            pass
    assert len(emulator.requests) == 0  # nothing started outside the block
    async with client.transcribe_many([]) as outcomes:
        assert [o async for o in outcomes] == []
    with pytest.raises(errors.ClientStateError, match="already used"):
        async with outcomes:
            pass


async def test_an_error_in_the_loop_body_is_raised_as_it_is(client, wav_file) -> None:
    with pytest.raises(LookupError, match="mine"):
        async with client.transcribe_many([wav_file()] * 5, concurrency=2) as outcomes:
            async for _ in outcomes:
                raise LookupError("mine")
    assert client.stats().connections_in_use == 0


async def test_with_options_is_a_view_of_the_open_client(emulator, wav_file) -> None:
    client = SpeechClient(emulator.endpoint, key=emulator.key)
    view = client.with_options(max_retries=0)
    with pytest.raises(errors.ClientStateError, match="with_options"):
        async with view:
            pass
    async with client:
        assert (await view.transcribe(wav_file(text="Through the view."))).text == (
            "Through the view."
        )
        client.key = "rotated"
        assert view.key == "rotated"  # one set of credentials
    with pytest.raises(errors.ClientStateError, match="closed"):
        await view.transcribe(wav_file())
    with pytest.raises(errors.InvalidInputError, match="max_retries"):
        client.with_options(max_retries=-1)


async def test_unknown_and_mistyped_options_are_refused_before_any_request(
    client, emulator, wav_file
) -> None:
    with pytest.raises(errors.InvalidInputError, match="did you mean 'locales'"):
        await client.transcribe(wav_file(), locale="en-US")  # type: ignore[call-arg]
    with pytest.raises(errors.InvalidInputError, match="max_speakers"):
        await client.transcribe(wav_file(), max_speakers="four")  # type: ignore[typeddict-item]
    for weight in (float("nan"), float("inf"), "2"):
        with pytest.raises(errors.InvalidInputError, match="phrase_list_weight"):
            await client.transcribe(wav_file(), phrase_list_weight=weight)  # type: ignore[typeddict-item]
    with pytest.raises(errors.InvalidInputError, match="sources must be a list"):
        client.transcribe_many("call.wav")
    assert len(emulator.requests) == 0
