"""An OpenAPI 3.1 document of the webapi, generated from the method types.

mox has none; it is here for tools that generate clients or test APIs from
one. Request objects travel JSON-encoded in the form field "request", which
OpenAPI 3.1 (JSON Schema 2020-12) describes with contentMediaType and
contentSchema.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .. import __version__
from .. import tokens as tokenlib
from .types import COMMON_ERRORS, METHODS, RAW

REF = "#/components/schemas/{name}"


def document(base_path: str = "/webapi/v0/") -> dict[str, Any]:
    types = [m.request for m in METHODS.values()]
    schemas, components = msgspec.json.schema_components(
        types + [m.response for m in METHODS.values() if m.response != RAW], ref_template=REF)
    request_schemas = dict(zip(METHODS, schemas))
    components["Error"] = {
        "type": "object",
        "properties": {
            "Code": {"type": "string", "description": "For programs: user, server, protocol, badAddress, or a method-specific code."},
            "Message": {"type": "string", "description": "For people."},
        },
        "required": ["Code", "Message"],
    }
    paths: dict[str, Any] = {}
    for name, method in METHODS.items():
        form = {
            "type": "object",
            "properties": {"request": {"type": "string", "contentMediaType": "application/json",
                                       "contentSchema": request_schemas[name]}},
            "required": ["request"],
        }
        if name == "Send":
            for key in ("alternativefile", "inlinefile", "attachedfile"):
                form["properties"][key] = {"type": "array", "items": {"type": "string", "contentMediaType": "application/octet-stream"}}
        if method.response == RAW:
            ok = {"description": "The bytes.", "content": {"application/octet-stream": {"schema": {"type": "string"}}}}
        else:
            ok = {"description": "Success.", "content": {"application/json": {"schema": {"$ref": REF.format(name=method.response.__name__)}}}}
        codes = ", ".join(f"`{c}`" for c in method.errors + COMMON_ERRORS)
        paths[f"{base_path}{name}"] = {"post": {
            "operationId": name,
            "summary": method.summary,
            # Basic auth: the account's password, or the admin login for scope admin. Tokens need the scope.
            "security": [{"basic": []}, {"bearer": []}, {"oauth": [method.scope] if method.scope else []}],
            "requestBody": {"required": True, "content": {
                "application/x-www-form-urlencoded": {"schema": form},
                "multipart/form-data": {"schema": form},
            }},
            "responses": {
                "200": ok,
                "400": {"description": f"Error, with Code one of {codes}.",
                        "content": {"application/json": {"schema": {"$ref": REF.format(name="Error")}}}},
                "401": {"description": "Missing or wrong credentials, or an unknown, revoked or expired token."},
                "403": {"description": f"A token without scope {method.scope}: Code permissionDenied.",
                        "content": {"application/json": {"schema": {"$ref": REF.format(name="Error")}}}},
                "429": {"description": "Too many failed logins from this address."},
            },
        }}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "moxpy webapi",
            "version": __version__,
            "description": "HTTP/JSON API for sending and reading mail, compatible with mox's webapi. "
                           "Each call is a POST with the request object JSON-encoded in form field \"request\".",
        },
        "servers": [{"url": "http://localhost:1080", "description": "localserve"}],
        "security": [{"basic": []}, {"bearer": []}, {"oauth": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic",
                                          "description": "An email address of the account and its password."},
                                "bearer": {"type": "http", "scheme": "bearer",
                                           "description": "An API token of the account (mxt_...), or an OAuth "
                                                          "access token, limited to its scopes."},
                                # RFC 6749 4.4, at /oauth/token of the same listener.
                                "oauth": {"type": "oauth2",
                                          "description": "Access tokens for the client credentials of an OAuth "
                                                         "client (mox.py client add).",
                                          "flows": {"clientCredentials": {"tokenUrl": "/oauth/token",
                                                                          "scopes": dict(tokenlib.SCOPES)}}}},
        },
    }
