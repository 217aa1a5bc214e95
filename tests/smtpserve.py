"""The SMTP listeners of a production (non-localserve) config, run in-process
on free loopback ports with the server's own wiring (Server._start_smtp),
a real store and a real queue whose worker is not started, so submitted
mail stays queued for inspection. `mox.py serve` does not exist yet; this is
how its SMTP behaviour is tested until then."""

from __future__ import annotations

import asyncio
import os
import threading

from moxpy import auth
from moxpy import config as configlib
from moxpy.provision.certificate import generate_self_signed
from moxpy.provision.dkimkeys import generate_domain_keys
from moxpy.queue import Queue
from moxpy.server import DELIVERY, DELIVERY_SERVICES, Server, bind
from moxpy.store import backend

from . import storehelp
from .localserve import configure_test_storage, free_ports


def production_config(directory: str, nameserver: str) -> configlib.Config:
    """example.com with accounts alice (password "alice-secret") and a catchall
    account bob for catchall.example, DNS from the given test nameserver."""
    config_dir = os.path.join(directory, "config")
    os.makedirs(config_dir, exist_ok=True)
    generate_self_signed(os.path.join(config_dir, "mail.crt"), os.path.join(config_dir, "mail.key"),
                         hostname="mail.example.com")
    smtp, submission, submissions = free_ports(3)
    config = configlib.Config(
        Hostname="mail.example.com",
        DataDir="../data",
        DNS=configlib.DNS(Nameservers=[nameserver], Timeout=3),
        Listeners={"public": configlib.Listener(
            IPs=["127.0.0.1"],
            TLS=configlib.TLS(CertFile="mail.crt", KeyFile="mail.key"),
            SMTP=configlib.Service(True, smtp),
            Submission=configlib.Service(True, submission),
            Submissions=configlib.Service(True, submissions),
        )},
        Domains={
            "example.com": configlib.Domain(DKIM=generate_domain_keys(config_dir, "example.com")),
            "catchall.example": configlib.Domain(),
        },
        Accounts={
            "alice": configlib.Account(Domain="example.com", PasswordHash=auth.hash_password("alice-secret"),
                                       Destinations={"alice@example.com": configlib.Destination()},
                                       FromIDLoginAddresses=[]),
            "bob": configlib.Account(Domain="catchall.example",
                                     Destinations={"@catchall.example": configlib.Destination(Mailbox="Archive")}),
        },
    )
    config.path = os.path.join(config_dir, configlib.CONFIG_FILE)
    configure_test_storage(config)
    configlib.save(config)
    return configlib.load(config.path)


class InProcessSMTP:
    def __init__(self, config: configlib.Config):
        self.config = config
        sockets = bind(config)
        for key in [key for key in sockets if key[0] not in DELIVERY_SERVICES]:
            sockets.pop(key).close()  # only the SMTP listeners run here
        self.server = Server(config, DELIVERY, sockets)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def listener(self) -> configlib.Listener:
        return self.config.Listeners["public"]

    def start(self) -> "InProcessSMTP":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(20)
        return self

    async def _start(self) -> None:
        server = self.server
        os.makedirs(server.data_dir, exist_ok=True)
        server.serverdb = backend.server_database(self.config)
        server.store = backend.accounts(self.config)
        for name in self.config.Accounts:
            server.store.account(name)
        server.queue = Queue(server.source, server.serverdb.queue, deliverer=None)
        await server._start_smtp(auth.Authenticator(server.source))

    def stop(self) -> None:
        async def stop():
            self.server.stop_smtp()
            for sock in self.server.smtp_sockets.values():
                sock.close()
            self.server.store.close()
            self.server.serverdb.close()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def messages(self, account: str) -> list[dict]:
        return storehelp.messages(self.server.data_dir, account, self.config)

    def message_file(self, account: str, row: dict) -> bytes:
        return storehelp.message_file(self.server.data_dir, account, row, self.config)

