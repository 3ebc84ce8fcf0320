"""The emulator answers as the service does (Swagger 2025-10-15 and Microsoft Learn): fast
transcription options and defaults, batch channels and language identification, dataset
sources, validation, API versions. Each test names the documented behaviour it checks."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from speechrest import PollPolicy, SpeechClient, errors
from speechrest.testing import ScriptedRecognizer, ServiceLimits, SpeechEmulator, Timing, make_wav
from speechrest.types import DatasetKind, TextNormalizationKind
from tests.audio_server import audio_server  # noqa: F401 - fixture

pytestmark = pytest.mark.anyio

FAST = Timing(queue_delay=0.01, run_time=0.01, retry_after=0)
POLL = PollPolicy(initial_interval=0.02, max_interval=0.1)
TALK = "Hello and welcome. How are you today? I am fine thanks."


@pytest.fixture
async def emulator() -> Any:
    async with SpeechEmulator(timing=FAST) as emu:
        yield emu


async def _transcribe(
    emu: SpeechEmulator, audio: bytes, definition: dict[str, Any], version: str = "2025-10-15"
) -> tuple[int, Any]:
    """POST a fast transcription with exactly this ``definition`` on the wire."""
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("definition", json.dumps(definition))
    form.add_field("audio", audio, filename="a.wav", content_type="audio/wav")
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            emu.endpoint + "/speechtotext/transcriptions:transcribe",
            data=form,
            params={"api-version": version},
            headers={"Ocp-Apim-Subscription-Key": emu.key},
        ) as resp,
    ):
        return resp.status, await resp.json()


# -- 1. diarization -------------------------------------------------------------------------


async def test_max_speakers_alone_labels_no_speakers(emulator: SpeechEmulator) -> None:
    """What azure-ai-transcription sends (``{"maxSpeakers": N}``, ``enabled`` is read-only
    there) gets no speaker labels, as the service answers it (azure-sdk-for-python#44436;
    Learn: "Expecting speaker labels without explicitly enabling diarization" is a common
    failure; Swagger: "Diarization settings must be specified to enable diarization")."""
    wav = make_wav(seconds=6, comment=TALK)
    status, body = await _transcribe(emulator, wav, {"diarization": {"maxSpeakers": 2}})
    assert status == 200
    assert all("speaker" not in p and "channel" not in p for p in body["phrases"])
    assert body["combinedPhrases"] == [{"text": TALK}]


async def test_diarization_enabled_numbers_speakers_from_0_on_channel_0(
    emulator: SpeechEmulator,
) -> None:
    """Learn's fast transcription example: ``"speaker": 0`` / ``"speaker": 1`` and
    ``"channel": 0`` on every phrase and on ``combinedPhrases``."""
    wav = make_wav(seconds=6, comment=TALK)
    definition = {"diarization": {"enabled": True, "maxSpeakers": 2}}
    status, body = await _transcribe(emulator, wav, definition)
    assert status == 200
    assert [p["speaker"] for p in body["phrases"]] == [0, 1, 0]
    assert [p["channel"] for p in body["phrases"]] == [0, 0, 0]
    assert body["combinedPhrases"] == [{"channel": 0, "text": TALK}]
    # maxSpeakers defaults to 2.
    status, body = await _transcribe(emulator, wav, {"diarization": {"enabled": True}})
    assert [p["speaker"] for p in body["phrases"]] == [0, 1, 0]


async def test_stereo_diarization_of_both_channels_is_refused(emulator: SpeechEmulator) -> None:
    """Learn: "If the audio is stereo and diarization is enabled, then you can't set the
    channels property to [0,1]"."""
    stereo = make_wav(seconds=2, channels=2, comment="Hello there.")
    definition = {"diarization": {"enabled": True}, "channels": [0, 1]}
    status, body = await _transcribe(emulator, stereo, definition)
    assert (status, body["innerError"]["code"]) == (400, "InvalidChannelSpecification")
    definition["channels"] = [1]
    status, body = await _transcribe(emulator, stereo, definition)
    assert status == 200 and {p["channel"] for p in body["phrases"]} == {1}


# -- 4. channels and defaults ---------------------------------------------------------------


async def test_mono_audio_ignores_channels(emulator: SpeechEmulator) -> None:
    """Learn: "For mono audio, the channels property is ignored, and the audio is always
    transcribed as a single channel"."""
    status, body = await _transcribe(emulator, make_wav(comment="Just one."), {"channels": [0, 1]})
    assert status == 200
    assert body["combinedPhrases"] == [{"text": "Just one."}]
    assert "channel" not in body["phrases"][0]


