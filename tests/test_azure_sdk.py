"""Microsoft's own client, ``azure-ai-transcription``, against the emulator: sync and async,
with a key and with a Microsoft Entra ID bearer token (over HTTPS, which the SDK requires for
tokens), for every option it sends. Each response must have the shape the service documents:
the Swagger's examples, or Learn's where the Swagger has none (diarization)."""

from __future__ import annotations

import importlib.util
import io
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.to_thread
import pytest

from speechrest.testing import SpeechEmulator, make_wav

from .conftest import load_example

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        importlib.util.find_spec("azure.ai.transcription") is None
        or importlib.util.find_spec("trustme") is None,
        reason="azure-ai-transcription and trustme are test tools (pip install -e '.[test]')",
    ),
]

TOKEN = "entra-token-for-tests"
TALK = "Hello and welcome. How are you today? I am fine thanks."


class _Credential:
    """A TokenCredential (sync and async) as azure-identity's: one token for the scope."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def _token(self, scopes: tuple[str, ...]) -> Any:
        from azure.core.credentials import AccessToken

        self.scopes.append(scopes)
        return AccessToken(TOKEN, int(time.time()) + 3600)

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        return self._token(scopes)


class _AsyncCredential(_Credential):
    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:  # type: ignore[override]
        return self._token(scopes)

    async def close(self) -> None:
        pass

    async def __aexit__(self, *exc: object) -> None:
        pass


@pytest.fixture
async def emulator() -> AsyncIterator[SpeechEmulator]:
    async with SpeechEmulator(https=True, tokens=[TOKEN]) as emu:
        yield emu


Call = Callable[[Any, Any], Any]
"""``call(client, models)``: one SDK call, made with the sync or the async client."""


async def _run(emu: SpeechEmulator, mode: str, auth: str, call: Call) -> Any:
    """``call`` with the SDK's sync client (in a worker thread: the emulator shares the test's
    event loop) or async client, signed in with the key or a token."""
    from azure.ai.transcription import models
    from azure.core.credentials import AzureKeyCredential

    verify = str(emu.ca_cert)
    if mode == "sync":
        from azure.ai.transcription import TranscriptionClient

        credential: Any = AzureKeyCredential(emu.key) if auth == "key" else _Credential()

        def sync() -> Any:
            with TranscriptionClient(emu.endpoint, credential, connection_verify=verify) as c:
                return call(c, models)

        result = await anyio.to_thread.run_sync(sync)
    else:
        from azure.ai.transcription.aio import TranscriptionClient as AsyncClient

        credential = AzureKeyCredential(emu.key) if auth == "key" else _AsyncCredential()
        async with AsyncClient(emu.endpoint, credential, connection_verify=verify) as c:
            result = await call(c, models)
    request = [r for r in emu.requests if r.path.startswith("/speechtotext/")][-1]
    if auth == "key":
        assert request.headers["ocp-apim-subscription-key"] == emu.key
    else:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert "ocp-apim-subscription-key" not in request.headers
        assert credential.scopes[-1] == ("https://cognitiveservices.azure.com/.default",)
    return result


def _shape(value: Any) -> Any:
    """The structure of a JSON value: keys and types, each list by the union of its items."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        merged: dict[str, Any] = {}
        for item in value:
            shape = _shape(item)
            if isinstance(shape, dict):
                merged |= shape
            else:
                return [shape]
        return [merged]
    return (
        "number"
        if isinstance(value, int | float) and not isinstance(value, bool)
        else type(value).__name__
    )


def _example(name: str) -> Any:
    return _shape(load_example(name)["responses"]["200"]["body"])


# Learn, fast transcription, "diarization" response (the Swagger has no such example):
# "channel": 0 and "speaker" on every phrase, "channel": 0 on combinedPhrases.
_WORD = {"text": "str", "offsetMilliseconds": "number", "durationMilliseconds": "number"}
LEARN_DIARIZED = {
    "durationMilliseconds": "number",
    "combinedPhrases": [{"channel": "number", "text": "str"}],
    "phrases": [
        {
            "channel": "number",
            "speaker": "number",
            "offsetMilliseconds": "number",
            "durationMilliseconds": "number",
            "text": "str",
            "words": [_WORD],
            "locale": "str",
            "confidence": "number",
        }
    ],
}
# Learn, fast transcription, "multichannel" response: "channel" on phrases and combinedPhrases.
LEARN_CHANNELS = {
    **LEARN_DIARIZED,
    "phrases": [{k: v for k, v in LEARN_DIARIZED["phrases"][0].items() if k != "speaker"}],  # type: ignore[index]
}

MODES = [("sync", "key"), ("sync", "token"), ("async", "key"), ("async", "token")]


