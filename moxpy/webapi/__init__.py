"""The webapi: a simple HTTP/JSON API to send mail and read received mail,
compatible with mox's webapi (calls, fields, error codes).

types.py defines every method's request and response once; codec.py turns
JSON into those types the way Go does; methods.py implements the methods
over the store and queue; resource.py serves them over HTTP with the HTML
method pages; client.py is a Python client applications can use.
"""

from .errors import WebapiError

__all__ = ["Client", "Upload", "AuthError", "WebapiError"]


def __getattr__(name: str):
    # The client (and httpx under it) is loaded when an application asks for
    # it, not by the server, which imports this package for the listener.
    if name in ("Client", "Upload", "AuthError"):
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
