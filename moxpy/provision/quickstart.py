"""quickstart: a config for running a real domain, and what to publish in DNS.

Creates DIR/config/mox.toml for one domain and one account (with the
domain's postmaster and report addresses), DKIM keys for the domain and a
self-signed certificate to replace with a real one, and gives the DNS
records and client settings as lines for the command to print. The
listeners use the standard ports on all addresses; `mox serve` runs it.
It neither publishes DNS records nor obtains a certificate.
"""

from __future__ import annotations

import os

from ..config import TLS, Config, ConfigError, Destination, Listener, Postmaster, Service, WebService, load
from ..config import Account as AccountConfig
from ..message import dkim
from ..message.address import parse_address, parse_domain
from .certificate import generate_self_signed
from .edit import generate_password, new_domain, set_password

DAY = 24 * 3600.0


def create(directory: str, address: str, hostname: str = "", password: str = "") -> tuple[Config, str]:
    """Write a new config under directory; return it and the account's password."""
    addr = parse_address(address)
    domain = addr.domain
    hostname = parse_domain(hostname)[0] if hostname else f"mail.{addr.ascii_domain}"
    config_dir = os.path.join(directory, "config")
    path = os.path.join(config_dir, "mox.toml")
    if os.path.exists(path):
        raise ConfigError(f"{path} already exists; not overwriting it")
    os.makedirs(config_dir, exist_ok=True)
    generate_self_signed(os.path.join(config_dir, "tls.crt"), os.path.join(config_dir, "tls.key"), hostname)
    listener = Listener(
        IPs=["0.0.0.0", "::"],
        Hostname=hostname,
        TLS=TLS(CertFile="tls.crt", KeyFile="tls.key"),
        SMTP=Service(True, 25),
        Submission=Service(True, 587),
        Submissions=Service(True, 465),
        IMAP=Service(True, 143),
        IMAPS=Service(True, 993),
        WebAPIHTTP=WebService(False, 80),
        WebAPIHTTPS=WebService(True, 443),
    )
    account_name = addr.localpart.lower()
    config = Config(
        Hostname=hostname,
        DataDir="../data",
        Listeners={"public": listener},
        # The addresses the DNS records below point at, and postmaster (RFC 5321
        # 4.5.1), go to the account, as in mox's quickstart.
        Postmaster=Postmaster(Account=account_name),
        DefaultDomain=domain,  # the webapi's AccountCreate of a name without "@" makes NAME@domain
        Domains={domain: new_domain(config_dir, domain, account_name)},
        Accounts={account_name: AccountConfig(
            Domain=domain, FullName="", Destinations={str(addr): Destination()},
            KeepRetiredMessagePeriod=7 * DAY, KeepRetiredWebhookPeriod=7 * DAY)},
    )
    config.path = path
    password = password or generate_password()
    set_password(config, account_name, password)  # validates and saves
    return load(path), password


def dns_records(config: Config) -> list[str]:
    """Zone-file lines to publish for every configured domain. The host's
    addresses are documentation examples (RFC 5737, RFC 3849) to replace."""
    host = config.Hostname
    lines = [";; The mail server's own name (replace the addresses with this machine's public IPs):",
             f"{host}.  A     192.0.2.10",
             f"{host}.  AAAA  2001:db8::10",
             f"{host}.  TXT   \"v=spf1 a -all\""]
    for domain, domain_config in config.Domains.items():
        ascii_domain = parse_domain(domain)[1]
        # Reports are asked for only where an account takes them.
        dmarc = domain_config.DMARC
        rua = f"; rua=mailto:{dmarc.Localpart}@{ascii_domain}" if dmarc else ""
        lines += ["", f";; Domain {domain}:",
                  f"{ascii_domain}.  MX  10 {host}.",
                  f"{ascii_domain}.  TXT \"v=spf1 mx -all\"",
                  f"_dmarc.{ascii_domain}.  TXT \"v=DMARC1; p=reject{rua}\""]
        for key in dkim.selector_keys(config, domain):
            record = key.dns_record()
            # TXT strings are at most 255 octets (RFC 1035 3.3.14): split long RSA keys.
            parts = " ".join(f'"{record[i:i + 255]}"' for i in range(0, len(record), 255))
            lines.append(f"{key.selector}._domainkey.{ascii_domain}.  TXT {parts}")
        tlsrpt = domain_config.TLSRPT
        lines += [";; Optional: TLS reports and client autoconfiguration (RFC 8460, RFC 6186)."]
        if tlsrpt:
            lines.append(f"_smtp._tls.{ascii_domain}.  TXT \"v=TLSRPTv1; rua=mailto:{tlsrpt.Localpart}@{ascii_domain}\"")
        lines += [f"_submissions._tcp.{ascii_domain}.  SRV 0 1 465 {host}.",
                  f"_submission._tcp.{ascii_domain}.  SRV 0 1 587 {host}.",
                  f"_imaps._tcp.{ascii_domain}.  SRV 0 1 993 {host}.",
                  f"_imap._tcp.{ascii_domain}.  SRV 0 1 143 {host}."]
    return lines


def client_settings(config: Config, address: str) -> list[str]:
    host = config.Hostname
    return [
        f"IMAP:       {host}, port 993 with TLS (or 143 with STARTTLS), user {address}",
        f"Submission: {host}, port 465 with TLS (or 587 with STARTTLS), user {address}, AUTH PLAIN/LOGIN/SCRAM-SHA-256",
        f"webapi:     https://{host}/webapi/v0/ with HTTP basic auth {address}",
    ]
