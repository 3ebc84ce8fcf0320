"""The emulated batch transcription API, over raw HTTP (no speechrest client)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from yarl import URL

from speechrest.testing import SpeechEmulator, Timing, make_wav
from tests.audio_server import AudioServer, audio_server  # noqa: F401 - fixture

pytestmark = pytest.mark.anyio

FAST = Timing(queue_delay=0.05, run_time=0.1, retry_after=1)
API = "/speechtotext/transcriptions"
V = {"api-version": "2025-10-15"}


class Api:
    def __init__(self, emulator: SpeechEmulator, session: aiohttp.ClientSession) -> None:
        self.emulator = emulator
        self.session = session
        self.headers = {"Ocp-Apim-Subscription-Key": emulator.key}

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        **query: Any,
    ) -> tuple[int, Any, Any]:
        url = path if "://" in path else self.emulator.endpoint + path
        params = {} if "api-version=" in url else dict(V)
        params.update({k: str(v) for k, v in query.items()})
        async with self.session.request(
            method, url, json=json, params=params, headers={**self.headers, **(headers or {})}
        ) as resp:
            body = await resp.json(content_type=None) if resp.content_length != 0 else None
            return resp.status, body, resp.headers

    async def submit(self, **fields: Any) -> dict[str, Any]:
        status, body, _ = await self.call("POST", API + ":submit", json=job_body(**fields))
        assert status == 201, body
        return dict(body)

    async def until_done(self, job: dict[str, Any]) -> dict[str, Any]:
        while True:
            _, body, _ = await self.call("GET", job["self"])
            if body["status"] in ("Succeeded", "Failed"):
                return dict(body)
            await asyncio.sleep(0.02)

    async def files(self, job: dict[str, Any], **query: Any) -> list[dict[str, Any]]:
        _, body, _ = await self.call("GET", job["links"]["files"], **query)
        return list(body["values"])

    async def content(self, file: dict[str, Any]) -> Any:
        async with self.session.get(file["links"]["contentUrl"]) as resp:
            assert resp.status == 200
            return await resp.json(content_type=None)


def job_body(**fields: Any) -> dict[str, Any]:
    props = {"timeToLiveHours": 48, **fields.pop("properties", {})}
    body = {"displayName": "test", "locale": "en-US", "properties": props, **fields}
    return {k: v for k, v in body.items() if v is not None}


@pytest.fixture
async def emulator(audio_server: AudioServer) -> AsyncIterator[SpeechEmulator]:  # noqa: F811
    # Jobs fetch their audio from audio_server in the background: the emulator stops first.
    async with SpeechEmulator(timing=FAST) as emu:
        yield emu


@pytest.fixture
async def api(emulator: SpeechEmulator) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(emulator, session)


@pytest.fixture
def wav_url(audio_server: AudioServer):  # noqa: F811
    def make(name: str, text: str = "Hello world.", **kw: Any) -> str:
        return audio_server.add(f"audio/{name}", make_wav(comment=text, **kw))

    return make


@pytest.mark.parametrize(
    ("fields", "inner"),
    [
        ({"displayName": ""}, "InvalidParameterValue"),
        ({"locale": "xx-XX"}, "InvalidLocale"),
        ({"contentUrls": None}, "OnlyOneOfUrlsOrContainerOrDataset"),
        ({"contentContainerUrl": "https://a.example/c"}, "OnlyOneOfUrlsOrContainerOrDataset"),
        ({"contentUrls": [f"https://a.example/{i}.wav" for i in range(1001)]},
         "ExceededNumberOfRecordingsUris"),
        ({"contentUrls": ["not a url"]}, "InvalidRecordingsUri"),
        ({"properties": {"timeToLiveHours": 5}}, "InvalidTimeToLive"),
        ({"properties": {"timeToLiveHours": 745}}, "InvalidTimeToLive"),
        ({"properties": {"channels": [0, 0]}}, "InvalidChannels"),
        ({"properties": {"diarization": {"enabled": True, "maxSpeakers": 36}}},
         "InvalidParameterValue"),
        ({"properties": {"languageIdentification": {"candidateLocales": ["en-US"]}}},
         "InvalidParameterValue"),
        ({"properties": {"languageIdentification": {"candidateLocales": ["en-US", "xx-XX"]}}},
         "InvalidLocale"),
        ({"properties": {"punctuationMode": "Loud"}}, "InvalidParameterValue"),
        ({"customProperties": {f"k{i}": "v" for i in range(11)}}, "InvalidParameterValue"),
        ({"dataset": {"self": "https://a.example/speechtotext/datasets/"
                      "0b5e7c1e-1111-4a2b-9c3d-0e1f2a3b4c5d"},
          "contentUrls": None}, "InvalidDataset"),
    ],
)  # fmt: skip
async def test_submit_is_validated_like_the_service(
    api: Api, fields: dict[str, Any], inner: str
) -> None:
    body = job_body(contentUrls=["https://a.example/a.wav"])
    body.update(fields)
    if "properties" in fields:
        body["properties"] = {"timeToLiveHours": 48, **fields["properties"]}
    body = {k: v for k, v in body.items() if v is not None}
    status, error, _ = await api.call("POST", API + ":submit", json=body)
    assert status == 400
    assert error["code"] == "InvalidArgument"
    assert error["innerError"]["code"] == inner


async def test_lifecycle_events_retry_after_and_location(
    api: Api, emulator: SpeechEmulator, wav_url
) -> None:
    events: list[tuple[str, str]] = []

    async def listener(kind: str, url: str) -> None:
        events.append((kind, url))

    emulator.state.listeners.append(listener)
    status, job, headers = await api.call(
        "POST", API + ":submit", json=job_body(contentUrls=[wav_url("a.wav")])
    )
    assert status == 201 and headers["Location"] == job["self"]
    assert job["status"] == "NotStarted"
    assert "contentUrls" not in job  # request-only
    assert job["properties"]["channels"] == [0, 1]
    assert job["links"]["files"].startswith(job["self"].split("?")[0] + "/files")
    _, got, headers = await api.call("GET", job["self"])
    assert headers["Retry-After"] == "1"
    seen = {got["status"]}
    while got["status"] not in ("Succeeded", "Failed"):
        await asyncio.sleep(0.01)
        _, got, headers = await api.call("GET", job["self"])
        seen.add(got["status"])
    assert got["status"] == "Succeeded" and "Running" in seen
    assert "Retry-After" not in headers
    assert got["properties"]["durationMilliseconds"] == 1000
    assert got["lastActionDateTime"] >= got["createdDateTime"]
    assert [k for k, _ in events] == [
        "transcriptionCreation",
        "transcriptionProcessing",
        "transcriptionCompletion",
    ]
    assert {u for _, u in events} == {job["self"]}
    # The store keeps the exact JSON served, plus private keys.
    stored = emulator.state.stores.transcriptions[got["self"].split("?")[0].rsplit("/", 1)[1]]
    assert {k: v for k, v in stored.items() if not k.startswith("_")} == got


async def test_result_files_report_and_format(api: Api, wav_url, audio_server) -> None:  # noqa: F811
    good = wav_url("a.wav", "Hello world. How are you?", channels=2)
    missing = audio_server.url("audio/missing.wav")
    not_wav = audio_server.add("audio/text.wav", b"this is not audio")
    job = await api.submit(
        contentUrls=[good, missing, not_wav],
        properties={
            "wordLevelTimestampsEnabled": True,
            "displayFormWordLevelTimestampsEnabled": True,
            "languageIdentification": {"candidateLocales": ["de-DE", "en-US"]},
        },
    )
    done = await api.until_done(job)
    assert done["status"] == "Succeeded"
    files = await api.files(done)
    assert sorted((f["name"], f["kind"]) for f in files) == [
        ("contenturl_0.json", "Transcription"),
        ("report.json", "TranscriptionReport"),
    ]
    by_kind = {f["kind"]: f for f in files}
    report = await api.content(by_kind["TranscriptionReport"])
    assert report["successfulTranscriptionsCount"] == 1
    assert report["failedTranscriptionsCount"] == 2
    assert [(d["source"], d["status"], d.get("errorKind")) for d in report["details"]] == [
        (good, "Succeeded", None),
        (missing, "Failed", "InvalidRecordingsUri"),
        (not_wav, "Failed", "InvalidAudioFormat"),
    ]
    result = await api.content(by_kind["Transcription"])
    assert result["source"] == good
    assert result["durationInTicks"] == result["durationMilliseconds"] * 10_000 == 10_000_000
    assert result["duration"] == "PT1S"
    assert [c["channel"] for c in result["combinedRecognizedPhrases"]] == [0, 1]
    assert result["combinedRecognizedPhrases"][0]["display"] == "Hello world. How are you?"
    assert result["combinedRecognizedPhrases"][0]["lexical"] == "hello world how are you"
    phrase = result["recognizedPhrases"][0]
    assert phrase["recognitionStatus"] == "Success"
    assert "speaker" not in phrase and phrase["locale"] == "de-DE"
    assert phrase["offsetInTicks"] == phrase["offsetMilliseconds"] * 10_000
    best = phrase["nBest"][0]
    assert {"confidence", "lexical", "itn", "maskedITN", "display"} <= set(best)
    assert [w["word"] for w in best["words"]] == ["hello", "world"]
    assert [w["displayText"] for w in best["displayWords"]] == ["Hello", "world."]
    word = best["words"][1]
    assert word["durationInTicks"] == word["durationMilliseconds"] * 10_000
    assert word["offset"].startswith("PT")


async def test_options_off_leave_optional_fields_out(api: Api, wav_url) -> None:
    job = await api.submit(
        contentUrls=[wav_url("a.wav", "Damn it. Fine.")],
        properties={"channels": [0], "punctuationMode": "None", "profanityFilterMode": "Tags"},
    )
    done = await api.until_done(job)
    (file,) = await api.files(done, filter="kind eq 'Transcription'")
    result = await api.content(file)
    phrase = result["recognizedPhrases"][0]
    assert not {"speaker", "locale"} & set(phrase)
    best = phrase["nBest"][0]
    assert not {"words", "displayWords"} & set(best)
    assert best["display"] == "<profanity>Damn</profanity> it"
    assert best["maskedITN"] == "**** it"


async def test_all_inputs_failing_fails_the_job(api: Api, audio_server) -> None:  # noqa: F811
    bad = audio_server.add("audio/bad.wav", b"RIFF....nope")
    job = await api.submit(contentUrls=[bad, bad])
    done = await api.until_done(job)
    assert done["status"] == "Failed"
    assert done["properties"]["error"]["code"] == "InvalidAudioFormat"
    assert "None of the 2 inputs" in done["properties"]["error"]["message"]
    assert await api.files(done) == []
    job = await api.submit(contentUrls=[audio_server.url("nowhere.wav")])
    done = await api.until_done(job)
    assert done["properties"]["error"]["code"] == "InvalidRecordingsUri"


async def test_container_source_lists_blobs(api: Api, audio_server) -> None:  # noqa: F811
    audio_server.add("calls/one.wav", make_wav(comment="One."))
    audio_server.add("calls/two.wav", make_wav(comment="Two."))
    audio_server.add("other/three.wav", make_wav(comment="Three."))
    container = audio_server.url("calls") + "?sv=1&sig=abc"
    job = await api.submit(contentContainerUrl=container)
    assert "contentContainerUrl" not in job
    done = await api.until_done(job)
    assert done["status"] == "Succeeded"
    files = await api.files(done, filter="kind eq 'Transcription'")
    assert sorted(f["name"] for f in files) == ["one.wav.json", "two.wav.json"]
    texts = sorted(
        [(await api.content(f))["combinedRecognizedPhrases"][0]["display"] for f in files]
    )
    assert texts == ["One.", "Two."]
    # The container's SAS query is used to list it and to read each blob.
    assert ("calls/one.wav", {"sv": "1", "sig": "abc"}) in audio_server.requests


async def test_empty_container_fails(api: Api, audio_server) -> None:  # noqa: F811
    done = await api.until_done(await api.submit(contentContainerUrl=audio_server.url("empty")))
    assert done["status"] == "Failed"
    assert done["properties"]["error"]["code"] == "InvalidRecordingsUri"


async def test_content_urls_are_sas_signed_and_expire(
    api: Api, emulator: SpeechEmulator, wav_url
) -> None:
    done = await api.until_done(await api.submit(contentUrls=[wav_url("a.wav")]))
    (report,) = await api.files(done, filter="kind eq 'TranscriptionReport'")
    url = URL(report["links"]["contentUrl"])
    assert {"se", "sig", "sv"} <= set(url.query) and not url.path.startswith("/speechtotext")
    async with aiohttp.ClientSession() as anonymous:  # no key, as blob storage expects
        async with anonymous.get(url) as resp:
            assert resp.status == 200
        async with anonymous.get(url.update_query(sig="0" * 64)) as resp:
            assert resp.status == 403
            assert "<Code>AuthenticationFailed</Code>" in await resp.text()
    (expired,) = await api.files(done, filter="kind eq 'TranscriptionReport'", sasLifetimeMinutes=0)
    async with api.session.get(expired["links"]["contentUrl"]) as resp:
        assert resp.status == 403
    status, file, _ = await api.call("GET", report["self"], sasLifetimeMinutes=60)
    assert status == 200 and file["name"] == "report.json"
    assert URL(file["links"]["contentUrl"]).query["se"] < url.query["se"]  # 1 h < 12 h
    status, error, _ = await api.call("GET", report["self"], sasLifetimeMinutes=-1)
    assert status == 400 and error["innerError"]["code"] == "InvalidSasValidityDuration"


async def test_files_are_paged_and_filtered(api: Api, wav_url) -> None:
    urls = [wav_url(f"{i}.wav") for i in range(3)]
    done = await api.until_done(await api.submit(contentUrls=urls))
    _, page, _ = await api.call("GET", done["links"]["files"], top=2)
    assert len(page["values"]) == 2 and "@nextLink" in page
    _, rest, _ = await api.call("GET", page["@nextLink"])
    assert len(rest["values"]) == 2 and "@nextLink" not in rest
    status, error, _ = await api.call("GET", done["links"]["files"], filter="status eq 'x'")
    assert status == 400 and error["innerError"]["code"] == "UnsupportedFilter"


async def test_delete_rules_and_time_to_live(api: Api, emulator: SpeechEmulator, wav_url) -> None:
    job = await api.submit(contentUrls=[wav_url("a.wav")])
    status, error, _ = await api.call("DELETE", job["self"])
    assert status == 400
    assert error["innerError"]["code"] == "DeleteNotAllowed"
    assert "hasn't finished yet" in error["message"]
    done = await api.until_done(job)
    (report,) = await api.files(done, filter="kind eq 'TranscriptionReport'")
    status, _, _ = await api.call("DELETE", job["self"])
    assert status == 204
    assert (await api.call("GET", job["self"]))[0] == 404
    assert (await api.call("DELETE", job["self"]))[0] == 204  # unknown id: 204 too
    async with api.session.get(report["links"]["contentUrl"]) as resp:
        assert resp.status == 404  # the results went with the job
    assert (await api.call("DELETE", API + "/not-a-guid"))[0] == 404

    deleted: list[str] = []

    async def listener(kind: str, url: str) -> None:
        if kind == "transcriptionDeletion":
            deleted.append(url)

    emulator.state.listeners.append(listener)
    emulator.state.timing = Timing(queue_delay=0.0, run_time=0.0, time_to_live_scale=0.01)
    short = await api.submit(contentUrls=[wav_url("b.wav")], properties={"timeToLiveHours": 6})
    while (await api.call("GET", short["self"]))[0] == 200:
        await asyncio.sleep(0.01)
    assert deleted == [short["self"]]


async def test_list_filter_and_retry_after(api: Api, wav_url) -> None:
    first = await api.until_done(await api.submit(contentUrls=[wav_url("a.wav")]))
    running = await api.submit(contentUrls=[wav_url("b.wav")], displayName="second")
    _, page, headers = await api.call("GET", API, filter="displayName eq 'second'")
    assert [j["self"] for j in page["values"]] == [running["self"]]
    assert headers["Retry-After"] == "1"
    await api.until_done(running)
    _, page, headers = await api.call("GET", API, filter="status eq 'Succeeded'", top=1)
    assert page["values"][0]["self"] == first["self"] and "@nextLink" in page
    assert "Retry-After" not in headers


async def test_update_is_a_merge_patch(api: Api, wav_url) -> None:
    job = await api.submit(
        contentUrls=[wav_url("a.wav")], customProperties={"a": "1", "b": "2"}, description="d"
    )
    merge = {"Content-Type": "application/merge-patch+json"}
    status, got, _ = await api.call(
        "PATCH", job["self"], json={"customProperties": {"a": None, "c": "3"}}, headers=merge
    )
    assert status == 200
    assert got["customProperties"] == {"b": "2", "c": "3"}
    assert got["displayName"] == "test" and got["description"] == "d"
    status, got, _ = await api.call("PATCH", job["self"], json={"description": None})
    assert status == 200 and "description" not in got
    status, error, _ = await api.call("PATCH", job["self"], json={"locale": "de-DE"})
    assert status == 400 and error["code"] == "InvalidArgument"
    async with api.session.patch(
        job["self"], data=b"{}", headers={**api.headers, "Content-Type": "text/plain"}
    ) as resp:
        assert resp.status == 415


async def test_supported_locales(api: Api) -> None:
    status, body, _ = await api.call("GET", API + "/locales")
    assert status == 200 and set(body) == {"Transcribe", "Submit"}
    assert "en-US" in body["Submit"] and set(body["Transcribe"]) <= set(body["Submit"])
