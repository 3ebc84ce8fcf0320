"""A blocking client: ``speechrest.sync.SpeechClient`` has the methods and operation groups of
:class:`speechrest.SpeechClient`, for code without an event loop (scripts, notebooks, Django
views, Celery tasks)::

    from speechrest.sync import SpeechClient

    with SpeechClient(endpoint, key=key) as client:
        result = client.transcribe("call.wav", locales=["en-US"])
        with client.transcribe_many(paths, concurrency=16) as outcomes:
            for item in outcomes:
                ...
        for job in client.transcriptions.list():
            ...

It runs the async client on one event loop in a thread of its own (an anyio blocking
portal), shared by every call from any thread; it works in a thread that already runs an
event loop (Jupyter).
"""

from ._generated import (
    Datasets,
    Endpoints,
    Evaluations,
    Models,
    Operations,
    Projects,
    SpeechClient,
    Transcriptions,
    WebHooks,
)
from ._portal import SyncOutcomes, SyncPager

__all__ = [
    "Datasets",
    "Endpoints",
    "Evaluations",
    "Models",
    "Operations",
    "Projects",
    "SpeechClient",
    "SyncOutcomes",
    "SyncPager",
    "Transcriptions",
    "WebHooks",
]
