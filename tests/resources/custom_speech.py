"""Helpers for the custom speech tests: fast timing, data builders, ready-made entities."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from speechrest import PollPolicy, SpeechClient
from speechrest.testing import Timing, make_wav
from speechrest.types import BaseModel, Dataset, DatasetKind

FAST = Timing(queue_delay=0.02, run_time=0.05, retry_after=0)
"""Entities finish within a tenth of a second; ``Retry-After: 0``."""
POLL = PollPolicy(initial_interval=0.01, max_interval=0.05)

UTTERANCES = {
    "one.wav": "hello world",
    "two.wav": "the weather today is sunny",
    "three.wav": "please call me back tomorrow morning",
}


def acoustic_zip(
    utterances: dict[str, str] = UTTERANCES,
    *,
    seconds: float = 0.25,
    heard: dict[str, str] | None = None,
) -> bytes:
    """An Acoustic dataset: WAV files plus a tab-separated transcript. ``heard`` is what
    the emulator's default recognizer hears in each file (its embedded comment)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name in utterances:
            z.writestr(name, make_wav(seconds=seconds, comment=(heard or {}).get(name)))
        z.writestr("trans.txt", "".join(f"{n}\t{t}\n" for n, t in utterances.items()))
    return out.getvalue()


def language_text(lines: int = 5) -> bytes:
    return "".join(f"sentence number {i} of the language data\n" for i in range(lines)).encode()


async def ready_dataset(
    client: SpeechClient,
    tmp_path: Path,
    *,
    kind: DatasetKind | str = DatasetKind.ACOUSTIC,
    locale: str = "en-US",
    data: bytes | None = None,
    **options: object,
) -> Dataset:
    """A processed dataset, uploaded from a local file."""
    path = tmp_path / f"data-{kind}-{locale}.bin"
    if data is None:
        data = acoustic_zip() if kind == DatasetKind.ACOUSTIC else language_text()
    path.write_bytes(data)
    dataset = await client.datasets.upload(
        path, display_name=f"{kind} data", locale=locale, kind=kind, **options
    )
    return await client.datasets.wait(dataset, policy=POLL)


async def base_model(client: SpeechClient, locale: str = "en-US") -> BaseModel:
    """A base model of ``locale``."""
    async for model in client.models.list_base_models():
        if model.locale == locale:
            return model
    raise AssertionError(f"no {locale} base model")


async def custom_model(client: SpeechClient, dataset: Dataset, **options: object) -> str:
    """The URL of a trained custom model of ``dataset``'s locale."""
    model = await client.models.create(
        display_name="custom", locale=dataset.locale, datasets=[dataset], **options
    )
    model = await client.models.wait(model, policy=POLL)
    assert model.self_ is not None
    return model.self_
