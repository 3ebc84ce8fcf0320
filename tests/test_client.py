from __future__ import annotations

import time
from typing import Any

import aiohttp
import anyio
import attrs
import pytest

from speechrest import PollPolicy, SpeechClient, errors
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


NAN, INF = float("nan"), float("inf")
JOB = "9d5f4100-5f8e-4dd6-bd83-9bbbf50d57f1"
NUMERIC_OPTIONS: list[tuple[str, Any, list[Any]]] = [
    # (the option, how to pass it a value, the values refused)
    *[
        (name, lambda c, v, n=name: SpeechClient("http://127.0.0.1:1", key="k", **{n: v}), bad)
        for name, bad in [
            ("connect_timeout", [NAN, INF, -1, 0, "1", True, None]),
            ("read_timeout", [NAN, INF, -1, 0, "1", True, None]),
            ("backoff_base", [NAN, INF, -1, "1", True]),
            ("backoff_max", [NAN, -0.5, "1"]),
            ("max_retry_after", [NAN, INF, -1]),
            ("max_retry_time", [NAN, INF, -1]),
            ("max_retries", [-1, 1.5, NAN, "3", True]),
            ("max_connections", [0, 1.5, NAN, "10"]),
            ("max_response_bytes", [0, 1.5, NAN, "10"]),
            ("max_download_bytes", [0, 1.5, NAN, "10"]),
        ]
    ],
    *[
        (name, lambda c, v, n=name: c.with_options(**{n: v}), [NAN, INF, -1, "1", True])
        for name in ("max_retries", "backoff_base", "max_retry_after", "max_retry_time")
    ],
    ("max_speakers", lambda c, v: c.transcribe(b"RIFF", max_speakers=v), [1, 36, 2.5, NAN]),
    (
        "phrase_list_weight",
        lambda c, v: c.transcribe(b"RIFF", phrase_list=["x"], phrase_list_weight=v),
        [NAN, INF, -INF, -0.1, 20.5, "2", True],
    ),
    ("channels", lambda c, v: c.transcribe(b"RIFF", channels=v), [[-1], [NAN], [0.5], [True]]),
    ("concurrency", lambda c, v: c.transcribe_many([], concurrency=v), [0, 10**9, 1.5, NAN]),
    (
        "time_to_live_hours",
        lambda c, v: c.transcriptions.submit(
            locale="en-US", content_urls=["https://x/a.wav"], time_to_live_hours=v
        ),
        [5, 745, 6.5, NAN, INF, "48"],
    ),
    ("skip", lambda c, v: c.transcriptions.list(skip=v), [-1, 2**31, 1.5, NAN]),
    ("top", lambda c, v: c.transcriptions.list(top=v), [0, 2**31, 1.5, NAN, "10"]),
    (
        "sas_lifetime_minutes",
        lambda c, v: c.transcriptions.list_files(JOB, sas_lifetime_minutes=v),
        [-1, 2**31, NAN, 2.5],
    ),
    (
        "sas_lifetime_minutes",
        lambda c, v: c.models.get_manifest(JOB, sas_lifetime_minutes=v),
        [0, -1, NAN],
    ),
    ("concurrency", lambda c, v: c.transcriptions.wait_many([JOB], concurrency=v), [0, 10**6]),
    (
        "custom_model_weight_percent",
        lambda c, v: c.models.create(
            display_name="m", locale="en-US", datasets=[JOB], custom_model_weight_percent=v
        ),
        [0, 101, NAN, 50.5],
    ),
    (
        "block_size",
        lambda c, v: c.datasets.upload(
            __file__, display_name="d", locale="en-US", kind="Acoustic", block_size=v
        ),
        [0, 8 * 1024 * 1024 + 1, NAN, 1.5],
    ),
    (
        "concurrency",
        lambda c, v: c.datasets.upload(
            __file__, display_name="d", locale="en-US", kind="Acoustic", concurrency=v
        ),
        [0, 10**9, NAN],
    ),
    *[
        (name, lambda c, v, n=name: PollPolicy(**{n: v}), bad)
        for name, bad in [
            ("initial_interval", [0, -1, NAN, INF, "1"]),
            ("min_interval", [-1, NAN, INF]),
            ("max_interval", [0, NAN, INF]),
            ("growth", [0.5, NAN, INF]),
        ]
    ],
]


@pytest.mark.parametrize(
    ("option", "call", "value"),
    [(option, call, value) for option, call, values in NUMERIC_OPTIONS for value in values],
    ids=lambda x: x if isinstance(x, str) else repr(x) if not callable(x) else "",
)
async def test_every_numeric_option_is_checked_before_any_request(
    client: SpeechClient, emulator: SpeechEmulator, option: str, call: Any, value: Any
) -> None:
    """Finite, of the right type and in range: else InvalidInputError naming the option,
    before anything is sent (nan and inf would be invalid JSON on the wire)."""
    with pytest.raises(errors.InvalidInputError, match=option):
        outcome = call(client, value)
        if hasattr(outcome, "__await__"):
            await outcome
        elif hasattr(outcome, "__aiter__"):
            [_ async for _ in outcome]
    assert len(emulator.requests) == 0


async def test_a_retry_after_of_zero_never_makes_a_wait_poll_back_to_back(
    client: SpeechClient, emulator: SpeechEmulator
) -> None:
    """The service says "poll again now" (Retry-After: 0) on every poll: the waits keep
    to their policy's floor (by default initial_interval) instead of flooding it."""
    from speechrest.testing import Timing

    emulator.state.timing = Timing(queue_delay=3600, run_time=3600, retry_after=0)
    url = emulator.serve_bytes(b"RIFF", "a.wav")
    job = await client.transcriptions.submit(locale="en-US", content_urls=[url])
    policy = PollPolicy(initial_interval=0.2)
    gets = emulator.faults.record(operation="Transcriptions_Get")
    with anyio.move_on_after(1.0):
        await client.transcriptions.wait(job, policy=policy)
    assert 1 <= gets.count <= 7  # at most every 0.2 s, not thousands in a second
    before = gets.count
    with anyio.move_on_after(1.0):
        async with client.transcriptions.wait_many([job], policy=policy) as outcomes:
            async for _ in outcomes:
                pass
    assert 1 <= gets.count - before <= 7