async def test_defaults_masked_profanity_and_display_words(emulator: SpeechEmulator) -> None:
    """Learn: profanityFilterMode "The default value is Masked"; words are "Time-stamped
    word[s] in the display form", with punctuation ("Hello," "afternoon.")."""
    wav = make_wav(seconds=3, comment="Well, damn. Good afternoon, Contoso.")
    status, body = await _transcribe(emulator, wav, {})
    assert status == 200
    assert body["combinedPhrases"][0]["text"] == "Well, ****. Good afternoon, Contoso."
    words = [w["text"] for p in body["phrases"] for w in p["words"]]
    assert words == ["Well,", "****.", "Good", "afternoon,", "Contoso."]


# -- 5. language identification and enhanced mode --------------------------------------------


async def test_one_main_locale_per_file_as_heard(emulator: SpeechEmulator) -> None:
    """Learn: fast transcription "is designed to identify one main language locale per audio
    file": the locale the audio is in, not the first candidate."""
    japanese = make_wav(seconds=2, comment="Konnichiwa. Ogenki desu ka.", language="ja-JP")
    status, body = await _transcribe(emulator, japanese, {"locales": ["en-US", "ja-JP"]})
    assert status == 200
    assert [p["locale"] for p in body["phrases"]] == ["ja-JP", "ja-JP"]
    # One locale given: that locale is used for transcription.
    status, body = await _transcribe(emulator, japanese, {"locales": ["en-US"]})
    assert {p["locale"] for p in body["phrases"]} == {"en-US"}


async def test_unsupported_locales_and_models_are_refused(emulator: SpeechEmulator) -> None:
    wav = make_wav()
    nowhere = emulator.state.url("/models/00000000-0000-0000-0000-000000000000")
    german = emulator.state.url("/models/base/5b6ee0f3-5f54-4b24-a2f7-fcd0c5ab6b6a")
    translate = {"enabled": True, "task": "translate"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"locales": ["xx-XX"]}, "InvalidLocale"),
        ({"locales": ["en-US"], "models": {"en-US": nowhere}}, "InvalidModel"),
        ({"locales": ["en-US"], "models": {"de-DE": german}}, "InvalidModel"),
        ({"phraseList": {"phrases": ["Contoso"], "biasingWeight": 2.5}}, "InvalidParameterValue"),
        ({"phraseList": {"phrases": ["Contoso"], "biasingWeight": -0.1}}, "InvalidParameterValue"),
        ({"enhancedMode": {"enabled": True, "task": "summarize"}}, "InvalidParameterValue"),
        ({"enhancedMode": translate}, "InvalidLocale"),
        ({"enhancedMode": {**translate, "targetLanguage": "xx"}}, "InvalidLocale"),
    ]
    for definition, inner in cases:
        status, body = await _transcribe(emulator, wav, definition)
        assert (status, body["innerError"]["code"]) == (400, inner), definition
    base = emulator.state.url("/models/base/e065c68b-21d3-4b28-ae61-eb4c7e797789")
    phrases = {"phrases": ["A"], "biasingWeight": 2.0}
    ok = {"locales": ["en-US"], "models": {"en-US": base}, "phraseList": phrases}
    assert (await _transcribe(emulator, wav, ok))[0] == 200


async def test_enhanced_mode_translation_has_the_documented_shape() -> None:
    """The Swagger example transcribe_enhanced_mode.json (``targetLanguage: "zh"``): phrases
    in ``zh-CN``, words without timings; LLM speech: diarization gives only speaker 1. The
    emulator asks its recognizer for the target locale (it does not translate by itself)."""
    recognizer = ScriptedRecognizer(lambda audio: "天气.")

    class Translating:
        def recognize(self, audio: Any, locales: list[str]) -> Any:
            assert locales == ["zh-CN"]
            return recognizer.recognize(audio, locales)

    async with SpeechEmulator(recognizer=Translating()) as emu:
        definition = {
            "locales": ["en-US"],
            "enhancedMode": {"enabled": True, "task": "translate", "targetLanguage": "zh"},
            "diarization": {"enabled": True, "maxSpeakers": 3},
        }
        status, body = await _transcribe(emu, make_wav(seconds=2), definition)
    assert status == 200
    [phrase] = body["phrases"]
    assert phrase["locale"] == "zh-CN" and phrase["text"] == "天气." and phrase["speaker"] == 1
    assert all(w["offsetMilliseconds"] == w["durationMilliseconds"] == 0 for w in phrase["words"])


