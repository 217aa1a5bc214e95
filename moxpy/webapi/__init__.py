"""The webapi: a simple HTTP/JSON API to send mail and read received mail,
compatible with mox's webapi (calls, fields, error codes).

types.py defines every method's request and response once; codec.py turns
JSON into those types the way Go does; methods.py implements the methods
over the store and queue; resource.py serves them over HTTP with the HTML
method pages; client.py is a Python client applications can use.
"""

from .client import AuthError, Client, Upload
from .errors import WebapiError

__all__ = ["Client", "Upload", "AuthError", "WebapiError"]
