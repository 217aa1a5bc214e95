"""SMTP listeners on aiosmtpd, running on the shared event loop.

One handler class per role: delivery (port 25, 1025 in localserve) takes
mail for local addresses and stores it; submission (587/465) will take
authenticated mail from accounts and queue it. Handlers decide; the store
and queue do the work.
"""

from __future__ import annotations

import asyncio
import ssl

from aiosmtpd.smtp import SMTP


def smtp_factory(handler, *, hostname: str, data_size_limit: int, loop: asyncio.AbstractEventLoop,
                 tls_context: ssl.SSLContext | None = None, **kwargs):
    """A protocol factory for loop.create_server."""

    def factory() -> SMTP:
        return SMTP(
            handler,
            hostname=hostname,
            ident="moxpy",
            data_size_limit=data_size_limit,
            enable_SMTPUTF8=True,
            decode_data=False,
            tls_context=tls_context,
            loop=loop,
            **kwargs,
        )

    return factory
