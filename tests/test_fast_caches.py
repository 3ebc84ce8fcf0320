"""Options are checked on every call, and ids never repeat."""

from __future__ import annotations

import pytest

from speechrest import SpeechClient, errors

pytestmark = pytest.mark.anyio


async def test_equal_options_of_another_type_are_checked_again(client: SpeechClient, wav_file):
    path = wav_file("cache.wav", text="Cached.")
    assert (await client.transcribe(path, max_speakers=2)).text == "Cached."
    # 2.0 == 2 and hashes alike, but it is not a valid speaker count.
    with pytest.raises(errors.InvalidInputError, match="max_speakers"):
        await client.transcribe(path, max_speakers=2.0)
    with pytest.raises(errors.InvalidInputError, match="max_speakers"):
        await client.transcribe(path, max_speakers=True)


async def test_a_list_changed_between_calls_is_checked_again(client: SpeechClient, wav_file):
    path = wav_file("cache.wav", text="Cached.")
    locales = ["en-US"]
    assert (await client.transcribe(path, locales=locales)).text == "Cached."
    locales[0] = " "
    with pytest.raises(errors.InvalidInputError, match="locales"):
        await client.transcribe(path, locales=locales)


def test_client_request_ids_are_unique_uuids() -> None:
    import uuid

    from speechrest._ids import unique_id

    ids = [unique_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert {uuid.UUID(i).version for i in ids} == {4}


def test_multipart_boundaries_never_repeat() -> None:
    from speechrest._upload import multipart_body

    types = {multipart_body(b"{}", None).content_type for _ in range(1_000)}
    assert len(types) == 1_000