# -- batch: channels, speakers, language identification -------------------------------------


async def test_batch_diarization_stereo_fails_and_mono_numbers_from_1(
    emulator: SpeechEmulator,
    audio_server,  # noqa: F811
) -> None:
    """Learn (batch): diarization "isn't available with stereo recordings"; result files
    number speakers from 1."""
    stereo = audio_server.add("b/stereo.wav", make_wav(seconds=2, channels=2, comment="Hi."))
    mono = audio_server.add("b/mono.wav", make_wav(seconds=6, comment=TALK))
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        job = await client.transcriptions.submit(
            content_urls=[stereo, mono], locale="en-US", max_speakers=2
        )
        job = await client.transcriptions.wait(job, policy=POLL)
        report = await client.transcriptions.report(job)
        assert report is not None
        assert [(d.status, d.error_kind) for d in report.details] == [
            ("Failed", "BadChannelConfiguration"),
            ("Succeeded", None),
        ]
        [result] = [r async for r in client.transcriptions.results(job)]
        assert [p.speaker for p in result.recognized_phrases] == [1, 2, 1]
        # One channel of the stereo file can be diarized.
        one = await client.transcriptions.submit_and_wait(
            content_urls=[stereo], locale="en-US", max_speakers=2, channels=[0], policy=POLL
        )
        assert one.status == "Succeeded"


async def test_batch_language_identification_mode_in_any_case(
    emulator: SpeechEmulator,
    audio_server,  # noqa: F811
) -> None:
    """The Swagger marks the mode enum "modelAsString"; "single" is taken and echoed in its
    canonical case, and Single mode gives the whole file one locale."""
    url = audio_server.add(
        "lid/ja.wav", make_wav(seconds=2, comment="Hai. Sou desu.", language="ja-JP")
    )
    async with aiohttp.ClientSession() as session:
        body = {
            "displayName": "lid",
            "locale": "en-US",
            "contentUrls": [url],
            "properties": {
                "timeToLiveHours": 6,
                "languageIdentification": {
                    "mode": "single",
                    "candidateLocales": ["en-US", "ja-JP"],
                },
            },
        }
        async with session.post(
            emulator.endpoint + "/speechtotext/transcriptions:submit",
            json=body,
            params={"api-version": "2025-10-15"},
            headers={"Ocp-Apim-Subscription-Key": emulator.key},
        ) as resp:
            assert resp.status == 201
            job = await resp.json()
    assert job["properties"]["languageIdentification"]["mode"] == "Single"
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        done = await client.transcriptions.wait(job["self"], policy=POLL)
        [result] = [r async for r in client.transcriptions.results(done)]
    assert {p.locale for p in result.recognized_phrases} == {"ja-JP"}


# -- 6. batch from a dataset -------------------------------------------------------------------


