"""The configuration localserve generates on first start.

One domain (localhost), one account (mox) with login mox@localhost and
password moxmoxmox, the admin password moxadmin, one loopback listener on
the usual ports + 1000, and metrics at /metrics of its webapi ports.
The file is written once, with a self-signed certificate for localhost and
DKIM keys; later starts use it as the operator left it. What localserve
does with it (accepting every address, failures on request) is the
listeners' business, not this module's.
"""

from __future__ import annotations

import os

from ..config import (DNS, TLS, CONFIG_FILE, Account, Config, Destination, Domain, Listener, Metrics, Service, WebService,
                      load, save)

ADDRESS = "mox@localhost"
PASSWORD = "moxmoxmox"
ADMIN_PASSWORD = "moxadmin"  # as mox's localserve
ADMIN_PASSWORD_FILE = "adminpasswd"  # beside the config file, its argon2id hash
HOUR = 3600.0

# Default ports: the usual ones plus 1000.
PORTS = {
    "SMTP": 1025,
    "Submission": 1587,
    "Submissions": 1465,
    "IMAP": 1143,
    "IMAPS": 1993,
    "WebAPIHTTP": 1080,
    "WebAPIHTTPS": 1443,
}


def config_path(directory: str) -> str:
    return os.path.join(directory, "config", CONFIG_FILE)


def default_config(ports: dict[str, int] | None = None) -> Config:
    from .. import auth, scram  # hashing the password is done once, when the config is made

    ports = {**PORTS, **(ports or {})}
    listener = Listener(
        IPs=["127.0.0.1"],
        TLS=TLS(CertFile="localhost.crt", KeyFile="localhost.key"),
        SMTP=Service(True, ports["SMTP"]),
        Submission=Service(True, ports["Submission"]),
        Submissions=Service(True, ports["Submissions"]),
        IMAP=Service(True, ports["IMAP"]),
        IMAPS=Service(True, ports["IMAPS"]),
        WebAPIHTTP=WebService(True, ports["WebAPIHTTP"]),
        WebAPIHTTPS=WebService(True, ports["WebAPIHTTPS"]),
    )
    account = Account(
        Domain="localhost",
        FullName="mox",
        PasswordHash=auth.hash_password(PASSWORD),
        SCRAMSHA256=scram.make_verifier(PASSWORD),
        Destinations={ADDRESS: Destination()},
        KeepRetiredMessagePeriod=72 * HOUR,
        KeepRetiredWebhookPeriod=72 * HOUR,
        MaxOutgoingMessagesPerDay=0,
        MaxFirstTimeRecipientsPerDay=0,
    )
    return Config(
        Hostname="localhost",
        DataDir="../data",
        Localserve=True,
        # Checks of incoming mail look up other domains in DNS; keep an offline laptop responsive.
        DNS=DNS(Timeout=3.0),
        # Prometheus metrics at /metrics of the webapi's listeners, without a password, as the webapi pages.
        Metrics=Metrics(Enabled=True, PerAccount=True),
        AdminPasswordFile=ADMIN_PASSWORD_FILE,
        DefaultDomain="localhost",  # AccountCreate of "bob" makes bob@localhost
        Listeners={"local": listener},
        Domains={"localhost": Domain(LocalpartCatchallSeparator="+")},
        Accounts={"mox": account},
    )


def ensure(directory: str, ports: dict[str, int] | None = None) -> tuple[Config, bool]:
    """Load DIR/config/mox.toml, creating it first if missing; return (config, created)."""
    path = config_path(directory)
    created = not os.path.exists(path)
    if created:
        create(path, ports)
    return load(path), created


def create(path: str, ports: dict[str, int] | None = None) -> None:
    """Write the config file at path, with a new certificate and DKIM keys beside it."""
    # Done once, at the first start: later starts do not load cryptography for it.
    from .certificate import generate_self_signed
    from .dkimkeys import generate_domain_keys

    config_dir = os.path.dirname(path)
    os.makedirs(config_dir, exist_ok=True)
    generate_self_signed(os.path.join(config_dir, "localhost.crt"), os.path.join(config_dir, "localhost.key"))
    config = default_config(ports)
    from .. import auth

    with open(os.path.join(config_dir, ADMIN_PASSWORD_FILE), "w", encoding="utf-8") as f:
        f.write(auth.hash_password(ADMIN_PASSWORD) + "\n")
    # Mail from the account is DKIM-signed, and verifies when the queue delivers it back to us.
    # Both keys are made, but localserve signs with ed25519 only (as mox's localserve does):
    # RSA signing costs about 8 ms of CPU per message in dkimpy, a third of a Send. Add the
    # RSA selector to Sign to try RSA signatures.
    dkim = generate_domain_keys(config_dir, "localhost")
    dkim.Sign = [name for name in dkim.Sign if "ed25519" in dkim.Selectors[name].PrivateKeyFile]
    config.Domains["localhost"].DKIM = dkim
    save(config, path)
