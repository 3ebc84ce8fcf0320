"""Quotas: the emulator meters requests as the service does, when asked, so that a fan-out
can be tested against the limits it will meet.

::

    async with SpeechEmulator(quotas=Quotas()) as emulator:       # the documented limits
        ...
    Quotas(fast=Quota(80, 1.0), rest=None)                        # 80 transcriptions/s only
    emulator.quotas.rest = Quota(100, 10.0)                         # change it while it runs
    assert emulator.quotas.throttled["fast"] == 0

Each family has its own quota: fast transcription (``Transcriptions_Transcribe``) and the
batch and custom speech REST API (every other operation). Downloads of files and served
audio (the blob store behind SAS links) are not metered: they are Blob Storage, not the
Speech API. A quota admits at most ``requests`` requests in any window of ``seconds`` (a
sliding window over the requests it admitted); beyond it the request is answered 429 in the
gateway's shape (``{"error": {"code": "429", "message": ...}}``) with ``Retry-After``: the
whole seconds until the oldest admitted request leaves the window. The quotas answer first,
as the service's gateway does: a throttled request gets its 429 at once, and the faults of a
:class:`FaultPlan` (a ``latency`` that stands for the service's work, say) apply to the
requests they admit.
"""

from __future__ import annotations

import asyncio
import collections
import json
import math
from collections.abc import Awaitable, Callable

import attrs
from aiohttp import web

from ._faults import _discard_body
from ._state import note_answer

__all__ = ["FAST_QUOTA", "REST_QUOTA", "Quota", "Quotas"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_API = "/speechtotext/"
_FAST = "/speechtotext/transcriptions:transcribe"
_NAMES = {"fast": "fast transcription", "rest": "the Speech to text REST API"}


@attrs.frozen
class Quota:
    """At most ``requests`` requests in any window of ``seconds``."""

    requests: int
    seconds: float

    def __attrs_post_init__(self) -> None:
        if isinstance(self.requests, bool) or not isinstance(self.requests, int):
            raise TypeError(f"requests must be an integer; got {self.requests!r}")
        if self.requests < 1 or not self.seconds > 0 or not math.isfinite(self.seconds):
            raise ValueError(f"a quota needs requests >= 1 and seconds > 0; got {self}")

    @classmethod
    def parse(cls, text: str) -> Quota:
        """``"600/60"``: 600 requests per 60 seconds."""
        requests, sep, seconds = text.partition("/")
        try:
            if not sep:
                raise ValueError
            return cls(int(requests), float(seconds))
        except (TypeError, ValueError):
            raise ValueError(f"a quota is REQUESTS/SECONDS, such as 600/60; got {text!r}") from None

    def __str__(self) -> str:
        return f"{self.requests} requests per {self.seconds:g} seconds"


FAST_QUOTA = Quota(600, 60.0)
"""Fast transcription's documented default: 600 requests per minute (S0; adjustable)."""
REST_QUOTA = Quota(100, 10.0)
"""The batch and custom speech REST API's documented limit: 100 requests per 10 seconds."""


class Quotas:
    """The quotas an emulator enforces, one per family (None: not metered), changeable while
    it runs; counts what it admitted and throttled, by family (``"fast"``, ``"rest"``).
    ``Quotas()`` enforces the documented limits."""

    def __init__(self, *, fast: Quota | None = FAST_QUOTA, rest: Quota | None = REST_QUOTA) -> None:
        self.fast = fast
        """Fast transcription's quota."""
        self.rest = rest
        """The quota of every other operation of the API."""
        self.admitted: collections.Counter[str] = collections.Counter()
        """Requests admitted so far, by family."""
        self.throttled: collections.Counter[str] = collections.Counter()
        """Requests answered 429 so far, by family."""
        self._windows: dict[str, collections.deque[float]] = {
            "fast": collections.deque(),
            "rest": collections.deque(),
        }

    def __repr__(self) -> str:
        return f"Quotas(fast={self.fast!r}, rest={self.rest!r})"

    def __str__(self) -> str:
        parts = [
            f"{name}: {quota or 'not metered'}"
            for name, quota in (("fast", self.fast), ("rest", self.rest))
        ]
        return ", ".join(parts)

    def reset(self) -> None:
        """Forget the requests admitted so far (and the counts)."""
        for window in self._windows.values():
            window.clear()
        self.admitted.clear()
        self.throttled.clear()

    def _retry_after(self, family: str, quota: Quota) -> int | None:
        """None when one more request fits now; else the whole seconds to wait."""
        window = self._windows[family]
        now = asyncio.get_running_loop().time()
        while window and window[0] <= now - quota.seconds:
            window.popleft()
        if len(window) < quota.requests:
            window.append(now)
            return None
        return max(1, math.ceil(window[0] + quota.seconds - now))

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The aiohttp middleware that meters the requests (``SpeechEmulator`` installs it
        before any other)."""
        path = request.path
        if not path.startswith(_API):
            return await handler(request)
        family = "fast" if path == _FAST and request.method == "POST" else "rest"
        quota = self.fast if family == "fast" else self.rest
        wait = None if quota is None else self._retry_after(family, quota)
        if wait is None:
            self.admitted[family] += 1
            return await handler(request)
        self.throttled[family] += 1
        note_answer(f"quota {family} ({quota})")
        await _discard_body(request)
        message = (
            f"Requests to {_NAMES[family]} have exceeded the rate limit of your pricing tier "
            f"({quota}). Please retry after {wait} seconds."
        )
        body = json.dumps({"error": {"code": "429", "message": message}})
        return web.Response(
            status=429,
            body=body.encode(),
            content_type="application/json",
            headers={"Retry-After": str(wait)},
        )
