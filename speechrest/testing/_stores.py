"""What the emulator keeps: the entities of each operation group, the blob store, and the
delivery state of web hooks. Plain data and its bookkeeping; no routes, no I/O.

Entities are kept as the wire JSON the service returns, keyed by id, plus private keys
(``_``-prefixed, never served: ``_files``, ``_task``, ...).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import attrs

from ._base_models import seed_base_models

__all__ = ["BlobStore", "Delivery", "Entity", "Stores", "WebHookDelivery"]

Entity = dict[str, Any]
"""One entity: its wire JSON plus private ``_`` keys."""

DEFAULT_SAS_MINUTES = 12 * 60
"""How long a SAS link stays valid when the caller does not say (the service's 12 hours)."""


class BlobStore:
    """Named blobs (bytes, or files on disk read when requested) and their signed URLs.

    A URL carries an expiry (``se``) and an HMAC signature (``sig``) over the blob name and
    the expiry, as a SAS token does.
    """

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)
        self._blobs: dict[str, bytes | Path] = {}

    def put(self, name: str, content: bytes | Path) -> None:
        self._blobs[name] = content

    def get(self, name: str) -> bytes | Path | None:
        return self._blobs.get(name)

    def delete_prefix(self, prefix: str) -> None:
        for name in [n for n in self._blobs if n.startswith(prefix)]:
            del self._blobs[name]

    def size(self, name: str) -> int:
        content = self._blobs[name]
        return len(content) if isinstance(content, bytes) else content.stat().st_size

    def sas_url(self, base_url: str, name: str, lifetime_minutes: int | None = None) -> str:
        """The URL of blob ``name`` below ``base_url``, valid ``lifetime_minutes``."""
        minutes = DEFAULT_SAS_MINUTES if lifetime_minutes is None else lifetime_minutes
        expiry = int(time.time() + minutes * 60)
        se = datetime.fromtimestamp(expiry, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        sig = self._sign(name, se)
        return f"{base_url}/blobs/{quote(name)}?sv=2025-01-05&sr=b&sp=r&se={se}&sig={sig}"

    def check(self, name: str, se: str | None, sig: str | None) -> bool:
        """Whether ``se`` and ``sig`` are a valid, unexpired signature of blob ``name``."""
        if not se or not sig or not hmac.compare_digest(self._sign(name, se), sig):
            return False
        try:
            expiry = datetime.strptime(se, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return False
        return expiry.timestamp() > time.time()

    def _sign(self, name: str, se: str) -> str:
        mac = hmac.new(self._secret, f"{name}\n{se}".encode(), hashlib.sha256)
        return mac.hexdigest()


@attrs.frozen(kw_only=True)
class Delivery:
    """One request the emulator sent to a web hook's URL (one attempt)."""

    time: float
    """When it was sent (seconds since the epoch)."""
    event: str
    """``challenge``, ``ping`` or the event kind (``transcriptionCompletion``, ...)."""
    attempt: int
    """1 for the first try of this notification, 2 for its first retry, ..."""
    url: str
    status: int | None
    """The receiver's HTTP status; None when it did not answer."""
    outcome: str
    """``ok``, ``HTTP <status>``, or what went wrong (``ClientConnectorError``, ...)."""
    signature: str | None
    """The ``X-MicrosoftSpeechServices-Signature`` sent (hooks with a secret)."""


@attrs.define(kw_only=True)
class WebHookDelivery:
    """How web hook notifications are delivered (the hooks are in ``Stores.webhooks``)."""

    last_entity: dict[str, str] = attrs.field(factory=dict)
    """The last entity URL emitted per event kind (what ``:test`` sends)."""
    max_attempts: int = 3
    """Attempts per notification before the hook is marked ``Failed``."""
    retry_delay: float = 0.05
    """Seconds before the second attempt; doubles per attempt."""
    timeout: float = 10.0
    """Seconds a receiver may take to answer."""
    queues: dict[str, asyncio.Queue[tuple[str, bytes]]] = attrs.field(factory=dict)
    """One queue of (event kind, body) per hook id, worked by one task each."""
    session: aiohttp.ClientSession | None = None
    listening: bool = False
    """Whether the delivery listener is subscribed to ``state.listeners``."""
    log: dict[str, collections.deque[Delivery]] = attrs.field(factory=dict)
    """The latest requests sent to each hook (by hook id), ``keep`` of them per hook (the
    emulator's page shows them)."""
    keep: int = 100


@attrs.define(kw_only=True)
class Stores:
    """The emulator's data, one typed attribute per operation group; entities by id."""

    transcriptions: dict[str, Entity] = attrs.field(factory=dict)
    datasets: dict[str, Entity] = attrs.field(factory=dict)
    models: dict[str, Entity] = attrs.field(factory=dict)
    """Custom models."""
    base_models: dict[str, Entity] = attrs.field(factory=seed_base_models)
    """Base models, without their host-dependent ``self`` and ``links``
    (``_base_models.render_base_model`` adds them)."""
    endpoints: dict[str, Entity] = attrs.field(factory=dict)
    evaluations: dict[str, Entity] = attrs.field(factory=dict)
    projects: dict[str, Entity] = attrs.field(factory=dict)
    webhooks: dict[str, Entity] = attrs.field(factory=dict)
    model_copies: dict[str, Entity] = attrs.field(factory=dict)
    """Model copy operations (``Operations_GetModelCopy``), by operation id."""
    copy_authorizations: dict[str, Entity] = attrs.field(factory=dict)
    """Copy authorizations this emulator issued as a target, by id."""
    blobs: BlobStore = attrs.field(factory=BlobStore)
    """Result and data files, served behind SAS links."""
    webhook_delivery: WebHookDelivery = attrs.field(factory=WebHookDelivery)
