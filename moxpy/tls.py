"""Server-side TLS: the SSL context a listener uses for its configured
certificate and key files.

Loading only; it does not make certificates (provision/certificate.py
makes the self-signed ones localserve and quickstart start with) and does
not choose which listener gets which file (server.py does, from the config).
"""

from __future__ import annotations

import ssl


def server_context(cert_path: str, key_path: str) -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2 and newer) for the certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_path, key_path)
    return context
