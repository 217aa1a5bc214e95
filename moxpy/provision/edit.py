"""Editing a config's accounts, addresses, domains and passwords, as the
`mox account|address|domain` commands do.

Each change works on a loaded config, checks the result as a whole and
writes it back atomically (temporary file, fsync, rename). A running
server notices the new file on its next use of the config, so changes,
password changes included, take effect at once without a restart. Names
are checked and put in canonical form here; passwords are hashed with
auth.py; a new domain gets DKIM keys from dkimkeys.py. It prints nothing:
the command line (cli/accounts.py) reports what was done.
"""

from __future__ import annotations

import os
import re
import secrets

from .. import auth, scram
from ..config import Account, Config, ConfigError, Destination, Domain, ReportsAddress, save, validate
from ..message.address import AddressError, parse_address, parse_domain
from .dkimkeys import generate_domain_keys

_ACCOUNT_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$")

DMARC_LOCALPART = "dmarc-reports"  # rua= of the _dmarc record
TLSRPT_LOCALPART = "tls-reports"  # rua= of the _smtp._tls record


def generate_password() -> str:
    """A random password that is easy to type: 4 groups of 4 letters and digits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def _address(text: str) -> str:
    """A destination address in canonical form: local@domain (domain lower case), or @domain."""
    text = text.strip()
    if text.startswith("@"):
        try:
            return "@" + parse_domain(text[1:])[0]
        except AddressError as e:
            raise ConfigError(str(e)) from None
    try:
        return str(parse_address(text))
    except AddressError as e:
        raise ConfigError(str(e)) from None


def _domain(text: str) -> str:
    try:
        return parse_domain(text)[0]
    except AddressError as e:
        raise ConfigError(str(e)) from None


def _commit(config: Config) -> None:
    validate(config)
    save(config)


def set_password(config: Config, account: str, password: str) -> None:
    if account not in config.Accounts:
        raise ConfigError(f"no account {account!r}")
    if len(password) < 8:
        raise ConfigError("password must be at least 8 characters")
    acc = config.Accounts[account]
    acc.PasswordHash = auth.hash_password(password)
    acc.SCRAMSHA256 = scram.make_verifier(password)
    _commit(config)


def add_account(config: Config, name: str, address: str, password: str | None = None,
                full_name: str = "") -> str:
    """Add an account with its first address; return its password (generated when not given)."""
    if not _ACCOUNT_NAME.match(name):
        raise ConfigError(f"invalid account name {name!r}: letters, digits, '.', '_' and '-'")
    if name in config.Accounts:
        raise ConfigError(f"account {name!r} already exists")
    address = _address(address)
    if address.startswith("@"):
        raise ConfigError("the first address of an account must be a full address, its login")
    domain = address.rpartition("@")[2]
    if domain not in config.Domains:
        raise ConfigError(f"domain {domain!r} is not configured; add it first with `mox.py domain add`")
    _check_free(config, address)
    password = password or generate_password()
    config.Accounts[name] = Account(Domain=domain, FullName=full_name, Destinations={address: Destination()})
    set_password(config, name, password)  # validates and saves
    return password


def delete_account(config: Config, name: str) -> None:
    """Remove an account from the config. Its stored mail stays in the data directory."""
    if name not in config.Accounts:
        raise ConfigError(f"no account {name!r}")
    del config.Accounts[name]
    _commit(config)


def add_address(config: Config, address: str, account: str) -> str:
    if account not in config.Accounts:
        raise ConfigError(f"no account {account!r}")
    address = _address(address)
    domain = address.rpartition("@")[2]
    if domain not in config.Domains:
        raise ConfigError(f"domain {domain!r} is not configured; add it first with `mox.py domain add`")
    _check_free(config, address)
    config.Accounts[account].Destinations[address] = Destination()
    _commit(config)
    return address


def delete_address(config: Config, address: str) -> None:
    address = _address(address)
    for name, acc in config.Accounts.items():
        for dest in list(acc.Destinations):
            if dest.lower() == address.lower():
                if len(acc.Destinations) == 1:
                    raise ConfigError(f"{address} is the only address of account {name!r}; delete the account instead")
                del acc.Destinations[dest]
                _commit(config)
                return
    raise ConfigError(f"no address {address}")


def add_domain(config: Config, domain: str, account: str = "", localpart: str = "") -> str:
    """Add a domain with new DKIM keys; with account and localpart also its first address.

    The DMARC and TLS report addresses its DNS records name go to the
    account, else to the postmaster account, as in mox.
    """
    domain = _domain(domain)
    if domain in config.Domains:
        raise ConfigError(f"domain {domain!r} already exists")
    if account and account not in config.Accounts:
        raise ConfigError(f"no account {account!r}")
    config_dir = os.path.dirname(os.path.abspath(config.path))
    reports = account or (config.Postmaster.Account if config.Postmaster else "")
    config.Domains[domain] = new_domain(config_dir, domain, reports)
    if account:
        config.Accounts[account].Destinations[f"{localpart}@{domain}" if localpart else f"@{domain}"] = Destination()
    _commit(config)
    return domain


def new_domain(config_dir: str, domain: str, reports_account: str) -> Domain:
    """A domain's config section with new DKIM keys; its DMARC and TLS report
    addresses go to reports_account, and are left out without one."""
    return Domain(
        DKIM=generate_domain_keys(config_dir, domain),
        DMARC=ReportsAddress(DMARC_LOCALPART, reports_account) if reports_account else None,
        TLSRPT=ReportsAddress(TLSRPT_LOCALPART, reports_account) if reports_account else None)


def delete_domain(config: Config, domain: str) -> None:
    domain = _domain(domain)
    if domain not in config.Domains:
        raise ConfigError(f"no domain {domain!r}")
    users = [name for name, acc in config.Accounts.items()
             if acc.Domain == domain or any(d.rpartition("@")[2] == domain for d in acc.Destinations)]
    if users:
        raise ConfigError(f"domain {domain!r} is still used by accounts {', '.join(sorted(users))}")
    del config.Domains[domain]
    _commit(config)


def _check_free(config: Config, address: str) -> None:
    for name, acc in config.Accounts.items():
        if any(d.lower() == address.lower() for d in acc.Destinations):
            raise ConfigError(f"{address} already belongs to account {name!r}")
