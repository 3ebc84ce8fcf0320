"""Azurite, Microsoft's Blob Storage emulator, for the storage tests.

The ``azurite`` fixture starts one Azurite (the version pinned in ``package.json``, installed
with ``npm ci``) for the test session, in memory, on a free loopback port, and stops it at
the end. Without Node.js and Azurite the storage tests are skipped with a message saying how
to install them, except when ``SPEECHREST_REQUIRE_AZURITE=1`` (``.ci/run`` sets it): then
they fail, so that CI never skips them silently.

Only Azurite's well-known development account and key (published in its documentation)
appear here.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
STARTUP_SECONDS = 60.0
# --skipApiVersionCheck: the newest azure-storage-blob sends a newer x-ms-version than any
# Azurite release serves; Microsoft's advice is this flag rather than an older client, so
# the tests exercise the client exactly as users run it against Azure.
FLAGS = [
    "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence", "--silent",
    "--skipApiVersionCheck", "--disableTelemetry",
]  # fmt: skip


def _binary() -> str | None:
    local = ROOT / "node_modules" / ".bin" / "azurite-blob"
    if local.exists():
        return str(local)
    return os.environ.get("AZURITE_BLOB") or shutil.which("azurite-blob")


class Azurite:
    """A running Azurite: its blob endpoint (account URL) and helpers for tests."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        """``http://127.0.0.1:<port>/devstoreaccount1``"""
        self.connection_string = (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"BlobEndpoint={endpoint};"
        )

    @staticmethod
    def new_name() -> str:
        return "c" + uuid.uuid4().hex[:20]

    def container_url(self, name: str) -> str:
        return f"{self.endpoint}/{name}"

    def sas_url(self, name: str, permission: str, *, expires_in: timedelta | None = None) -> str:
        """``name``'s URL with a container SAS of ``permission``, by default valid 48 h."""
        from azure.storage.blob import generate_container_sas

        expiry = datetime.now(UTC) + (expires_in or timedelta(hours=48))
        token = generate_container_sas(
            ACCOUNT, name, account_key=KEY, permission=permission, expiry=expiry
        )
        return f"{self.container_url(name)}?{token}"

    def service(self):  # type: ignore[no-untyped-def]
        """An async BlobServiceClient with the account key (use it in ``async with``)."""
        from azure.storage.blob.aio import BlobServiceClient

        return BlobServiceClient(
            self.endpoint, credential={"account_name": ACCOUNT, "account_key": KEY}
        )

    async def create(self, name: str | None = None) -> str:
        """Create a container; its name."""
        name = name or self.new_name()
        async with self.service() as service:
            await service.create_container(name)
        return name

    async def blobs(self, name: str) -> dict[str, bytes]:
        """Every blob of a container, with its content."""
        out: dict[str, bytes] = {}
        async with self.service() as service:
            container = service.get_container_client(name)
            async for blob in container.list_blobs():
                out[blob.name] = await (await container.download_blob(blob.name)).readall()
        return out


def _unavailable(reason: str) -> None:
    if os.environ.get("SPEECHREST_REQUIRE_AZURITE") == "1":
        pytest.fail(f"Azurite is required here (SPEECHREST_REQUIRE_AZURITE=1): {reason}")
    pytest.skip(f"{reason}; install Node.js 20+ and run `npm ci` in the repository root")


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    pytest.importorskip(
        "azure.storage.blob", reason="pip install -e '.[test]' (azure-storage-blob)"
    )
    binary = _binary()
    if binary is None or shutil.which("node") is None:
        _unavailable("Azurite is not installed (node_modules/.bin/azurite-blob)")
        raise AssertionError("unreachable")
    proc = subprocess.Popen(
        [binary, *FLAGS],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    seen: list[str] = []
    endpoint = None
    try:
        while endpoint is None:
            line = lines.get(timeout=STARTUP_SECONDS)
            if line is None:
                _unavailable("Azurite exited at start: " + " | ".join(seen[-5:]))
            seen.append(str(line).strip())
            match = re.search(r"(?:listens on|listening at) (http://\S+)", str(line))
            if match:
                endpoint = f"{match.group(1).rstrip('/')}/{ACCOUNT}"
        yield Azurite(endpoint)
    except queue.Empty:
        _unavailable("Azurite did not start: " + " | ".join(seen[-5:]))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=15)
        if proc.stdout is not None:
            proc.stdout.close()
