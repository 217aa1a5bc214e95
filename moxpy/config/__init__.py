"""Configuration: the TOML file a server runs from, its types and defaults,
loading, checking and saving it, and the answers that follow from it
alone (which account an address logs in to or delivers to).

The config file is the single source for domains, accounts (with password
hashes), listeners and their ports, and per-account webhook settings. It is
read with msgspec into the typed structs below, so a typo in a field name or
a value of the wrong type is reported with its path instead of being
ignored. This package imports nothing else of moxpy: it does not know
about sockets, storage or password hashing; server.py turns a config into
running listeners, and provision/ makes new configs, keys and
certificates and edits accounts, addresses and domains.
"""

from __future__ import annotations

import logging
import os
import tempfile
import urllib.parse

import msgspec

_log = logging.getLogger("moxpy.config")

CONFIG_FILE = "mox.toml"

# mox's log level names (mlog.Levels), as Python logging levels. We write no
# protocol transcripts, so the trace levels log what debug does.
LOG_LEVELS = {
    "tracedata": logging.DEBUG,
    "traceauth": logging.DEBUG,
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
    "print": logging.CRITICAL,
}


class Service(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=False):
    """One listening service of a listener."""

    Enabled: bool = False
    Port: int = 0


class WebService(Service, forbid_unknown_fields=True):
    Path: str = "/webapi/v0/"  # URL path the webapi is served at


class TLS(msgspec.Struct, forbid_unknown_fields=True):
    CertFile: str = ""  # PEM certificate chain; relative paths are relative to the config file
    KeyFile: str = ""  # PEM private key


class Listener(msgspec.Struct, forbid_unknown_fields=True):
    IPs: list[str] = msgspec.field(default_factory=lambda: ["127.0.0.1"])
    Hostname: str = ""  # name announced in SMTP greetings; defaults to the server's Hostname
    TLS: TLS | None = None  # certificate for STARTTLS, Submissions, IMAPS and HTTPS
    SMTP: Service = msgspec.field(default_factory=Service)  # delivery, no auth
    Submission: Service = msgspec.field(default_factory=Service)  # AUTH, plain or STARTTLS
    Submissions: Service = msgspec.field(default_factory=Service)  # AUTH, implicit TLS
    IMAP: Service = msgspec.field(default_factory=Service)
    IMAPS: Service = msgspec.field(default_factory=Service)
    WebAPIHTTP: WebService = msgspec.field(default_factory=WebService)
    WebAPIHTTPS: WebService = msgspec.field(default_factory=WebService)


class DKIMSelector(msgspec.Struct, forbid_unknown_fields=True):
    """One DKIM key; its public half is published at SELECTOR._domainkey.DOMAIN."""

    PrivateKeyFile: str  # PKCS#8 PEM, RSA or ed25519; relative to the config file
    Headers: list[str] = msgspec.field(default_factory=list)  # header fields to sign; empty: a sensible default set


class DKIM(msgspec.Struct, forbid_unknown_fields=True):
    Selectors: dict[str, DKIMSelector] = msgspec.field(default_factory=dict)
    Sign: list[str] = msgspec.field(default_factory=list)  # selectors outgoing mail is signed with


class ReportsAddress(msgspec.Struct, forbid_unknown_fields=True):
    """Where the reports a domain asks for in DNS arrive (mox's DMARC and TLSRPT sections)."""

    Localpart: str  # the address is LOCALPART@domain, as published in the DNS record's rua=
    Account: str  # account the reports are delivered to
    Mailbox: str = ""  # empty: Inbox


class Domain(msgspec.Struct, forbid_unknown_fields=True):
    LocalpartCatchallSeparator: str = "+"  # addresses local+anything@domain reach local@domain
    DKIM: DKIM = msgspec.field(default_factory=DKIM)
    DMARC: ReportsAddress | None = None  # RFC 7489 7.2: aggregate reports (rua= of _dmarc)
    TLSRPT: ReportsAddress | None = None  # RFC 8460 3: TLS reports (rua= of _smtp._tls)