def _audio_zip(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, text in files.items():
            z.writestr(name, make_wav(seconds=1, comment=text))
        z.writestr("stereo.wav", make_wav(seconds=1, channels=2))  # not dataset audio
    return out.getvalue()


async def test_batch_from_audio_datasets(
    emulator: SpeechEmulator,
    audio_server,  # noqa: F811
    tmp_path: Path,
) -> None:
    """An AudioFiles dataset, imported from a zip URL or uploaded in blocks, is transcribed
    file by file; a dataset without audio is refused."""
    files = {"first.wav": "The first file.", "second.wav": "The second file."}
    (tmp_path / "audio.zip").write_bytes(_audio_zip(files))
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        by_url = await client.datasets.create(
            display_name="by url",
            locale="en-US",
            kind=DatasetKind.AUDIO_FILES,
            content_url=audio_server.add("data/audio.zip", _audio_zip(files)),
        )
        uploaded = await client.datasets.upload(
            tmp_path / "audio.zip", display_name="up", locale="en-US", kind=DatasetKind.AUDIO_FILES
        )
        for dataset in (by_url, uploaded):
            dataset = await client.datasets.wait(dataset, policy=POLL)
            assert dataset.properties is not None
            assert dataset.properties.accepted_line_count == 2
            assert dataset.properties.rejected_line_count == 1  # the stereo file
            job = await client.transcriptions.submit_and_wait(
                dataset=dataset, locale="en-US", policy=POLL
            )
            texts = sorted([r.text async for r in client.transcriptions.results(job)])
            assert texts == ["The first file.", "The second file."]
        language = await client.datasets.upload(
            _text_file(tmp_path), display_name="text", locale="en-US", kind=DatasetKind.LANGUAGE
        )
        language = await client.datasets.wait(language, policy=POLL)
        with pytest.raises(errors.BadRequestError) as info:
            await client.transcriptions.submit(dataset=language, locale="en-US")
        assert info.value.inner_code == "InvalidDataset"


def _text_file(tmp_path: Path) -> Path:
    path = tmp_path / "text.txt"
    path.write_text("one line\ntwo lines\n", encoding="utf-8-sig")
    return path


# -- 9. validation the service does -----------------------------------------------------------


async def test_text_normalization_kind_and_block_retry_after(
    emulator: SpeechEmulator, tmp_path: Path
) -> None:
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        created = await client.datasets.create(
            display_name="normalized",
            locale="en-US",
            kind=DatasetKind.LANGUAGE,
            text_normalization_kind="None",
        )
        request = [r for r in emulator.requests if r.path.endswith("/datasets")][-1]
        assert request.method == "POST"
        assert created.properties is not None
        assert created.properties.text_normalization_kind == TextNormalizationKind.NONE
        # The Swagger declares Retry-After on Datasets_GetBlocks: the dataset is not done.
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                emulator.endpoint + f"/speechtotext/datasets/{created.id}/blocks",
                params={"api-version": "2025-10-15"},
                headers={"Ocp-Apim-Subscription-Key": emulator.key},
            ) as resp,
        ):
            assert resp.status == 200 and "Retry-After" in resp.headers
        processed = await client.datasets.upload(
            _text_file(tmp_path),
            display_name="n",
            locale="en-US",
            kind="Language",
            text_normalization_kind=TextNormalizationKind.NONE,
        )
        processed = await client.datasets.wait(processed, policy=POLL)
        assert processed.properties is not None
        assert processed.properties.text_normalization_kind == TextNormalizationKind.NONE
        with pytest.raises(errors.InvalidInputError):
            await client.datasets.create(
                display_name="x", locale="en-US", kind="Language", text_normalization_kind="Some"
            )
    async with aiohttp.ClientSession() as session:
        body = {"displayName": "x", "locale": "en-US", "kind": "Language"}
        body["properties"] = {"textNormalizationKind": "Some"}
        async with session.post(
            emulator.endpoint + "/speechtotext/datasets",
            json=body,
            params={"api-version": "2025-10-15"},
            headers={"Ocp-Apim-Subscription-Key": emulator.key},
        ) as resp:
            assert resp.status == 400


# -- 8. API versions --------------------------------------------------------------------------


async def test_api_versions(emulator: SpeechEmulator) -> None:
    """GA 2024-11-15 is served (Learn's batch examples use it) with links in that version;
    retired v3.x paths answer 404; unknown versions 400."""
    headers = {"Ocp-Apim-Subscription-Key": emulator.key}
    base = emulator.endpoint + "/speechtotext"
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(base + "/transcriptions", params={"api-version": "2024-11-15"}) as r:
            assert r.status == 200
        assert (await _transcribe(emulator, make_wav(), {}, version="2024-11-15"))[0] == 200
        async with session.post(
            base + "/projects",
            params={"api-version": "2024-11-15"},
            json={"displayName": "p", "locale": "en-US"},
        ) as r:
            assert r.status == 201
            assert (await r.json())["self"].endswith("api-version=2024-11-15")
        async with session.get(base + "/v3.2/transcriptions") as r:
            assert r.status == 404
            assert "retired" in (await r.json())["error"]["message"]
        async with session.get(
            base + "/transcriptions", params={"api-version": "2024-05-15-preview"}
        ) as r:
            assert r.status == 400


async def test_batch_refuses_unknown_models_and_too_many_urls(
    emulator: SpeechEmulator,
    audio_server,  # noqa: F811
) -> None:
    url = audio_server.add("m/a.wav", make_wav())
    emulator.state.limits = ServiceLimits(batch_content_urls=2)
    async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
        with pytest.raises(errors.BadRequestError) as info:
            await client.transcriptions.submit(
                content_urls=[url], locale="en-US", model="00000000-0000-0000-0000-000000000001"
            )
        assert info.value.inner_code == "InvalidModel"
        with pytest.raises(errors.BadRequestError) as info:
            await client.transcriptions.submit(content_urls=[url] * 3, locale="en-US")
        assert info.value.inner_code == "ExceededNumberOfRecordingsUris"
