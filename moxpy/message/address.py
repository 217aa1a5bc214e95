"""Email addresses: parsing, normalising, and the suppression base address."""

from __future__ import annotations

import re

# RFC 5321 4.5.3.1.1/4.5.3.1.2: 64 octets localpart, 255 domain.
MAX_LOCALPART = 64
MAX_DOMAIN = 255

_DOT_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+)*$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class AddressError(ValueError):
    pass


class Address:
    """A parsed address: localpart as given, domain lower case in Unicode and ASCII (IDNA)."""

    __slots__ = ("localpart", "domain", "ascii_domain")

    def __init__(self, localpart: str, domain: str, ascii_domain: str):
        self.localpart = localpart
        self.domain = domain
        self.ascii_domain = ascii_domain

    def __str__(self) -> str:
        return f"{self.localpart}@{self.domain}"

    def ascii(self) -> str:
        return f"{self.localpart}@{self.ascii_domain}"

    @property
    def smtputf8(self) -> bool:
        """Whether the address needs SMTPUTF8: a non-ASCII localpart."""
        return not self.localpart.isascii()

    def __eq__(self, other) -> bool:
        return isinstance(other, Address) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


def parse_domain(domain: str) -> tuple[str, str]:
    """Return (unicode, ascii) forms of a domain, lower case; raise AddressError."""
    domain = domain.strip().rstrip(".").lower()
    if not domain or len(domain) > MAX_DOMAIN:
        raise AddressError(f"invalid domain {domain!r}")
    if domain.startswith("[") and domain.endswith("]"):
        return domain, domain  # address literal, RFC 5321 4.1.3
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
        unicode_domain = ascii_domain.encode("ascii").decode("idna")
    except UnicodeError as e:
        raise AddressError(f"invalid domain {domain!r}: {e}") from None
    for label in ascii_domain.split("."):
        if not _LABEL.match(label):
            raise AddressError(f"invalid domain {domain!r}")
    return unicode_domain, ascii_domain


def parse_address(text: str) -> Address:
    """Parse a bare address local@domain (no display name); raise AddressError."""
    localpart, at, domain = text.strip().rpartition("@")
    if not at or not localpart:
        raise AddressError(f"invalid address {text!r}: missing @ or localpart")
    if localpart.startswith('"') and localpart.endswith('"') and len(localpart) >= 2:
        inner = localpart[1:-1]
        if any(ord(c) < 0x20 or c == "\x7f" for c in inner):
            raise AddressError(f"invalid address {text!r}: control character")
    elif not _DOT_ATOM.match(localpart):
        raise AddressError(f"invalid address {text!r}: bad localpart")
    if len(localpart.encode()) > MAX_LOCALPART:
        raise AddressError(f"invalid address {text!r}: localpart too long")
    unicode_domain, ascii_domain = parse_domain(domain)
    return Address(localpart, unicode_domain, ascii_domain)


def base_address(address: Address) -> str:
    """The address suppressions match on: localpart lower case, cut at the
    first + or -, dots removed (as mox does), at the lower-case domain."""
    local = address.localpart.lower()
    for i, c in enumerate(local):
        if c in "+-":
            local = local[:i]
            break
    local = local.replace(".", "")
    return f"{local}@{address.domain}"