@pytest.mark.parametrize(("mode", "auth"), MODES)
async def test_every_option_gets_the_documented_shape(
    emulator: SpeechEmulator, mode: str, auth: str
) -> None:
    mono = make_wav(seconds=6, comment=TALK)
    stereo = make_wav(seconds=2, channels=2, comment="Left and right.")
    url = emulator.serve_bytes(mono, "talk.wav")
    base = emulator.state.url("/models/base/e065c68b-21d3-4b28-ae61-eb4c7e797789")

    def transcribe(audio: bytes, **options: Any) -> Call:
        def call(client: Any, models: Any) -> Any:
            content = models.TranscriptionContent(
                definition=models.TranscriptionOptions(**options), audio=io.BytesIO(audio)
            )
            return client.transcribe(content)

        return call

    plain = _example("transcribe_file.json")
    cases: list[tuple[str, Call, Any]] = [
        ("locales", transcribe(mono, locales=["en-US"]), plain),
        (
            "audio url",
            lambda c, models: c.transcribe_from_url(
                url, options=models.TranscriptionOptions(locales=["en-US"])
            ),
            _example("transcribe_audio_url.json"),
        ),
        ("no options", transcribe(mono), plain),
        ("models", transcribe(mono, locales=["en-US"], models={"en-US": base}), plain),
        ("profanity", transcribe(mono, profanity_filter_mode="Tags"), plain),
        ("channels", transcribe(stereo, active_channels=[0, 1]), LEARN_CHANNELS),
        ("mono channels", transcribe(mono, active_channels=[0, 1]), plain),
    ]

    def with_phrase_list(client: Any, models: Any) -> Any:
        phrases = models.PhraseListProperties(phrases=["Contoso"], biasing_weight=1.5)
        return transcribe(mono, phrase_list=phrases)(client, models)

    def translated(client: Any, models: Any) -> Any:
        enhanced = models.EnhancedModeProperties(task="translate", target_language="zh")
        return transcribe(mono, locales=["en-US"], enhanced_mode=enhanced)(client, models)

    cases += [
        ("phrase list", with_phrase_list, plain),
        ("enhanced mode", translated, _example("transcribe_enhanced_mode.json")),
    ]
    for name, call, expected in cases:
        result = await _run(emulator, mode, auth, _awaitable(call, mode))
        assert _shape(result.as_dict()) == expected, name
        assert result.duration_milliseconds in (6000, 2000), name
    sent = list(emulator.state.transcribe_definitions)[-len(cases) :]
    assert sent[-1]["enhancedMode"] == {
        "enabled": True,
        "task": "translate",
        "targetLanguage": "zh",
    }


@pytest.mark.parametrize(("mode", "auth"), MODES)
async def test_diarization_as_the_sdk_sends_it(
    emulator: SpeechEmulator, mode: str, auth: str
) -> None:
    """``TranscriptionDiarizationOptions(max_speakers=2)`` goes out as ``{"maxSpeakers": 2}``
    (its ``enabled`` is read-only): the service labels no speakers then
    (Azure/azure-sdk-for-python#44436), and neither does the emulator. With ``enabled`` on
    the wire (a JSON body, as the SDK also takes) the phrases have speakers from 0 and
    ``channel`` 0, as Learn's example shows."""
    audio = make_wav(seconds=6, comment=TALK)

    def max_speakers_alone(client: Any, models: Any) -> Any:
        options = models.TranscriptionOptions(
            locales=["en-US"],
            diarization_options=models.TranscriptionDiarizationOptions(max_speakers=2),
        )
        content = models.TranscriptionContent(definition=options, audio=io.BytesIO(audio))
        return client.transcribe(content)

    result = await _run(emulator, mode, auth, _awaitable(max_speakers_alone, mode))
    assert emulator.state.transcribe_definitions[-1]["diarization"] == {"maxSpeakers": 2}
    assert [p.speaker for p in result.phrases] == [None, None, None]
    assert _shape(result.as_dict()) == _example("transcribe_file.json")

    def enabled(client: Any, models: Any) -> Any:
        definition = {"locales": ["en-US"], "diarization": {"enabled": True, "maxSpeakers": 2}}
        return client.transcribe({"definition": definition, "audio": io.BytesIO(audio)})

    result = await _run(emulator, mode, auth, _awaitable(enabled, mode))
    assert [p.speaker for p in result.phrases] == [0, 1, 0]
    assert [p.channel for p in result.phrases] == [0, 0, 0]
    assert _shape(result.as_dict()) == LEARN_DIARIZED


def _awaitable(call: Call, mode: str) -> Call:
    """The async client's methods return coroutines: await them."""
    if mode == "sync":
        return call

    async def run(client: Any, models: Any) -> Any:
        return await call(client, models)

    return run


async def test_the_sdk_sends_tokens_over_https_only() -> None:
    """Why the emulator serves HTTPS: azure-core refuses a bearer token over plain HTTP."""
    from azure.ai.transcription.aio import TranscriptionClient
    from azure.core.exceptions import ServiceRequestError

    async with (
        SpeechEmulator(tokens=[TOKEN]) as plain,
        TranscriptionClient(plain.endpoint, _AsyncCredential()) as client,
    ):
        with pytest.raises(ServiceRequestError, match="non-TLS"):
            await client.transcribe({"definition": {}, "audio": io.BytesIO(make_wav())})