class Postmaster(msgspec.Struct, forbid_unknown_fields=True):
    """RFC 5321 4.5.1: every domain and the host itself must take mail for postmaster."""

    Account: str  # gets postmaster@ every domain without its own postmaster address, and of the host name
    Mailbox: str = ""  # empty: Inbox


class OutgoingWebhook(msgspec.Struct, forbid_unknown_fields=True):
    URL: str = ""
    Authorization: str = ""  # sent as the Authorization header, e.g. "Basic ..."
    Events: list[str] = msgspec.field(default_factory=list)  # empty: all events


class IncomingWebhook(msgspec.Struct, forbid_unknown_fields=True):
    URL: str = ""
    Authorization: str = ""


# Outgoing delivery events (mox's list; the queue's queue.events.EVENTS), and the events of an account's
# change log (store.CHANGE_EVENTS).
OUTGOING_WEBHOOK_EVENTS = ("delivered", "suppressed", "delayed", "failed", "relayed", "expanded", "canceled",
                           "unrecognized")
CHANGE_WEBHOOK_EVENTS = ("messageNew", "messageDeleted", "messageUpdated", "mailboxNew", "mailboxDeleted",
                         "mailboxRenamed")


class ChangeWebhook(msgspec.Struct, forbid_unknown_fields=True):
    URL: str = ""
    Authorization: str = ""
    Events: list[str] = msgspec.field(default_factory=list)  # empty: all of CHANGE_WEBHOOK_EVENTS


class Destination(msgspec.Struct, forbid_unknown_fields=True):
    Mailbox: str = ""  # mailbox for incoming mail; empty: Inbox


class Account(msgspec.Struct, forbid_unknown_fields=True):
    Domain: str  # default domain of the account
    FullName: str = ""  # display name used in From when a Send does not give one
    PasswordHash: str = ""  # argon2id hash, set with `mox.py account passwd`
    # SCRAM-SHA-256 verifier ("iterations:salt:storedkey:serverkey"), set together with
    # PasswordHash; empty: SCRAM-SHA-256 logins fail, PLAIN and LOGIN still work.
    SCRAMSHA256: str = ""
    # Addresses that deliver into this account: "user@domain", or "@domain" for a catchall.
    Destinations: dict[str, Destination] = msgspec.field(default_factory=dict)
    # Login addresses whose outgoing mail gets a unique MAIL FROM (localpart+ID@domain) per recipient.
    FromIDLoginAddresses: list[str] = msgspec.field(default_factory=list)
    KeepRetiredMessagePeriod: float = 0.0  # seconds retired queue entries are kept
    KeepRetiredWebhookPeriod: float = 0.0  # seconds retired webhooks are kept
    MaxOutgoingMessagesPerDay: int = 1000  # 0: unlimited
    MaxFirstTimeRecipientsPerDay: int = 200  # 0: unlimited
    OutgoingWebhook: OutgoingWebhook | None = None
    IncomingWebhook: IncomingWebhook | None = None
    ChangeWebhook: ChangeWebhook | None = None  # every change to the account's mailboxes and messages
    # Seconds the account's change log is kept, for ChangesSince and change webhooks; a cursor older fails.
    ChangesRetention: float = 30 * 24 * 3600.0


