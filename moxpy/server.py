"""Wiring: in each process of the server, one asyncio event loop with
Twisted's asyncio reactor on it, and the listeners and workers of the
process's role started and stopped in order.

Twisted runs on the asyncio loop (asyncioreactor), so aiosmtpd, the IMAP
server and twisted.web share it. install_reactor() must run before anything
imports twisted.internet.reactor.

Roles (see processes.py): ALL runs everything in one process; with two
processes FRONT runs IMAP, the queue worker, the webhook worker, the
collector of remote mailboxes (fetch rules) and the send job runner, and accepts the webapi's
connections, DELIVERY the SMTP listeners; both serve webapi calls
(handoff.py). Every listening socket is bound before the processes part,
so a port in use stops the start at once.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import signal
import socket
import ssl
import sys
import time

from . import auth as authlib
from . import config as configlib
from . import handoff
from . import metrics
from . import offload
from . import processes
from . import tls as tlslib
from .accountadmin import AccountAdmin
from .connlimit import ConnectionLimit, limited_http, per_ip
from .fetch.collector import Collector
from .fetch.rules import FetchRules
from .fetch.secret import PasswordBox
from .forwarding import Forwarder
from .inbound import Inbound
from .link import Link
from .newsletter import jobs as sendjobslib
from .newsletter.runner import Runner as SendJobRunner
from .queue import Queue, make_deliverer
from .queue.suppression import Suppressions
from .smtpserver import smtp_factory
from .resolver import Resolver
from .smtpserver.delivery import DeliveryHandler
from .smtpserver.submission import SubmissionHandler
from .store import Store, backend
from .store.sqlite.serverdb import ServerDatabase
from .submit import Submitter
from .watchdog import Watchdog
from .webhooks import Webhooks

log = logging.getLogger("moxpy.server")


def install_reactor() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    from twisted.internet import asyncioreactor

    asyncioreactor.install(loop)  # does not set the loop itself; done above
    return loop


# Connections the kernel queues for accept: a burst of many clients at once
# waits there instead of being refused or retried after a SYN timeout.
# Linux caps the value at net.core.somaxconn (4096 since 5.4).
LISTEN_BACKLOG = max(socket.SOMAXCONN, 1024)


# Roles of a process.
ALL = "all"
FRONT = "front"
DELIVERY = "delivery"

# The listening services by name, and the role that serves them when there are two processes.
DELIVERY_SERVICES = ("smtp", "submission", "submissions")
FRONT_SERVICES = ("webapihttp", "webapihttps", "imap", "imaps")

DELIVERY_START_TIMEOUT = 60.0  # seconds the front waits for the delivery process to be ready
DELIVERY_STOP_TIMEOUT = 15.0  # seconds it waits for it to stop before killing it
FORGET_TIMEOUT = 30.0  # seconds a process waits for the other to close an account being deleted
RETIRE_TIMEOUT = 600.0  # seconds a retiring delivery process waits for its connections to end


class ListenError(Exception):
    """A listening socket could not be made; the message names the service, address and port."""


def listen_socket(service: str, ip: str, port: int) -> socket.socket:
    """A listening TCP socket for every listener, asyncio's and Twisted's alike.
    Twisted keeps the backlog of a socket it adopts; asyncio listens again
    with the backlog create_server is given.

    IPv6 sockets are IPv6-only: Linux by default lets "::" take IPv4 too,
    and then the "0.0.0.0" and "::" of one listener (as quickstart writes
    them) collide on the same port.
    """
    where = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(ip).version == 6 else socket.AF_INET
    except ValueError:
        raise ListenError(f"cannot listen for {service} on {where}: not an IP address") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((ip, port))
        sock.listen(LISTEN_BACKLOG)
        sock.setblocking(False)
    except OSError as e:
        sock.close()
        raise ListenError(f"cannot listen for {service} on {where}: {e.strerror or e}") from None
    return sock


def services(listener: configlib.Listener) -> list[tuple[str, configlib.Service]]:
    """A listener's services by name."""
    return [("smtp", listener.SMTP), ("submission", listener.Submission), ("submissions", listener.Submissions),
            ("webapihttp", listener.WebAPIHTTP), ("webapihttps", listener.WebAPIHTTPS),
            ("imap", listener.IMAP), ("imaps", listener.IMAPS)]


Sockets = dict[tuple[str, str, int], socket.socket]  # (service, ip, port) -> listening socket


def bind(config: configlib.Config) -> Sockets:
    """A listening socket for every enabled service of every listener; ListenError for the first that
    cannot be made (the others are closed again)."""
    sockets: Sockets = {}
    try:
        for listener in config.Listeners.values():
            for name, service in services(listener):
                if service.Enabled:
                    for ip in listener.IPs:
                        sockets[(name, ip, service.Port)] = listen_socket(name, ip, service.Port)
    except ListenError:
        for sock in sockets.values():
            sock.close()
        raise
    return sockets


