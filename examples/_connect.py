"""How every example connects: to Azure when SPEECH_KEY is set (and --local is not given),
else to the emulator bundled with speechrest, started in-process."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

from speechrest import SpeechClient
from speechrest.testing import SpeechEmulator, Timing

# Long-running work (batch jobs, training) finishes in a fraction of a second locally.
QUICK = Timing(queue_delay=0.05, run_time=0.2, retry_after=0)


def use_emulator(local: bool) -> bool:
    return local or not os.environ.get("SPEECH_KEY")


@contextlib.asynccontextmanager
async def speech_client(local: bool = False) -> AsyncIterator[SpeechClient]:
    """A client for Azure (from SPEECH_KEY and SPEECH_REGION or SPEECH_ENDPOINT), or for
    an in-process emulator when ``local`` or when no key is set."""
    if not use_emulator(local):
        async with SpeechClient.from_env() as client:
            yield client
        return
    async with (
        SpeechEmulator(timing=QUICK) as emulator,
        SpeechClient(emulator.endpoint, key=emulator.key) as client,
    ):
        print(f"(using the local emulator at {emulator.endpoint})")
        yield client