class Queue(msgspec.Struct, forbid_unknown_fields=True):
    # First retry interval after a temporary failure in seconds; doubles each attempt.
    BackoffFirst: float = 450.0
    MaxAttempts: int = 8
    Concurrency: int = 32  # deliveries in flight at once
    # Of those, at most this many to one recipient domain with direct delivery, so that a burst to one
    # destination stays within what its servers accept from one address (Postfix's default is 20, mox's
    # and our listener's cap is 30 connections per address); 0: no cap but Concurrency.
    DestinationConcurrency: int = 20
    # How outgoing mail leaves: "local" hands everything to our own SMTP listener
    # (localserve's default); "direct" looks up the recipient domain's MX hosts
    # and delivers there (the default otherwise).
    Delivery: str = ""
    SMTPPort: int = 25  # port direct delivery connects to on MX hosts; only changed for testing
    # PEM file with CA certificates trusted, besides the system's, when REQUIRETLS needs a verified certificate.
    TLSCAFile: str = ""
    # Wait after a webhook's first failed attempt; later waits follow the schedule
    # 1m, 2m, 4m, 7.5m, 15m, 30m, 1h, 2h, 4h, 8h, 16h scaled to it. Shortened in tests.
    WebhookRetryFirst: float = 60.0


class DNS(msgspec.Struct, forbid_unknown_fields=True):
    # Resolvers as "ip" or "ip:port" ("[ipv6]:port"); empty: the system's (/etc/resolv.conf).
    Nameservers: list[str] = msgspec.field(default_factory=list)
    Timeout: float = 10.0  # seconds for one lookup, retries included


class Metrics(msgspec.Struct, forbid_unknown_fields=True):
    """GET /metrics on the webapi's HTTP listeners, in the Prometheus text format (docs/operations.md)."""

    Enabled: bool = False  # localserve turns it on
    PerAccount: bool = False  # also each account's message count and size, one series per account
    # Basic auth for /metrics: a user name, and a file whose first line is the password's argon2id hash
    # (relative to the config file; `mox.py passwordhash` makes it). Both empty: no auth.
    Username: str = ""
    PasswordFile: str = ""


class OAuth(msgspec.Struct, forbid_unknown_fields=True):
    """OAuth 2.0 client credentials: POST /oauth/token on the webapi's HTTP listeners (docs/webapi.md)."""

    # Seconds an access token is valid; a retired signing key is published and verifies this long after.
    TokenLifetime: float = 3600.0
    # The iss claim of access tokens; their aud is this followed by /webapi. Empty: https://Hostname.
    Issuer: str = ""


class Newsletter(msgspec.Struct, forbid_unknown_fields=True):
    """Mailing lists: their member endpoints under /newsletter/ and send jobs under /api/send-jobs."""

    # Where the links in confirmation and list messages point: the webapi listener's URL as the
    # recipients' browsers reach it, without a path. Empty: https://Hostname (in localserve, the
    # listener's http://localhost:PORT).
    BaseURL: str = ""
    # Messages a send job queues per minute, at most.
    SendRatePerMinute: int = 600


STORAGES = ("sqlite", "postgresql")


class PostgreSQL(msgspec.Struct, forbid_unknown_fields=True):
    """The database of Storage = "postgresql", which any number of nodes may share."""

    # A libpq connection string ("host=db.example.org dbname=mox user=mox") or URI
    # ("postgresql://mox@db.example.org/mox"). Rather no password in it: see PasswordFile.
    DSN: str = ""
    # A file whose first line is the password (relative to the config file). Empty: none, or what
    # libpq finds itself (PGPASSWORD, ~/.pgpass).
    PasswordFile: str = ""
    # Seconds a node's claim on a queue entry or webhook it attempts holds unless the node renews it (it
    # does every third of it): after a node died, others take its work over within about this long.
    ClaimLease: float = 60.0
    # Read connections each process keeps open at most, shared by the server database and every account
    # (a pool); each of these has one writing connection besides.
    ReadConnections: int = 8


