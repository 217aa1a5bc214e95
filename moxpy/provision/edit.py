"""Editing a config's accounts, addresses, domains and passwords, as the
`mox account|address|domain` commands do.

Each change works on a loaded config, checks the result as a whole and
writes it back atomically (temporary file, fsync, rename). A running
server notices the new file on its next use of the config, so changes,
password changes included, take effect at once without a restart. Names
are checked and put in canonical form here; passwords are hashed with
auth.py; a new domain gets DKIM keys from dkimkeys.py. It prints nothing:
the command line (cli/accounts.py) and the webapi's account administration
(accountadmin.py) report what was done, and both go through edited(), so
that changes made at the same time are made one after the other.

Account names: letters, digits, ".", "_" and "-", or an email address
(an account made by the webapi's AccountCreate with an address as its
name is named by that address, domain in lower case).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
from collections.abc import Iterator

from .. import auth, scram
from ..config import Account, Config, ConfigError, Destination, Domain, ReportsAddress, load, save, validate
from ..message.address import AddressError, parse_address, parse_domain
from .dkimkeys import generate_domain_keys

_ACCOUNT_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$")
# The localpart of an account named by its address: it names a directory, so no "/" and no leading ".".
_ADDRESS_LOCALPART = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._+-]{0,63}$")

MIN_PASSWORD_LENGTH = 8  # as mox


class AccountExists(ConfigError):
    """The account, or the address it would get, exists already."""


class NoSuchAccount(ConfigError):
    """No account of that name."""


class UnknownDomain(ConfigError):
    """The address's domain is not one of the config's domains."""

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


@contextlib.contextmanager
def edited(path: str) -> Iterator[Config]:
    """The config at path, loaded afresh, for one change made with the functions below; other editors
    (the command line, the webapi's account administration, in any process) wait until it is written.
    The lock is an flock on the config's directory, which the atomic rewrite leaves in place."""
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield load(path)
    finally:
        os.close(fd)  # releases the lock


def check_password(password: str) -> None:
    """ConfigError, with a sentence saying why, for a password an account may not have."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ConfigError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if any(not c.isprintable() and c != " " for c in password):
        # SASL PLAIN separates its fields with NUL (RFC 4616 2); a terminal cannot type the others.
        raise ConfigError("password must not hold control characters")


def set_password(config: Config, account: str, password: str) -> None:
    if account not in config.Accounts:
        raise NoSuchAccount(f"no account {account!r}")
    check_password(password)
    acc = config.Accounts[account]
    acc.PasswordHash = auth.hash_password(password)
    acc.SCRAMSHA256 = scram.make_verifier(password)
    _commit(config)


def add_account(config: Config, name: str, address: str, password: str | None = None,
                full_name: str = "") -> str:
    """Add an account with its first address; return its password (generated when not given).

    The account's directory in the data directory must not exist: mail kept there from an earlier
    account of the name (`mox account del` keeps it) is not handed to a new one.
    """
    _check_account_name(name)
    if name in config.Accounts:
        raise AccountExists(f"account {name!r} already exists")
    address = _address(address)
    if address.startswith("@"):
        raise ConfigError("the first address of an account must be a full address, its login")
    domain = address.rpartition("@")[2]
    if domain not in config.Domains:
        raise UnknownDomain(f"domain {domain!r} is not configured; add it first with `mox.py domain add`")
    _check_free(config, address)
    if password is not None:
        check_password(password)
    from ..store import backend

    if backend.account_stored(config, name):
        raise ConfigError(f"the {storage_of(config)} still holds the mail of an earlier account {name!r} (in "
                          f"{kept_in(config, name)}): remove it (the webapi's AccountDelete does) or move it away "
                          "first, or choose another name")
    password = password or generate_password()
    config.Accounts[name] = Account(Domain=domain, FullName=full_name, Destinations={address: Destination()})
    set_password(config, name, password)  # validates and saves
    return password


def new_account_address(config: Config, name: str) -> tuple[str, str]:
    """(account name, address) of an account the webapi's AccountCreate makes from Name: a name with "@"
    is the address, and names the account too (domain in lower case); any other name gets the address
    NAME@DefaultDomain. ConfigError when that cannot be made."""
    name = name.strip()
    if not name:
        raise ConfigError("an account name or email address is required")
    if "@" in name:
        address = _address(name)
        if address.startswith("@"):
            raise ConfigError("a full email address is required, not a catchall")
        domain = address.rpartition("@")[2]
        if domain not in config.Domains:
            raise UnknownDomain(f"domain {domain!r} of {address} is not configured")
        return address, address
    if not config.DefaultDomain:
        raise ConfigError(f"{name!r} has no domain: give an email address, or set DefaultDomain in the config "
                          "for names without one")
    _check_account_name(name)
    return name, _address(f"{name}@{config.DefaultDomain}")


def account_directory(config: Config, name: str) -> str:
    """Where the account's mail is kept, in the data directory."""
    return os.path.join(config.data_dir(), "accounts", name)


def storage_of(config: Config) -> str:
    """What keeps the accounts' mail, in words: the data directory, or the PostgreSQL database."""
    return "database" if config.Storage == "postgresql" else "data directory"


def kept_in(config: Config, name: str) -> str:
    """Where in it the account's mail is kept, in words."""
    return "its schema of the database" if config.Storage == "postgresql" else f"accounts/{name}"


def delete_account(config: Config, name: str) -> None:
    """Remove an account from the config. Its stored mail stays in the data directory (accountadmin.py
    removes it, for the webapi's AccountDelete)."""
    if name not in config.Accounts:
        raise NoSuchAccount(f"no account {name!r}")
    del config.Accounts[name]
    # What named the account goes with it: a report address or the postmaster account would leave the
    # config invalid.
    if config.Postmaster and config.Postmaster.Account == name:
        raise ConfigError(f"account {name!r} is the Postmaster account; choose another one first")
    for domain_name, domain in config.Domains.items():
        for field in ("DMARC", "TLSRPT"):
            reports = getattr(domain, field)
            if reports and reports.Account == name:
                raise ConfigError(f"account {name!r} receives the {field} reports of domain {domain_name}; "
                                  "choose another account for them first")
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


def valid_account_name(name: str) -> bool:
    """Whether name may name an account (and so a directory of the data directory)."""
    local, at, domain = name.rpartition("@")
    return bool(_ACCOUNT_NAME.match(name) or (at and _ADDRESS_LOCALPART.match(local) and domain
                                              and "/" not in domain and "\0" not in domain
                                              and not domain.startswith(".")))


def _check_account_name(name: str) -> None:
    if valid_account_name(name):
        return
    raise ConfigError(f"invalid account name {name!r}: letters, digits, '.', '_' and '-' (starting with a letter or "
                      "digit, at most 64), or an email address")


def _check_free(config: Config, address: str) -> None:
    for name, acc in config.Accounts.items():
        if any(d.lower() == address.lower() for d in acc.Destinations):
            raise AccountExists(f"{address} already belongs to account {name!r}")
