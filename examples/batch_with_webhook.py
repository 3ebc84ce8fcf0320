"""A batch job whose completion arrives as a web hook notification.

    python examples/batch_with_webhook.py --local
    python examples/batch_with_webhook.py --public-url https://my-host.example \\
        --audio-url "https://<account>.blob.core.windows.net/audio/call.wav?<SAS>"

One aiohttp app receives the notifications (``speechrest.webhooks.WebhookReceiver``:
signature check, challenge handshake, duplicates dropped) and, locally, also serves the
audio. The script registers a web hook, submits a job, and fetches the results when the
``transcriptionCompletion`` event arrives, without polling the job.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

import anyio
from _connect import speech_client, use_emulator
from aiohttp import web

from speechrest.webhooks import WebHookEvent, WebhookReceiver

SAMPLE = Path(__file__).resolve().parent.parent / "speechrest" / "samples" / "hello.wav"


async def run(public_url: str | None, audio_urls: list[str], local: bool, port: int) -> int:
    secret = secrets.token_urlsafe(24)
    receiver = WebhookReceiver(secret=secret)
    finished: dict[str, WebHookEvent] = {}
    arrived = anyio.Event()

    @receiver.on("transcriptionCompletion")
    async def completed(event: WebHookEvent) -> None:
        finished[event.entity_id] = event
        arrived.set()

    app = web.Application()
    app.add_subapp("/speech-events/", receiver.app())
    app.router.add_static("/audio/", SAMPLE.parent)  # locally, this app is the "storage"
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        if public_url is None:  # only the local emulator can reach a loopback address
            bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            public_url = f"http://127.0.0.1:{bound}"
        if not audio_urls:
            audio_urls = [f"{public_url}/audio/hello.wav"]
        async with speech_client(local) as client:
            hook = await client.webhooks.create(
                f"{public_url}/speech-events/",
                events=["transcriptionCompletion"],
                secret=secret,
                display_name="speechrest example",
            )
            try:
                hook = await client.webhooks.wait(hook)  # the challenge handshake
                print(f"web hook {hook.id} is active")
                job = await client.transcriptions.submit(
                    content_urls=audio_urls, locale="en-US", display_name="webhook example"
                )
                print(f"submitted {job.id}; waiting for the notification")
                with anyio.fail_after(600):
                    while job.id not in finished:
                        await arrived.wait()
                        arrived = anyio.Event()
                job = await client.transcriptions.get(job.id)
                print(f"job {job.id}: {job.status}")
                async for result in client.transcriptions.results(job.id):
                    print(f"{result.source.split('?')[0]}: {result.text}")
                await client.transcriptions.delete(job.id)
            finally:
                await client.webhooks.delete(hook)
    finally:
        await runner.cleanup()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--local", action="store_true", help="use the bundled emulator")
    parser.add_argument("--public-url", help="where the service can reach this script")
    parser.add_argument("--audio-url", action="append", default=[], help="audio to transcribe")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    if not use_emulator(args.local) and not (args.public_url and args.audio_url):
        parser.error("against Azure, give --public-url and at least one --audio-url")
    return anyio.run(run, args.public_url, args.audio_url, args.local, args.port)


if __name__ == "__main__":
    sys.exit(main())