class Config(msgspec.Struct, forbid_unknown_fields=True):
    Hostname: str = "localhost"
    DataDir: str = "data"  # relative to the directory of the config file
    LogLevel: str = "info"  # one of LOG_LEVELS
    MaxMessageSize: int = 100 * 1024 * 1024
    # localserve: accept mail for every address, deliver all outgoing mail to ourselves.
    Localserve: bool = False
    # Open connections a listening service holds per remote address; 0: 30, or 1000 in localserve.
    MaxConnectionsPerIP: int = 0
    # Processes the server runs as: 1, or 2 (the webapi, IMAP, the queue and webhooks in one; the SMTP
    # listeners in the other); 0: one while the load is light, and a second one started under load, when
    # the server may use two cores or more (else 1).
    Processes: int = 0
    # With Processes = 0: the CPU (in cores) the server's first process uses, for two seconds on end, at
    # which the second is started.
    SecondProcessLoad: float = 0.6
    # With Processes = 0: the seconds both processes together use under half of SecondProcessLoad, on
    # end, after which the second process ends (the first takes its work back).
    SecondProcessQuiet: float = 60.0
    # Where mailboxes, messages, the queue and webhooks are kept: "sqlite" (files under DataDir, the
    # default) or "postgresql" (the database of PostgreSQL.DSN, which several nodes may share).
    Storage: str = "sqlite"
    PostgreSQL: PostgreSQL = msgspec.field(default_factory=PostgreSQL)
    Postmaster: Postmaster | None = None
    Queue: Queue = msgspec.field(default_factory=Queue)
    DNS: DNS = msgspec.field(default_factory=DNS)
    Metrics: Metrics = msgspec.field(default_factory=Metrics)
    OAuth: OAuth = msgspec.field(default_factory=OAuth)
    Newsletter: Newsletter = msgspec.field(default_factory=Newsletter)
    # The admin login of the webapi's account administration methods (basic auth with user name "admin"):
    # a file whose first line is the password's argon2id hash (relative to the config file; `mox.py
    # passwordhash` makes it). Empty: no admin login, except in localserve, whose admin password is moxadmin.
    AdminPasswordFile: str = ""
    # The domain of the address of an account created by the webapi's AccountCreate with a name without "@"
    # (NAME@DefaultDomain); one of Domains. Empty: such names are refused. localserve: localhost.
    DefaultDomain: str = ""
    Listeners: dict[str, Listener] = msgspec.field(default_factory=dict)
    Domains: dict[str, Domain] = msgspec.field(default_factory=dict)
    Accounts: dict[str, Account] = msgspec.field(default_factory=dict)

    # Set when loaded; not part of the file.
    path: str = ""

    def data_dir(self) -> str:
        return self.resolve(self.DataDir)

    def resolve(self, path: str) -> str:
        """A path from the config, relative to the config file's directory."""
        return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(self.path)), path))


class ConfigError(Exception):
    pass


def locate(path: str = "", directory: str = "") -> str:
    """The config file a command works on: the given path; DIR/config/mox.toml for
    a localserve directory; else config/mox.toml, then localserve/config/mox.toml
    under the current directory."""
    if path:
        return path
    if directory:
        return os.path.join(directory, "config", CONFIG_FILE)
    candidates = [os.path.join("config", CONFIG_FILE), os.path.join("localserve", "config", CONFIG_FILE)]
    return next((c for c in candidates if os.path.exists(c)), candidates[0])


def load(path: str) -> Config:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ConfigError(f"reading config: {e}") from e
    try:
        config = msgspec.toml.decode(data, type=Config)
    except msgspec.DecodeError as e:
        raise ConfigError(f"{path}: {e}") from e
    config.path = path
    validate(config)
    return config


