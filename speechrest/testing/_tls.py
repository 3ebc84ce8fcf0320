"""HTTPS for the emulator: a certificate authority made on the spot (trustme, in the
``speechrest[emulator]`` extra), a server certificate for the loopback names, and where the
authority's certificate is written, for clients to trust.

Why: Microsoft recommends keyless sign-in with Microsoft Entra ID tokens, and Azure's own
SDKs refuse to send a bearer token over plain HTTP (azure-core: "Bearer token authentication
is not permitted for non-TLS protected (non-https) URLs"). An emulator that serves HTTPS with
a certificate the test trusts lets such code run unchanged.
"""

from __future__ import annotations

import importlib
import importlib.util
import ssl
from pathlib import Path
from typing import Any

import attrs

__all__ = ["LocalCA", "make_local_ca"]

CA_FILE = "speechrest-emulator-ca.pem"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@attrs.frozen
class LocalCA:
    """A certificate authority of one emulator, and the server side of its TLS."""

    cert_path: Path
    """The authority's certificate (PEM): what clients trust."""
    server_context: ssl.SSLContext
    """The emulator's server context, with a certificate the authority issued."""

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts the system's authorities and this one."""
        context = ssl.create_default_context()
        context.load_verify_locations(cafile=str(self.cert_path))
        return context


def make_local_ca(host: str, directory: Path) -> LocalCA:
    """A new authority whose certificate is written to ``directory``, and a server
    certificate for the loopback names and ``host``."""
    if importlib.util.find_spec("trustme") is None:
        raise ImportError(
            "The emulator serves HTTPS with a local certificate authority made by trustme: "
            "pip install 'speechrest[emulator]'"
        )
    trustme: Any = importlib.import_module("trustme")
    authority = trustme.CA(organization_name="speechrest emulator")
    names = [*_LOOPBACK, *([host] if host and host not in (*_LOOPBACK, "0.0.0.0", "::") else [])]  # noqa: S104
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(*names).configure_cert(server)
    path = directory / CA_FILE
    authority.cert_pem.write_to_path(str(path))
    return LocalCA(cert_path=path, server_context=server)
