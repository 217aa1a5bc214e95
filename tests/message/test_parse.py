

def test_encoded_word_with_a_malformed_charset_is_left_as_sent():
    from moxpy.message import parse as msgparse

    data = b"From: a@b\r\nSubject: =?\xffutf-8?b?R3LDvMOfZQ==?=\r\n\r\nbody\r\n"
    assert "R3LDvMOfZQ" in msgparse.summary(data)["subject"]
