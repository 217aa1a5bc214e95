"""Domain names in Unicode and ASCII form, and address parsing, as plain values."""

import pytest

from moxpy.message.address import AddressError, ascii_domain, parse_address, parse_domain, unicode_domain


@pytest.mark.parametrize("given,unicode_form,ascii_form", [
    ("Bücher.Example", "bücher.example", "xn--bcher-kva.example"),
    ("xn--bcher-kva.example.", "bücher.example", "xn--bcher-kva.example"),  # trailing dot of a rooted name
    ("mail.example.org", "mail.example.org", "mail.example.org"),
    ("[192.0.2.1]", "[192.0.2.1]", "[192.0.2.1]"),  # RFC 5321 4.1.3 address literal
    ("a.b\u3002c", "a.b.c", "a.b.c"),  # RFC 3490 3.1: ideographic full stop separates labels
])
def test_domain_forms(given, unicode_form, ascii_form):
    assert parse_domain(given) == (unicode_form, ascii_form)
    assert ascii_domain(given) == ascii_form
    assert unicode_domain(given) == unicode_form
    assert unicode_domain(ascii_domain(given)) == unicode_form


@pytest.mark.parametrize("given,problem", [
    ("", "empty"),
    ("a..example", "empty label"),
    ("x" * 64 + ".example", "longer than 63 characters"),
    ("ä" * 60 + ".example", "longer than 63 characters in ASCII form"),
    ("-bad-.example", "letters, digits and hyphens"),
    ("under_score.example", "letters, digits and hyphens"),
    ("a." * 130 + "example", "longer than 255"),
])
def test_invalid_domains_say_why(given, problem):
    for convert in (parse_domain, ascii_domain, unicode_domain):
        with pytest.raises(AddressError, match=problem):
            convert(given)


def test_address_keeps_localpart_and_both_domain_forms():
    address = parse_address("Jürgen@Bücher.example")
    assert (address.localpart, address.domain, address.ascii_domain) == ("Jürgen", "bücher.example",
                                                                       "xn--bcher-kva.example")
    assert address.ascii() == "Jürgen@xn--bcher-kva.example"
    assert address.smtputf8
    with pytest.raises(AddressError, match="empty label"):
        parse_address("user@a..example")