def validate(config: Config) -> None:
    if config.LogLevel not in LOG_LEVELS:
        raise ConfigError(f"LogLevel: {config.LogLevel!r} is not a log level; one of: {', '.join(LOG_LEVELS)}")
    if config.MaxConnectionsPerIP < 0:
        raise ConfigError(f"MaxConnectionsPerIP: {config.MaxConnectionsPerIP} must be 0 (the default) or more")
    if config.Processes not in (0, 1, 2):
        raise ConfigError(f"Processes: {config.Processes} must be 0 (automatic, the default), 1 or 2")
    if not 0 <= config.SecondProcessLoad <= 2:
        raise ConfigError(f"SecondProcessLoad: {config.SecondProcessLoad} must be from 0 to 2 (cores)")
    if not config.SecondProcessQuiet > 0:
        raise ConfigError(f"SecondProcessQuiet: {config.SecondProcessQuiet} must be more than 0 seconds")
    if config.Storage not in STORAGES:
        raise ConfigError(f"Storage: {config.Storage!r} must be \"sqlite\" or \"postgresql\"")
    if config.Storage == "postgresql" and not config.PostgreSQL.DSN:
        raise ConfigError("PostgreSQL.DSN: needed with Storage = \"postgresql\", e.g. \"host=localhost dbname=mox\"")
    if not config.PostgreSQL.ClaimLease >= 1:
        raise ConfigError(f"PostgreSQL.ClaimLease: {config.PostgreSQL.ClaimLease} must be 1 second or more")
    if config.PostgreSQL.ReadConnections < 1:
        raise ConfigError(f"PostgreSQL.ReadConnections: {config.PostgreSQL.ReadConnections} must be 1 or more")
    if config.Queue.DestinationConcurrency < 0:
        raise ConfigError(f"Queue.DestinationConcurrency: {config.Queue.DestinationConcurrency} must be 0 (no cap) or more")
    if config.Queue.Delivery not in ("", "local", "direct"):
        raise ConfigError(f"Queue.Delivery: {config.Queue.Delivery!r} must be \"local\" or \"direct\"")
    for name, account in config.Accounts.items():
        for kind, hook, events in (("OutgoingWebhook", account.OutgoingWebhook, OUTGOING_WEBHOOK_EVENTS),
                                   ("IncomingWebhook", account.IncomingWebhook, ()),
                                   ("ChangeWebhook", account.ChangeWebhook, CHANGE_WEBHOOK_EVENTS)):
            if hook is not None:
                _check_webhook(f"account {name}: {kind}", hook, events)
        if not account.ChangesRetention > 0:
            raise ConfigError(f"account {name}: ChangesRetention: {account.ChangesRetention} must be more than 0 seconds")
        if account.Domain not in config.Domains:
            raise ConfigError(f"account {name}: domain {account.Domain!r} not configured in Domains")
        for address in account.Destinations:
            domain = address.rpartition("@")[2]
            if "@" not in address or domain not in config.Domains:
                raise ConfigError(f"account {name}: destination {address!r} must be user@domain or @domain of a configured domain")
    if not 0 < config.OAuth.TokenLifetime <= 24 * 3600:
        raise ConfigError(f"OAuth: TokenLifetime: {config.OAuth.TokenLifetime} must be more than 0 and at most "
                          "86400 seconds (a day)")
    if config.Newsletter.SendRatePerMinute < 1:
        raise ConfigError(f"Newsletter: SendRatePerMinute: {config.Newsletter.SendRatePerMinute} must be at least 1")
    if config.Newsletter.BaseURL and not config.Newsletter.BaseURL.startswith(("https://", "http://")):
        raise ConfigError(f"Newsletter: BaseURL: {config.Newsletter.BaseURL!r} must start with https:// or http://")
    if config.DefaultDomain and config.DefaultDomain not in config.Domains:
        raise ConfigError(f"DefaultDomain: {config.DefaultDomain!r} not configured in Domains")
    if bool(config.Metrics.Username) != bool(config.Metrics.PasswordFile):
        raise ConfigError("Metrics: Username and PasswordFile go together: set both for basic auth, or neither")
    if config.Postmaster and config.Postmaster.Account not in config.Accounts:
        raise ConfigError(f"Postmaster: account {config.Postmaster.Account!r} not configured in Accounts")
    for name, domain in config.Domains.items():
        for field in ("DMARC", "TLSRPT"):
            reports = getattr(domain, field)
            if reports and reports.Account not in config.Accounts:
                raise ConfigError(f"domain {name}: {field}: account {reports.Account!r} not configured in Accounts")
            if reports and (not reports.Localpart or "@" in reports.Localpart):
                raise ConfigError(f"domain {name}: {field}: Localpart {reports.Localpart!r} must be a localpart")
        for selector in domain.DKIM.Sign:
            if selector not in domain.DKIM.Selectors:
                raise ConfigError(f"domain {name}: DKIM: signing selector {selector!r} not in Selectors")
    for name, listener in config.Listeners.items():
        for service_name in ("SMTP", "Submission", "Submissions", "IMAP", "IMAPS", "WebAPIHTTP", "WebAPIHTTPS"):
            service = getattr(listener, service_name)
            if service.Enabled and not 0 < service.Port < 65536:
                raise ConfigError(f"listener {name}: {service_name}: invalid port {service.Port}")


