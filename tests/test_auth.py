"""The GS2 header of SCRAM client-first messages (RFC 5802 7), as plain data."""

import pytest
import scramp

from moxpy.scram import split_gs2_authzid


def test_without_authzid_the_message_is_unchanged():
    assert split_gs2_authzid("n,,n=mox@localhost,r=abc") == ("", "n,,", "n,,n=mox@localhost,r=abc")


def test_authzid_is_unescaped_and_left_out():
    assert split_gs2_authzid("n,a=mox@localhost,n=mox@localhost,r=abc") == \
        ("mox@localhost", "n,a=mox@localhost,", "n,,n=mox@localhost,r=abc")
    assert split_gs2_authzid("y,a=a=2Cb=3Dc,n=x,r=abc")[0] == "a,b=c"


@pytest.mark.parametrize("message", ["n", "n,a=x", "n,b=x,n=x,r=abc", "n,a=,n=x,r=abc", "n,a=x=41,n=x,r=abc"])
def test_malformed_headers(message):
    with pytest.raises(scramp.ScramException):
        split_gs2_authzid(message)
