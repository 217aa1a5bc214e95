"""Email addresses: parsing, normalising, the suppression base address, and
domain names in their Unicode and ASCII (IDNA) forms."""

from __future__ import annotations

import encodings.idna
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
    """(Unicode, ASCII) forms of a domain name, lower case, without a trailing dot.

    The one place where domains are converted between U-labels and A-labels
    (IDNA, RFC 3490 with Python's idna codec); an address literal such as
    [192.0.2.1] (RFC 5321 4.1.3) is returned as it is. AddressError says
    what is wrong.
    """
    domain = domain.strip().rstrip(".").lower()
    if not domain:
        raise AddressError("invalid domain: empty")
    if len(domain) > MAX_DOMAIN:
        raise AddressError(f"invalid domain {domain!r}: longer than {MAX_DOMAIN} characters")
    if domain.startswith("[") and domain.endswith("]"):
        return domain, domain
    try:
        ascii_form = domain.encode("idna").decode("ascii")
        unicode_form = ascii_form.encode("ascii").decode("idna")
    except UnicodeError:
        raise AddressError(f"invalid domain {domain!r}: {_idna_problem(domain)}") from None
    for label in ascii_form.split("."):
        if not _LABEL.match(label):
            # RFC 1035 2.3.1 (the LDH rule), as RFC 5321 2.3.5 asks of domains in mail.
            raise AddressError(f"invalid domain {domain!r}: label {label!r} must be letters, digits and "
                               "hyphens, not starting or ending with a hyphen")
    return unicode_form, ascii_form


def _idna_problem(domain: str) -> str:
    """What makes the idna codec refuse a domain, in words."""
    for label in domain.split("."):
        if not label:
            return "empty label"
        try:
            encodings.idna.ToASCII(label)
        except UnicodeError as e:
            if "too long" in str(e):
                return f"label {label!r} is longer than 63 characters in ASCII form"  # RFC 1035 2.3.4
            return f"label {label!r}: {e}"  # a character IDNA does not allow
    return "not a valid internationalised domain name"


def ascii_domain(domain: str) -> str:
    """The domain in ASCII (A-labels, "xn--..."), as DNS and non-SMTPUTF8 SMTP need it; AddressError if invalid."""
    return parse_domain(domain)[1]


def unicode_domain(domain: str) -> str:
    """The domain in Unicode (U-labels), as mox reports and configs name domains; AddressError if invalid."""
    return parse_domain(domain)[0]


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