def _check_webhook(where: str, hook: OutgoingWebhook | IncomingWebhook | ChangeWebhook, events: tuple[str, ...]
                   ) -> None:
    """As mox checks webhooks: an http or https URL with a host, and only known events."""
    try:
        url = urllib.parse.urlsplit(hook.URL)
        valid = url.scheme in ("http", "https") and bool(url.hostname)
    except ValueError:
        valid = False
    if not valid:
        raise ConfigError(f"{where}: URL {hook.URL!r} must be an http or https URL")
    for event in getattr(hook, "Events", []):
        if event not in events:
            raise ConfigError(f"{where}: unknown event {event!r}; one of: {', '.join(events)}")


def dumps(config: Config) -> bytes:
    data = _drop_none(msgspec.to_builtins(config))
    data.pop("path", None)
    return msgspec.toml.encode(data)


def _drop_none(value):
    """TOML has no null: unset optional sections are left out."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def save(config: Config, path: str | None = None) -> None:
    """Write the config atomically: a temporary file in the same directory, then rename."""
    path = path or config.path
    data = dumps(config)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".mox.toml.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(HEADER.encode())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    config.path = path



class Source:
    """The config a running server works from, handed to every long-lived
    component as its first argument.

    current() is the config as last loaded. When the file has been replaced
    since, it is loaded again first, so the settings that apply at once (see
    HEADER) do; a new file that does not load is logged and the previous
    config kept. With reload=False (command-line tools, tests) the config
    given is always the one returned.
    """

    def __init__(self, config: Config, *, reload: bool = True):
        self._config = config
        self._reload = reload and bool(config.path)
        self._stamp = _file_stamp(config.path) if self._reload else None

    def current(self) -> Config:
        if not self._reload:
            return self._config
        stamp = _file_stamp(self._config.path)
        if stamp is not None and stamp != self._stamp:
            self._stamp = stamp
            try:
                config = load(self._config.path)
            except ConfigError as e:
                _log.error("config changed but is invalid, keeping the previous one: %s", e)
            else:
                _log.info("config reloaded path=%s", self._config.path)
                self._config = config
        return self._config


def _file_stamp(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size

HEADER = """\
# moxpy configuration. Field names follow mox's config where they exist.
# Durations are in seconds.
#
# A running server rereads this file when it changes, whether edited by hand
# or by `mox.py account|address|domain`; a file with an error is not used
# (the server logs the error and keeps the previous one).
# Applied at once: Accounts (passwords, addresses, webhooks, send limits, change log retention),
# Domains (addresses, catchall separator, DKIM keys and signing, DMARC and
# TLSRPT report addresses), Postmaster, DefaultDomain, OAuth, Newsletter, SecondProcessLoad,
# SecondProcessQuiet, and Queue.BackoffFirst, Queue.MaxAttempts, Queue.Concurrency,
# Queue.DestinationConcurrency, Queue.WebhookRetryFirst.
# Applied only at start, so restart after changing: Listeners (IPs, ports,
# TLS certificates, Hostname), Hostname, DataDir, LogLevel, MaxMessageSize,
# Localserve, MaxConnectionsPerIP, Processes, Storage, PostgreSQL, DNS, Metrics (its password
# file too), AdminPasswordFile (and the file), and Queue.Delivery,
# Queue.SMTPPort, Queue.TLSCAFile.
#
# Per-account webhooks (see docs/webapi.md), for example:
#
#   [Accounts.mox.OutgoingWebhook]
#   URL = "http://localhost:8000/hooks/outgoing"
#   Authorization = "Basic dXNlcjpwYXNz"
#   Events = []   # empty: all of delivered, suppressed, delayed, failed,
#                 # relayed, expanded, canceled, unrecognized
#
#   [Accounts.mox.IncomingWebhook]
#   URL = "http://localhost:8000/hooks/incoming"
#   Authorization = ""
#
#   [Accounts.mox.ChangeWebhook]
#   URL = "http://localhost:8000/hooks/changes"
#   Authorization = ""
#   Events = []   # empty: all of messageNew, messageDeleted, messageUpdated,
#                 # mailboxNew, mailboxDeleted, mailboxRenamed

