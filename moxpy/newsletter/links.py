"""The links in the list's mail: confirming a subscription, and the
one-click unsubscribe of RFC 8058 (List-Unsubscribe, List-Unsubscribe-Post).

They point at the member endpoints the webapi's listeners serve
(newsletter/http.py), under Newsletter.BaseURL as the recipients' browsers
reach the server.
"""

from __future__ import annotations

import urllib.parse

from .. import config as configlib

CONFIRM_PATH = "/newsletter/confirm"  # GET, from the confirmation message
ONE_CLICK_PATH = "/newsletter/one-click"  # POST List-Unsubscribe=One-Click (RFC 8058 3.2); GET shows a form


def base_url(config: configlib.Config) -> str:
    """Newsletter.BaseURL, else https://Hostname; localserve: its plain-HTTP webapi listener."""
    if config.Newsletter.BaseURL:
        return config.Newsletter.BaseURL.rstrip("/")
    if config.Localserve:
        for listener in config.Listeners.values():
            if listener.WebAPIHTTP.Enabled:
                return f"http://localhost:{listener.WebAPIHTTP.Port}"
    return f"https://{config.Hostname}"


def confirm_url(config: configlib.Config, token: str) -> str:
    return f"{base_url(config)}{CONFIRM_PATH}?{urllib.parse.urlencode({'token': token})}"


def one_click_url(config: configlib.Config, token: str) -> str:
    return f"{base_url(config)}{ONE_CLICK_PATH}?{urllib.parse.urlencode({'token': token})}"
