"""An aiohttp backend that transcribes uploads inside its request handler.

    python examples/aiohttp_backend.py [--port 8080] [--local]
    curl -F audio=@speechrest/samples/hello.wav http://127.0.0.1:8080/transcribe

The upload is streamed to the Speech service as it arrives (never held in memory); one
client (one connection pool) serves every request, opened and closed with the app.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator

from _connect import speech_client
from aiohttp import BodyPartReader, web

from speechrest import SpeechClient
from speechrest.errors import APIStatusError, InvalidInputError, SpeechRestError

CLIENT = web.AppKey("speech_client", SpeechClient)


async def transcribe(request: web.Request) -> web.Response:
    """POST /transcribe (multipart, field ``audio``) -> {"text", "durationMs", "srt"}."""
    client = request.app[CLIENT]
    if not request.content_type.startswith("multipart/form-data"):
        raise web.HTTPBadRequest(text="send a multipart/form-data upload")
    reader = await request.multipart()
    part = await reader.next()
    if not isinstance(part, BodyPartReader) or part.name != "audio":
        raise web.HTTPBadRequest(text="send the audio as the multipart field 'audio'")

    locale = request.query.get("locale", "en-US")
    try:  # the part streams to the service as it arrives
        result = await client.transcribe(part, locales=[locale])
    except InvalidInputError as exc:  # e.g. an empty upload, a bad locale
        raise web.HTTPBadRequest(text=str(exc)) from None
    except APIStatusError as exc:  # the service refused the audio (unsupported, too long...)
        status = 422 if exc.status in (400, 415, 422) else 502
        return web.json_response({"error": exc.code, "message": exc.message}, status=status)
    except SpeechRestError as exc:  # not reachable, timed out...
        return web.json_response({"error": type(exc).__name__}, status=503)
    return web.json_response(
        {"text": result.text, "durationMs": result.duration_ms, "srt": result.to_srt()}
    )


def create_app(*, local: bool = False, client: SpeechClient | None = None) -> web.Application:
    """The application; ``client`` is used as given (tests), else opened with the app."""
    app = web.Application(client_max_size=1024**3)
    app.router.add_post("/transcribe", transcribe)

    async def speech(app: web.Application) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if client is None:
                app[CLIENT] = await stack.enter_async_context(speech_client(local))
            else:
                app[CLIENT] = client
            yield

    app.cleanup_ctx.append(speech)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--local", action="store_true", help="use the bundled emulator")
    args = parser.parse_args(argv)
    web.run_app(create_app(local=args.local), host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