"""


def login_account(config: Config, address: str) -> str | None:
    """The account an address logs in to: one of its explicit destinations (not a catchall)."""
    address = address.strip()
    local, _, domain = address.rpartition("@")
    key = f"{local}@{domain.lower()}"
    for name, account in config.Accounts.items():
        for dest in account.Destinations:
            if not dest.startswith("@") and dest.lower() == key.lower():
                return name
    return None


def delivery_account(config: Config, address: str, localserve_fallback: bool = True) -> tuple[str, str] | None:
    """(account, mailbox) that mail for address goes to, or None when nobody takes it.

    Tried in order, as in mox: postmaster of the host name (the Postmaster
    account); the exact address; the domain's DMARC and TLS report addresses;
    the localpart cut at the domain's catchall separator; the domain
    catchall "@domain"; postmaster of the domain (the Postmaster account);
    in localserve, the first account (every address is accepted).
    """
    local, _, domain = address.strip().rpartition("@")
    domain = domain.lower()
    postmaster = config.Postmaster if local.lower() == "postmaster" else None
    if postmaster and domain in host_names(config):
        return postmaster.Account, postmaster.Mailbox or "Inbox"
    dom = config.Domains.get(domain)
    base = local
    if dom and dom.LocalpartCatchallSeparator and dom.LocalpartCatchallSeparator in local:
        base = local.split(dom.LocalpartCatchallSeparator, 1)[0]
    candidates = [f"{local}@{domain}"]
    if base != local:
        candidates.append(f"{base}@{domain}")
    candidates.append(f"@{domain}")
    for index, candidate in enumerate(candidates):
        for name, account in config.Accounts.items():
            for dest, destination in account.Destinations.items():
                if dest.lower() == candidate.lower():
                    return name, destination.Mailbox or "Inbox"
        if index == 0 and dom:
            for reports in (dom.DMARC, dom.TLSRPT):
                if reports and base.lower() == reports.Localpart.lower():
                    return reports.Account, reports.Mailbox or "Inbox"
    if postmaster and dom:
        return postmaster.Account, postmaster.Mailbox or "Inbox"
    if localserve_fallback and config.Localserve and config.Accounts:
        return next(iter(config.Accounts)), "Inbox"
    return None


def host_names(config: Config) -> set[str]:
    """The server's own names: Hostname and those of the listeners, lower case."""
    return {name.lower().rstrip(".") for name in [config.Hostname] + [l.Hostname for l in config.Listeners.values()]
            if name}


def may_send_as(config: Config, account: str, address: str) -> bool:
    """Whether an account may use address as its From or SMTP MAIL FROM: an
    address that delivers to the account (catchall separator and "@domain"
    destinations included, localserve's accept-everything excluded)."""
    found = delivery_account(config, address, localserve_fallback=False)
    return found is not None and found[0] == account
