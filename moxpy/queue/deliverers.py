"""Choosing the Deliverer a config asks for: localserve's own listener or
direct SMTP to the recipient domains' MX hosts."""

from __future__ import annotations

from .. import config as configlib
from ..store import Store
from .deliver import Deliverer, LocalDeliverer
from .destinations import MXResolver
from .direct import DirectDeliverer


def make_deliverer(source: configlib.Source, store: Store, local_smtp: list[tuple[str, int]]) -> Deliverer:
    """The Deliverer the config asks for: Queue.Delivery "local" or "direct"
    (empty: local in localserve, direct otherwise)."""
    config = source.current()
    mode = config.Queue.Delivery or ("local" if config.Localserve else "direct")
    if mode == "local":
        if not local_smtp:
            raise configlib.ConfigError("local delivery needs an SMTP listener to deliver the queue to")
        host, port = local_smtp[0]
        return LocalDeliverer(host, port, local_hostname=config.Hostname, store=store, config=source)
    try:
        resolver = MXResolver(config.DNS.Nameservers, config.DNS.Timeout)
    except ValueError as e:
        raise configlib.ConfigError(f"DNS: Nameservers: {e}") from None
    ca_file = config.resolve(config.Queue.TLSCAFile) if config.Queue.TLSCAFile else ""
    return DirectDeliverer(resolver, config.Hostname, port=config.Queue.SMTPPort, ca_file=ca_file)