class Server:
    def __init__(self, config: configlib.Config, role: str, sockets: Sockets, link: Link | None = None,
                 delivery_pid: int = 0, handoff_socket: socket.socket | None = None, on_demand: bool = False,
                 current: configlib.Config | None = None):
        """sockets: from bind(), those of the role's services, each taken by the listener that uses it;
        link: to the server's other process; delivery_pid: the delivery process of a FRONT;
        handoff_socket: where webapi connections cross to the other process (handoff.py); on_demand: a
        FRONT that serves everything itself and starts a delivery process under load (secondprocess.py);
        current: the config now, when it is not the one the server started with."""
        self.config = config
        self.role = role
        self.on_demand = on_demand
        self._sockets = sockets
        self.link = link
        self.delivery_pid = delivery_pid
        self._handoff_socket = handoff_socket
        self.balancer = None  # the front's, placing webapi connections
        self._receiver = None  # the delivery process's, taking them
        self._passed_factories: list = []  # the delivery process's, serving them
        self._kept_factories: list = []  # the front's, serving those it keeps
        self._background: set[asyncio.Task] = set()
        self._second = None  # an on-demand front's SecondProcess
        self._retiring: asyncio.Task | None = None  # a delivery process started on demand, ending
        self.exit_code = 0
        self._stopping = False
        self._delivery_ready: asyncio.Future | None = None
        self._forgetting: dict[int, asyncio.Future] = {}  # Forget messages awaiting their Forgotten, by ref
        self._forget_refs = 0
        self.data_dir = config.data_dir()
        # The config at start, for what is read only then; components ask the source for the current one.
        self.source = configlib.Source(current or config)
        self.smtp_sockets: Sockets = {}  # the SMTP services' listening sockets, kept until the server stops
        self._smtp_services: list = []  # (address, TLS context, protocol factory) of each, once made
        self._smtp_servers: list[asyncio.AbstractServer] = []  # those accepting now
        self._twisted_ports: list = []
        self.store: Store | None = None
        self.serverdb: ServerDatabase | None = None
        self._claims: asyncio.Task | None = None
        self.queue: Queue | None = None
        self.webhooks: Webhooks | None = None
        self.suppressions: Suppressions | None = None
        self.fetch_rules: FetchRules | None = None
        self.collector: Collector | None = None
        self.send_job_runner: SendJobRunner | None = None
        self.send_jobs: sendjobslib.SendJobs | None = None
        self._tls_contexts: dict[str, ssl.SSLContext] = {}
        self._smtp_handlers: list = []
        self._watchdog: Watchdog | None = None
        self._per_ip = per_ip(config.MaxConnectionsPerIP, config.Localserve)
        self._connection_limits: dict[str, ConnectionLimit] = {}

    def connection_limit(self, service: str) -> ConnectionLimit:
        """The cap on open connections per remote address of one service (smtp, imaps, webapihttp, ...),
        shared by all its listening addresses."""
        limit = self._connection_limits.get(service)
        if limit is None:
            limit = self._connection_limits[service] = ConnectionLimit(service, self._per_ip)
        return limit

    def tls_context(self, listener: configlib.Listener) -> ssl.SSLContext | None:
        """The server TLS context of a listener's certificate, or None without one."""
        if listener.TLS is None:
            return None
        cert, key = self.config.resolve(listener.TLS.CertFile), self.config.resolve(listener.TLS.KeyFile)
        context = self._tls_contexts.get(cert)
        if context is None:
            context = self._tls_contexts[cert] = tlslib.server_context(cert, key)
        return context

    def _twisted_tls(self, listener: configlib.Listener):
        """A Twisted TLS context factory for the listener's certificate."""
        from twisted.internet import ssl as twisted_ssl

        cert, key = self.config.resolve(listener.TLS.CertFile), self.config.resolve(listener.TLS.KeyFile)
        with open(cert, "rb") as f, open(key, "rb") as g:
            pem = f.read() + b"\n" + g.read()
        private = twisted_ssl.PrivateCertificate.loadPEM(pem)
        return twisted_ssl.CertificateOptions(privateKey=private.privateKey.original, certificate=private.original,
                                              raiseMinimumTo=twisted_ssl.TLSVersion.TLSv1_2)

    def listen_addresses(self, service: str) -> list[tuple[str, int]]:
        result = []
        for listener in self.config.Listeners.values():
            svc = getattr(listener, service)
            if svc.Enabled:
                result.extend((ip, svc.Port) for ip in listener.IPs)
        return result

    async def start(self) -> None:
        config = self.config
        os.makedirs(self.data_dir, exist_ok=True)
        if config.Metrics.Enabled:
            enable_metrics(config)  # done already, before the fork, in a server of two processes
        self.serverdb = backend.server_database(config)
        # The store refuses, and lets go of, accounts the current config does not have.
        self.store = backend.accounts(config, names=lambda: self.source.current().Accounts)
        self.suppressions = Suppressions(self.serverdb.queue)
        for name in self.source.current().Accounts:
            self.store.account(name)  # open (and create) every account's index at start
        await self.store.start()  # other nodes' changes, when they share the storage
        authenticator = self._authenticator = authlib.Authenticator(self.source)

        from .webapi.changes import webhook_payloads

        works = self.role != DELIVERY  # runs the queue and webhook workers
        if works:
            deliverer = make_deliverer(self.source, self.store, self.listen_addresses("SMTP"))
            self.queue = Queue(self.source, self.serverdb.queue, deliverer, accounts=self.store)
            self.webhooks = Webhooks(self.source, self.serverdb.webhooks, self.queue, self.store, webhook_payloads)
        else:
            # The front runs the workers; a kick tells it that a submitted message or a webhook (for an
            # incoming message) was queued.
            self.queue = Queue(self.source, self.serverdb.queue, None, accounts=self.store,
                               wake=lambda: self.link.send("kick"))
            self.webhooks = Webhooks(self.source, self.serverdb.webhooks, self.queue, self.store, webhook_payloads,
                                     wake=lambda: self.link.send("hooks"))
        # Remote mailboxes are collected beside the queue, in the front; what is fetched takes the path of
        # incoming mail. A rule made or changed by a webapi call in the delivery process wakes it over the link.
        box = PasswordBox(self.data_dir)
        if works:
            # Rules apply to fetched mail as to mail arriving over SMTP.
            inbound = Inbound(self.store, self.webhooks.incoming, Forwarder(self.source, self.queue))
            self.collector = Collector(self.source, self.serverdb.fetch_rules, box, inbound, config.Hostname)
            self.fetch_rules = FetchRules(self.source, self.serverdb.fetch_rules, box, self.collector.wake)
        else:
            self.fetch_rules = FetchRules(self.source, self.serverdb.fetch_rules, box,
                                          lambda: self.link.send("fetch"))
        # A send job's recipients follow the queue's outcomes, in every process that records some.
        self.queue.event_sinks.append(sendjobslib.outcome_sink)
        # Send jobs run beside the queue, in the front; one made by a webapi call in the delivery process
        # wakes the runner over the link.
        if works:
            self.send_job_runner = SendJobRunner(self.source, self.serverdb.sendjobs, self.serverdb.newsletter,
                                                 Submitter(self.source, self.queue), self.data_dir)
            wake_runner = self.send_job_runner.wake
        else:
            wake_runner = lambda: self.link.send("sendjobs")  # noqa: E731
        self.send_jobs = sendjobslib.SendJobs(self.source, self.serverdb.sendjobs, self.serverdb.newsletter,
                                              self.queue, wake_runner)
        self._share(authenticator)
        if self.link is not None:
            await self.connect(self.link)
        if self.role != FRONT or self.on_demand:
            await self._start_smtp(authenticator)
        self._start_webapi(authenticator)
        if works:
            self._start_imap(authenticator)
        if self.role == FRONT and not self.on_demand:
            # The queue's first deliveries may go to the delivery process's SMTP listener.
            await self._wait_delivery_ready()
        if works:
            self.queue.start()
            self.webhooks.start()
            self.collector.start()
            self.send_job_runner.start()
            if self.serverdb.claim_lease:
                self._claims = asyncio.get_running_loop().create_task(self._keep_claims(), name="claims")
        if self.on_demand:
            from .secondprocess import SecondProcess

            self._second = SecondProcess(self)
            self._second.start()
        # Watched from here on: what runs above, once, may take the loop for a while.
        self._watchdog = Watchdog(asyncio.get_running_loop())
        self._watchdog.start()

    def _share(self, authenticator: authlib.Authenticator) -> None:
        """What this process tells the other over the link whenever there is one (see processes.py): the
        logins its throttle counts, and the account changes it commits (to the other's IMAP sessions and
        change webhooks)."""
        if self.link is None and not self.on_demand:
            return
        authenticator.on_counted = lambda ip, ok: self.link and self.link.send(
            "login", processes.LoginCounted(ip, ok))
        self.store.relay = lambda name, changes: self.link and self.link.send(
            "changes", processes.changes_message(name, changes))
        self.store.hear = lambda: self.link and self.link.drain()

    async def connect(self, link: Link) -> None:
        """What crosses between the processes (see processes.py), on a new link to the other one."""
        authenticator = self._authenticator
        await link.start()
        link.on("login", processes.LoginCounted, lambda m: authenticator.counted(m.remote_ip, m.ok))
        link.on("changes", processes.Changes, lambda m: self.store.announce(m.account, m.changes))
        if self.role == DELIVERY:
            link.on("release", None, lambda _: self._release_stalled())
            link.on("stop", None, lambda _: _stop_reactor())
            link.on("retire", None, lambda _: self._retire())
        else:
            link.on("kick", None, lambda _: self.queue.kick())
            link.on("fetch", None, lambda _: self.collector.wake())
            link.on("sendjobs", None, lambda _: self.send_job_runner.wake())
            link.on("hooks", None, lambda _: self.webhooks.sender.kick())
            link.on("webclosed", handoff.Handed, lambda handed: self.balancer.closed_there(handed))
            if self.on_demand:
                link.on("ready", None, lambda _: self._second.ready())
            else:
                self._delivery_ready = asyncio.get_running_loop().create_future()
                link.on("ready", None,
                        lambda _: self._delivery_ready.done() or self._delivery_ready.set_result(None))
        # An account being deleted by the webapi, which either process may serve.
        link.on("forget", processes.Forget, self._forget_here)
        link.on("forgotten", processes.Forgotten, self._forgotten)
        link.closed.add_done_callback(lambda _: self._link_closed(link))

    def _forget_here(self, message: processes.Forget) -> None:
        """Close an account the other process is deleting (its IMAP sessions here are told BYE), then
        say so."""
        if self.store.forget(message.account):
            log.info("account closed for its deletion account=%s%s", message.account, self._which())
        self.link.send("forgotten", processes.Forgotten(message.ref))

    def _forgotten(self, message: processes.Forgotten) -> None:
        waiting = self._forgetting.pop(message.ref, None)
        if waiting is not None and not waiting.done():
            waiting.set_result(True)

    async def forget_elsewhere(self, account: str) -> bool:
        """Have the other process close an account being deleted; False when it did not say it had
        within FORGET_TIMEOUT (or is gone)."""
        link = self.link
        if link is None:
            return True  # no other process (one started on demand opens the account afresh)
        loop = asyncio.get_running_loop()
        self._forget_refs += 1
        ref = self._forget_refs
        waiting = self._forgetting[ref] = loop.create_future()
        link.send("forget", processes.Forget(account, ref))
        try:
            await asyncio.wait([waiting, link.closed], timeout=FORGET_TIMEOUT,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._forgetting.pop(ref, None)
        return waiting.done()

    async def _wait_delivery_ready(self) -> None:
        await asyncio.wait([self._delivery_ready, self.link.closed], timeout=DELIVERY_START_TIMEOUT,
                           return_when=asyncio.FIRST_COMPLETED)
        if not self._delivery_ready.done():
            raise StartError("the delivery process did not start (see its messages above)")

    def _link_closed(self, link: Link) -> None:
        if self._stopping or link is not self.link:
            return
        if self.on_demand:
            self._second.ended()
            return
        if self.role == FRONT:
            if self._delivery_ready is not None and not self._delivery_ready.done():
                return  # start() reports it
            log.error("the delivery process ended; stopping the server")
            self.exit_code = 1
        _stop_reactor()

    def _start_webapi(self, authenticator: authlib.Authenticator) -> None:
        """The webapi on every address that has it. In one process Twisted listens. With two, the front
        accepts and keeps or passes on each connection (handoff.py), and the delivery process serves
        those passed to it, with the same sites."""
        from twisted.internet import reactor

        sites = self._webapi_sites(authenticator)
        if self.role == ALL:
            for address, (site, tls) in sites.items():
                self._listen_twisted(*address, self._webapi_factory(address, site, tls))
            return
        if self.role == FRONT:
            balancer = self.balancer = handoff.Balancer(
                self._handoff_socket, lambda address, conn: reactor.adoptStreamConnection(
                    conn.fileno(), conn.family, kept[address]),
                lambda service, ip: self.connection_limit(service).acquire(ip),
                lambda service, ip: self.connection_limit(service).release(ip))
            kept = {address: handoff.counted(self._webapi_factory(address, site, tls), lambda ip: balancer.closed_here())
                    for address, (site, tls) in sites.items()}
            self._kept_factories = list(kept.values())
            for address in sites:
                balancer.listen(address, self._socket(*address))
                log.info("listening service=%s address=%s:%d", *address)
            return

        def closed(address, ip: str) -> None:
            self.link.send("webclosed", handoff.Handed(*address, remote_ip=ip))

        # The front counted these against the per-address cap; it is told when they close.
        passed = {address: handoff.counted(self._webapi_factory(address, site, tls, limited=False),
                                           lambda ip, address=address: closed(address, ip))
                  for address, (site, tls) in sites.items()}
        self._passed_factories = list(passed.values())
        self._receiver = handoff.Receiver(self._handoff_socket, lambda handed, fd, family: reactor.adoptStreamConnection(
            fd, family, passed[(handed.service, handed.ip, handed.port)]))
        self._receiver.start()

    def _webapi_sites(self, authenticator: authlib.Authenticator) -> dict:
        """The site of each webapi address (service, ip, port), with the TLS options of an HTTPS one
        (None for HTTP)."""
        from twisted.web import server as webserver

        from .webapi.methods import API
        from .webapi.resource import WebAPIChannel, WebAPIResource, request_factory

        config = self.config
        admin = AccountAdmin(self.source, self.store, self.serverdb,
                             forget_elsewhere=self.forget_elsewhere if self.link is not None or self.on_demand else None)
        api = API(self.source, self.store, self.queue, self.suppressions, self.serverdb.tokens, admin,
                  fetch_rules=self.fetch_rules, newsletter=self.serverdb.newsletter)
        pages = {"/metrics": self._metrics_page()} if config.Metrics.Enabled else {}
        access = self._oauth_pages(pages, authenticator)
        from .newsletter.jobshttp import SendJobsResource

        pages["/api/"] = SendJobsResource(self.send_jobs, self.serverdb.tokens, authenticator, access)
        pages["/newsletter/"] = self._newsletter_page(api, authenticator, access)
        admin_hash = _password_hash_file(config, "AdminPasswordFile", config.AdminPasswordFile)
        if not admin_hash and config.Localserve:
            # A localserve directory made before the admin login existed.
            from .provision import localserve

            admin_hash = authlib.hash_password(localserve.ADMIN_PASSWORD)
        sites = {}
        for listener in config.Listeners.values():
            for service_name, tls in (("WebAPIHTTP", False), ("WebAPIHTTPS", True)):
                service = getattr(listener, service_name)
                if not service.Enabled:
                    continue
                site = webserver.Site(WebAPIResource(api, authenticator, service.Path, pages, admin_hash, access))
                # Room for a maximum-size message sent base64-encoded inside form-encoded JSON.
                site.requestFactory = request_factory(config.MaxMessageSize * 2 + 1024 * 1024)
                site.protocol = WebAPIChannel
                site.log = lambda request: None  # calls are logged by the resource
                site.noisy = False  # listeners are logged, without Twisted's "Starting factory"
                if tls and listener.TLS is None:
                    raise configlib.ConfigError(f"{service_name} needs a TLS certificate in the listener")
                options = self._twisted_tls(listener) if tls else None
                for ip in listener.IPs:
                    sites[(service_name.lower(), ip, service.Port)] = (site, options)
        return sites

    def _webapi_factory(self, address, site, tls, limited: bool = True):
        """The factory serving a webapi address: its site, behind the service's cap on connections per
        remote address unless the caller counts them, inside TLS for HTTPS (so a refused HTTPS client can
        read its 503)."""
        from twisted.protocols.tls import TLSMemoryBIOFactory

        factory = limited_http(site, self.connection_limit(address[0])) if limited else site
        return TLSMemoryBIOFactory(tls, False, factory) if tls is not None else factory

    def _oauth_pages(self, pages: dict, authenticator: authlib.Authenticator):
        """Add the OAuth token endpoint and the keys of its access tokens to pages; the AccessTokens that
        issues and checks them."""
        from .oauth.accesstoken import AccessTokens
        from .oauth.resource import JWKSResource, TokenResource

        access = AccessTokens(self.source, self.serverdb.oauth_clients, self.serverdb.signing_keys)
        pages["/oauth/token"] = TokenResource(access, authenticator)
        pages["/.well-known/jwks.json"] = JWKSResource(access)
        return access

    def _newsletter_page(self, api, authenticator: authlib.Authenticator, access):
        """The member endpoints of mailing lists, under /newsletter/ (newsletter/http.py)."""
        from .newsletter.http import NewsletterResource
        from .newsletter.members import Members
        from .newsletter.signing import Signer

        members = Members(self.source, self.serverdb.newsletter, api.submitter, Signer(self.data_dir),
                          self.suppressions)
        return NewsletterResource(members, self.serverdb.tokens, authenticator, access)

    def _metrics_page(self):
        """The resource of GET /metrics, with the credentials of Metrics (read now, at start)."""
        from .metrics.resource import MetricsResource
        from .metrics.scrape import Sizes

        settings = self.config.Metrics
        password_hash = _password_hash_file(self.config, "Metrics: PasswordFile", settings.PasswordFile)
        sizes = Sizes(self.serverdb.queue, self.serverdb.webhooks, self.store,
                      lambda: list(self.source.current().Accounts), settings.PerAccount)
        return MetricsResource(sizes, self._authenticator, settings.Username, password_hash)

    async def _start_smtp(self, authenticator: authlib.Authenticator) -> None:
        """The SMTP delivery and submission listeners of every configured listener."""
        loop = asyncio.get_running_loop()
        config = self.config
        resolver = Resolver.from_config(config.DNS)
        inbound = Inbound(self.store, self.webhooks.incoming if self.webhooks else None,
                          Forwarder(self.source, self.queue))
        delivery = DeliveryHandler(self.source, self.store, config.Hostname, resolver, inbound)
        submission = SubmissionHandler(self.source, self.queue, authenticator, config.Hostname)
        self._smtp_handlers = [delivery, submission]
        for listener in config.Listeners.values():
            hostname = listener.Hostname or config.Hostname
            tls = self.tls_context(listener)
            common = dict(hostname=hostname, data_size_limit=config.MaxMessageSize, loop=loop)
            services = []
            if listener.SMTP.Enabled:
                # Port 25 offers STARTTLS when there is a certificate; no AUTH there.
                services.append(("smtp", listener.SMTP.Port, None,
                                 smtp_factory(delivery, tls_context=tls, auth_exclude_mechanism=["PLAIN", "LOGIN"],
                                              connection_limit=self.connection_limit("smtp"), **common)))
            if listener.Submission.Enabled:
                # RFC 8314 and RFC 4954 4: passwords only over TLS, except in localserve.
                services.append(("submission", listener.Submission.Port, None,
                                 smtp_factory(submission, tls_context=tls, auth_required=True,
                                              auth_require_tls=not config.Localserve,
                                              connection_limit=self.connection_limit("submission"), **common)))
            if listener.Submissions.Enabled:
                if tls is None:
                    raise configlib.ConfigError("submissions (implicit TLS) needs a TLS certificate in the listener")
                services.append(("submissions", listener.Submissions.Port, tls,
                                 smtp_factory(submission, implicit_tls=True, auth_required=True, auth_require_tls=False,
                                              connection_limit=self.connection_limit("submissions"), **common)))
            for name, port, server_tls, factory in services:
                for ip in listener.IPs:
                    self.smtp_sockets[(name, ip, port)] = self._socket(name, ip, port)
                    self._smtp_services.append(((name, ip, port), server_tls, factory))
        await self.listen_smtp()
        for name, ip, port in self.smtp_sockets:
            log.info("listening service=%s address=%s:%d", name, ip, port)

    @property
    def smtp_listening(self) -> bool:
        return bool(self._smtp_servers)

    async def listen_smtp(self) -> None:
        """Accept SMTP connections here (again), on duplicates of the listening sockets kept."""
        if self._smtp_servers or self._stopping:
            return
        loop = asyncio.get_running_loop()
        for address, server_tls, factory in self._smtp_services:
            sock = self.smtp_sockets[address].dup()
            self._smtp_servers.append(await loop.create_server(factory, sock=sock, ssl=server_tls,
                                                               backlog=LISTEN_BACKLOG))

    def moved(self, rebalance: bool) -> None:
        """SMTP moved between this process and a delivery process started on demand: the queue's connections
        to our own listener are made again, so that they reach the process that accepts now; with
        rebalance (the delivery process is new), part of the webapi connections kept here too."""
        reconnect = getattr(self.queue.deliverer, "reconnect", None)
        if reconnect is not None:
            task = asyncio.get_running_loop().create_task(reconnect())
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        if rebalance:
            connections = [p for factory in self._kept_factories for p in factory.protocols]
            handoff.rebalance(connections, (len(connections) - self.balancer.passed) // 2)

    def stop_smtp(self) -> list[asyncio.AbstractServer]:
        """Accept no more SMTP connections here (the listening sockets stay open; sessions go on); the
        servers that did."""
        servers, self._smtp_servers = self._smtp_servers, []
        for srv in servers:
            srv.close()
        return servers

    def _retire(self) -> None:
        """The link's "retire" (a delivery process started on demand): stop accepting, then end once
        the SMTP sessions and webapi connections held here are done."""
        if self._retiring is None:
            self._retiring = asyncio.get_running_loop().create_task(self._retire_when_done(), name="retiring")

    async def _retire_when_done(self) -> None:
        self.stop_smtp()
        if self._receiver is not None:
            self._receiver.stop()
            self._receiver = None
        log.info("retiring, accepting no more connections" + self._which())
        deadline = asyncio.get_running_loop().time() + RETIRE_TIMEOUT
        while asyncio.get_running_loop().time() < deadline:
            connections = [p for factory in self._passed_factories for p in factory.protocols]
            handoff.close_idle(connections)
            sessions = sum(self.connection_limit(service).count for service in DELIVERY_SERVICES)
            if not connections and not sessions:
                break
            await asyncio.sleep(0.1)
        _stop_reactor()

    def _socket(self, service: str, ip: str, port: int) -> socket.socket:
        """The socket bind() made for a service's address."""
        return self._sockets.pop((service, ip, port))

    def _listen_twisted(self, name: str, ip: str, port: int, factory) -> None:
        """A Twisted listener (IMAP, HTTP) on a socket from listen_socket."""
        from twisted.internet import reactor

        sock = self._socket(name, ip, port)
        try:
            self._twisted_ports.append(reactor.adoptStreamPort(sock.fileno(), sock.family, factory))
        finally:
            sock.close()  # Twisted listens on its own duplicate of the descriptor
        log.info("listening service=%s address=%s:%d", name, ip, port)

    def _start_imap(self, authenticator: authlib.Authenticator) -> None:
        """IMAP (with STARTTLS) and IMAPS listeners of every listener that enables them."""
        from twisted.protocols.tls import TLSMemoryBIOFactory

        from .imapserver import IMAPFactory

        config = self.config
        for name, listener in config.Listeners.items():
            if not (listener.IMAP.Enabled or listener.IMAPS.Enabled):
                continue
            options = self._twisted_tls(listener) if listener.TLS is not None else None
            for service, implicit in ((listener.IMAP, False), (listener.IMAPS, True)):
                if not service.Enabled:
                    continue
                if implicit and options is None:
                    raise configlib.ConfigError(f"listener {name}: IMAPS needs a TLS certificate")
                # localserve is for development on loopback: passwords may go without TLS there, as in mox.
                factory = IMAPFactory(self.source, self.store, authenticator, tls_options=options,
                                      implicit_tls=implicit, plaintext_login=config.Localserve,
                                      connection_limit=self.connection_limit("imaps" if implicit else "imap"))
                if implicit:
                    factory = TLSMemoryBIOFactory(options, False, factory)
                for ip in listener.IPs:
                    self._listen_twisted("imaps" if implicit else "imap", ip, service.Port, factory)

    async def _keep_claims(self) -> None:
        """Where nodes share the database: renew this node's claims, and take over those of a node that died
        (queue.take_over), every third of a claim's lease."""
        interval = self.serverdb.claim_lease / 3
        while True:
            await asyncio.sleep(interval)
            try:
                self.serverdb.renew_claims(time.time())
                await self.queue.take_over()
            except Exception as e:  # the database unreachable for a moment: again next time
                log.warning("renewing claims: %s", e)

    async def stop(self) -> None:
        self._stopping = True
        log.info("shutting down" + self._which())
        linked = self.delivery_pid and self.link is not None and self.link.started
        # Commands stalled by localserve's "timeout" localparts answer now; in
        # localserve the queue's own deliveries may be among them.
        if linked:
            self.link.send("release")
        if self._second is not None:
            self._second.release()
        self._release_stalled()
        # The queue first, while the listeners still take connections: in
        # localserve its deliveries in flight go to our own SMTP listener.
        works = self.role != DELIVERY
        if self.collector:
            await self.collector.stop()
        if self.send_job_runner:
            await self.send_job_runner.stop()
        if self._claims is not None:
            self._claims.cancel()
        if self.queue and works:
            await self.queue.stop()
        if self.webhooks and works:
            await self.webhooks.stop()
        if self.delivery_pid:
            # It stops beside this process; waited for below.
            if linked:
                self.link.send("stop")
            else:
                os.kill(self.delivery_pid, signal.SIGTERM)
        if self._second is not None:
            await self._second.stop()
        smtp_servers = self.stop_smtp()
        for port in self._twisted_ports:
            port.stopListening()
        if self.balancer is not None:
            self.balancer.stop()
        if self._receiver is not None:
            self._receiver.stop()
        for srv in smtp_servers:
            try:
                await asyncio.wait_for(srv.wait_closed(), 1.0)
            except TimeoutError:
                pass
        if self.delivery_pid:
            await self._wait_delivery_stopped()
        for sock in self.smtp_sockets.values():
            sock.close()
        if self.link is not None:
            self.link.close()
        # Writes already handed to the writer threads are committed before they close.
        if self.store:
            self.store.close()
        if self.serverdb:
            self.serverdb.close()
        if self._watchdog:
            self._watchdog.stop()
            self._watchdog = None
        await asyncio.to_thread(offload.stop)
        metrics.process_exiting()
        log.info("stopped" + self._which())

    def _release_stalled(self) -> None:
        for handler in self._smtp_handlers:
            handler.stop()

    def _which(self) -> str:
        """The process, in the log lines of a server of two."""
        return "" if self.role == ALL else f" process={self.role}"

    async def _wait_delivery_stopped(self) -> None:
        """Wait for the delivery process to end (killing it if it takes too long); its failure is ours."""
        deadline = asyncio.get_running_loop().time() + DELIVERY_STOP_TIMEOUT
        while True:
            pid, status = os.waitpid(self.delivery_pid, os.WNOHANG)
            if pid:
                break
            if asyncio.get_running_loop().time() > deadline:
                log.error("the delivery process did not stop in time; killing it")
                os.kill(self.delivery_pid, signal.SIGKILL)
                _, status = os.waitpid(self.delivery_pid, 0)
                break
            await asyncio.sleep(0.02)
        self.delivery_pid = 0
        if os.waitstatus_to_exitcode(status) != 0:
            self.exit_code = 1


class StartError(Exception):
    """The server could not start; the message says why."""


def enable_metrics(config: configlib.Config) -> None:
    """Count metrics, in a directory of the data directory that the processes of the server share."""
    metrics.enable(os.path.join(config.data_dir(), "metrics"))


def _password_hash_file(config: configlib.Config, setting: str, path: str) -> str:
    """The argon2id hash on the first line of a password file of the config; "" when path is empty."""
    if not path:
        return ""
    path = config.resolve(path)
    try:
        with open(path, encoding="utf-8") as f:
            password_hash = f.readline().strip()
    except (OSError, UnicodeDecodeError) as e:
        raise configlib.ConfigError(f"{setting}: reading {path}: {e}") from None
    if not password_hash.startswith("$argon2id$"):
        raise configlib.ConfigError(f"{setting}: {path} must hold an argon2id password hash on its first line, "
                                    "as `mox.py passwordhash` prints it")
    return password_hash


def _stop_reactor() -> None:
    from twisted.internet import error, reactor

    try:
        reactor.stop()
    except error.ReactorNotRunning:
        pass  # stopping already


def _open_server_database(config: configlib.Config) -> str:
    """Before the fork: open the server database once, which applies the migrations it lacks, so that one
    this version cannot use or reach is reported once rather than by each process; why it failed, or ""."""
    from .store import storage_error

    try:
        os.makedirs(config.data_dir(), exist_ok=True)  # as Server.start does: a new server has none yet
        backend.server_database(config).close()
    except Exception as e:
        if not isinstance(e, OSError) and not storage_error(e):
            raise
        return str(e)
    return ""


def run(config: configlib.Config, on_ready=None) -> int:
    """Run the server until SIGINT or SIGTERM, in one process or two (see processes.py); return the exit
    code. on_ready(server) is called once every listener and worker of every process runs."""
    try:
        sockets = bind(config)
    except ListenError as e:
        print(f"mox: cannot start: {e}", file=sys.stderr, flush=True)
        return 1
    count = processes.count(config)
    if count == 1:
        return _serve(Server(config, ALL, sockets), on_ready)
    if count == processes.ON_DEMAND:
        # The webapi's and IMAP's own sockets only; the SMTP ones are kept for a delivery process.
        return _serve(Server(config, FRONT, sockets, on_demand=True), on_ready)
    if config.Metrics.Enabled:
        # Before the fork: both processes count into the directory set up here (see moxpy.metrics).
        try:
            enable_metrics(config)
        except OSError as e:
            for sock in sockets.values():
                sock.close()
            print(f"mox: cannot start: metrics directory: {e}", file=sys.stderr, flush=True)
            return 1

    problem = _open_server_database(config)
    if problem:
        for sock in sockets.values():
            sock.close()
        print(f"mox: cannot start: {problem}", file=sys.stderr, flush=True)
        return 1

    # Loaded before the fork, so that both processes share their pages: the reactor's module and what it
    # loads (TLS among it), and what both serve: the webapi (with twisted.web), the OAuth, list and metrics
    # pages, and the queue's events that both write. Installing the reactor is each process's own, after
    # the fork.
    from twisted.internet import asyncioreactor, threads  # noqa: F401
    from twisted.protocols import tls  # noqa: F401

    from OpenSSL import SSL  # noqa: F401
    from .webapi import methods, resource  # noqa: F401
    from .oauth import accesstoken, resource as oauth_resource  # noqa: F401
    from .newsletter import http, jobshttp  # noqa: F401
    from .queue import events  # noqa: F401
    if config.Metrics.Enabled:
        from prometheus_client import multiprocess  # noqa: F401
        from .metrics import resource as metrics_resource, scrape  # noqa: F401

    pid, link_socket, handoff_socket = processes.fork()
    mine = DELIVERY_SERVICES if pid == 0 else FRONT_SERVICES
    for key in [key for key in sockets if key[0] not in mine]:
        sockets.pop(key).close()
    if pid:
        return _serve(Server(config, FRONT, sockets, Link(link_socket, "delivery process"), delivery_pid=pid,
                             handoff_socket=handoff_socket), on_ready)
    code = 1
    try:
        code = _serve(Server(config, DELIVERY, sockets, Link(link_socket, "front process"),
                             handoff_socket=handoff_socket), lambda server: server.link.send("ready"))
    finally:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve_delivery(config: configlib.Config, current: configlib.Config, sockets: Sockets, link: socket.socket,
                   handoff_socket: socket.socket) -> int:
    """The delivery process started on demand (secondprocess.py), from processes.main."""
    return _serve(Server(config, DELIVERY, sockets, Link(link, "front process"), handoff_socket=handoff_socket,
                         current=current), lambda server: server.link.send("ready"))


def _serve(server: Server, on_ready) -> int:
    install_reactor()
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred

    status = {"code": 0}

    async def start():
        try:
            await server.start()
        except Exception as e:
            from .store import storage_error

            # The database unreachable or refusing (PostgreSQL's, say) is the operator's to fix, not a bug.
            if not isinstance(e, (ListenError, OSError, configlib.ConfigError, StartError)) and not storage_error(e):
                log.exception("starting")
            # One line, naming what failed (for a listener: service, address and port).
            print(f"mox: cannot start: {e}", file=sys.stderr, flush=True)
            status["code"] = 1
            _stop_reactor()
            return
        if on_ready:
            on_ready(server)

    reactor.callWhenRunning(lambda: Deferred.fromFuture(asyncio.ensure_future(start())))
    reactor.addSystemEventTrigger("before", "shutdown", lambda: Deferred.fromFuture(asyncio.ensure_future(server.stop())))
    # SIGTERM and SIGINT stop the server, once however often they come (Twisted's own handlers fail on a
    # second one during the shutdown). Ctrl-C in a terminal reaches both processes; the front handles
    # it and stops the delivery process over the link. SIGTERM (a service manager may send it to both)
    # stops either.
    loop = asyncio.get_event_loop()
    stopping = {"signal": None}

    def stop(signum: int) -> None:
        if stopping["signal"] is None:
            stopping["signal"] = signum
            log.info("received %s%s", signal.Signals(signum).name, server._which())
        _stop_reactor()

    if server.role == DELIVERY:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    else:
        loop.add_signal_handler(signal.SIGINT, stop, signal.SIGINT)
    loop.add_signal_handler(signal.SIGTERM, stop, signal.SIGTERM)
    reactor.run(installSignalHandlers=False)
    return status["code"] or server.exit_code
