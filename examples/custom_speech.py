"""The custom speech workflow: upload data, train a model, evaluate it against its base
model, deploy it, transcribe with it, and clean up.

    python examples/custom_speech.py [--local] [--keep]

Training on Azure takes hours and costs money: this script is meant for the emulator
first (--local); point it at Azure only with data of your own.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import wave
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import anyio
from _connect import speech_client

from speechrest import SpeechClient
from speechrest.types import BaseModel

SAMPLE = Path(__file__).resolve().parent.parent / "speechrest" / "samples" / "hello.wav"
SENTENCE = "please call me back tomorrow morning"


def acoustic_data() -> bytes:
    """An acoustic dataset: audio files and a tab-separated transcript, zipped."""
    with wave.open(str(SAMPLE)) as w:
        params, frames = w.getparams(), w.readframes(w.getnframes())
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for i in range(3):
            audio = io.BytesIO()
            with wave.open(audio, "wb") as w:
                w.setparams(params)
                w.writeframes(frames)
            z.writestr(f"utterance{i}.wav", audio.getvalue())
        z.writestr("trans.txt", "".join(f"utterance{i}.wav\t{SENTENCE}\n" for i in range(3)))
    return out.getvalue()


async def newest_adaptable_base_model(client: SpeechClient, locale: str) -> BaseModel:
    """The base model that stays trainable the longest (old ones stop being adaptable)."""
    now = datetime.now(UTC)
    best: tuple[datetime, BaseModel] | None = None
    async for model in client.models.list_base_models(filter=f"locale eq '{locale}'"):
        dates = model.properties.deprecation_dates if model.properties else None
        until = (dates.adaptation_date_time if dates else None) or datetime.max.replace(tzinfo=UTC)
        if until > now and (best is None or until > best[0]):
            best = (until, model)
    if best is None:
        raise SystemExit(f"no {locale} base model can be trained any more")
    return best[1]


async def workflow(client: SpeechClient, folder: Path, keep: bool) -> None:
    project = await client.projects.create(display_name="speechrest example", locale="en-US")
    print(f"project {project.id}")
    data = folder / "acoustic.zip"
    data.write_bytes(acoustic_data())
    dataset = await client.datasets.upload(
        data, display_name="call samples", locale="en-US", kind="Acoustic", project=project
    )
    dataset = await client.datasets.wait(dataset)
    print(f"dataset {dataset.id}: {dataset.status}")

    base = await newest_adaptable_base_model(client, "en-US")
    model = await client.models.create(
        display_name="calls model",
        locale="en-US",
        datasets=[dataset],
        base_model=base,
        project=project,
    )
    model = await client.models.wait(model)
    print(f"model {model.id}: {model.status}")

    evaluation = await client.evaluations.create(
        model1=base,
        model2=model,
        dataset=dataset,
        locale="en-US",
        display_name="custom vs base",
        project=project,
    )
    evaluation = await client.evaluations.wait(evaluation)
    figures = evaluation.properties
    if figures is not None:
        print(
            f"word error rate: base model {figures.word_error_rate1}, "
            f"custom model {figures.word_error_rate2}"
        )

    endpoint = await client.endpoints.create(
        model=model, locale="en-US", display_name="calls endpoint", project=project
    )
    endpoint = await client.endpoints.wait(endpoint)
    print(f"endpoint {endpoint.id}: {endpoint.status}")

    # Fast transcription with the custom model: models= maps a locale to the model's URL.
    assert model.self_ is not None
    result = await client.transcribe(SAMPLE, locales=["en-US"], models={"en-US": model.self_})
    print(f"transcribed with the custom model: {result.text}")

    if not keep:
        await client.endpoints.delete(endpoint)
        await client.evaluations.delete(evaluation)
        await client.models.delete(model)
        await client.datasets.delete(dataset)
        await client.projects.delete(project)
        print("cleaned up")


async def run(local: bool, keep: bool) -> int:
    with tempfile.TemporaryDirectory() as folder:
        async with speech_client(local) as client:
            await workflow(client, Path(folder), keep)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--local", action="store_true", help="use the bundled emulator")
    parser.add_argument("--keep", action="store_true", help="keep what was created")
    args = parser.parse_args(argv)
    return anyio.run(run, args.local, args.keep)


if __name__ == "__main__":
    sys.exit(main())
