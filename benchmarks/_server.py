"""A minimal loopback server for the throughput and upload benchmarks.

It speaks just enough HTTP/1.1 (keep-alive, Content-Length or chunked bodies) to answer
``POST /speechtotext/transcriptions:transcribe`` with a fixed small ``TranscribeResult``.
The request body is read and discarded as it arrives, never buffered, so a 240 MB upload
costs the server no memory. It runs in its own process so that the client's CPU time can
be measured on its own.

``GET /_stats`` returns the counters (connections that sent at least one API request,
API requests, body bytes received); ``GET /_reset`` zeroes them. Run it as a script: it
prints ``PORT <n>`` once it listens and serves until its standard input closes.
"""

from __future__ import annotations

import asyncio
import json
import sys

RESULT = {
    "durationMilliseconds": 940,
    "combinedPhrases": [{"text": "Hello world."}],
    "phrases": [
        {
            "offsetMilliseconds": 0,
            "durationMilliseconds": 940,
            "text": "Hello world.",
            "words": [
                {"text": "Hello", "offsetMilliseconds": 0, "durationMilliseconds": 400},
                {"text": "world.", "offsetMilliseconds": 440, "durationMilliseconds": 500},
            ],
            "locale": "en-US",
            "confidence": 0.93,
        }
    ],
}


def _response(status: str, body: bytes, close: bool = False) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'close' if close else 'keep-alive'}\r\n"
        "apim-request-id: 00000000-0000-0000-0000-000000000000\r\n\r\n"
    )
    return head.encode() + body


OK = _response("200 OK", json.dumps(RESULT, separators=(",", ":")).encode())
NOT_MULTIPART = _response(
    "415 Unsupported Media Type",
    b'{"code":"UnsupportedMediaType","message":"The request must be multipart/form-data."}',
)


class Stats:
    connections = 0
    requests = 0
    body_bytes = 0


class Http(asyncio.Protocol):
    """One connection: a small state machine over headers, then a discarded body."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.counted = False
        self.remaining = 0  # body bytes still expected (Content-Length, or current chunk)
        self.state = "head"  # head | body | chunk-size | chunk-data | chunk-crlf | chunk-end
        self.path = ""
        self.close = False
        self.multipart = False
        self.first = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while self.buf:
            if self.state == "head":
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                self._head(bytes(self.buf[:end]).decode("latin-1"))
                del self.buf[: end + 4]
            elif self.state == "body":
                take = min(self.remaining, len(self.buf))
                self._discard(take)
                self.remaining -= take
                if self.remaining == 0:
                    self._respond()
            elif self.state == "chunk-size":
                end = self.buf.find(b"\r\n")
                if end < 0:
                    return
                self.remaining = int(bytes(self.buf[:end]).split(b";")[0], 16)
                del self.buf[: end + 2]
                self.state = "chunk-data" if self.remaining else "chunk-end"
            elif self.state == "chunk-data":
                take = min(self.remaining, len(self.buf))
                self._discard(take)
                self.remaining -= take
                if self.remaining == 0:
                    self.state = "chunk-crlf"
            elif self.state == "chunk-crlf":
                if len(self.buf) < 2:
                    return
                del self.buf[:2]
                self.state = "chunk-size"
            elif self.state == "chunk-end":
                if len(self.buf) < 2:
                    return
                del self.buf[:2]
                self._respond()

    def _discard(self, n: int) -> None:
        if not self.first and n:
            self.first = bytes(self.buf[: min(n, 2)])
        Stats.body_bytes += n
        del self.buf[:n]

    def _head(self, head: str) -> None:
        lines = head.split("\r\n")
        self.path = lines[0].split(" ")[1]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.close = headers.get("connection", "").lower() == "close"
        self.multipart = headers.get("content-type", "").startswith("multipart/form-data")
        self.first = b""
        if not self.path.startswith("/_"):
            Stats.requests += 1
            if not self.counted:
                self.counted = True
                Stats.connections += 1
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self.state = "chunk-size"
        elif int(headers.get("content-length", "0")):
            self.remaining = int(headers["content-length"])
            self.state = "body"
        else:
            self._respond()

    def _respond(self) -> None:
        self.state = "head"
        if self.path.startswith("/_stats"):
            body = json.dumps(
                {
                    "connections": Stats.connections,
                    "requests": Stats.requests,
                    "body_bytes": Stats.body_bytes,
                }
            ).encode()
            self.transport.write(_response("200 OK", body, self.close))
        elif self.path.startswith("/_reset"):
            Stats.connections = Stats.requests = Stats.body_bytes = 0
            self.transport.write(_response("200 OK", b"{}", self.close))
        elif self.multipart and self.first == b"--":
            self.transport.write(OK)
        else:
            self.transport.write(NOT_MULTIPART)
        if self.close:
            self.transport.close()


async def main() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Http, "127.0.0.1", 0, backlog=2048)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    # Serve until the parent closes our stdin (or dies).
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
