"""Log lines: ours and those of the libraries we use (httpx, Twisted, ...)
read alike, TIME LEVEL LOGGER: then a phrase with key=value pairs, or a
library's free text as one quoted msg= value."""

import json
import os
import re
import subprocess
import sys

from ..hookreceiver import Receiver
from ..localserve import ROOT

LINE = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error|fatal) ([\w.]+): (.*)$')


def log_lines(output: list[str]) -> list[tuple[str, str, str]]:
    lines = []
    for line in output:
        m = LINE.match(line.rstrip("\n"))
        if m:
            lines.append(m.groups())
    return lines


def test_library_lines_use_our_format(new_server):
    receiver = Receiver()

    def configure(config):
        from moxpy import config as configlib

        config.LogLevel = "debug"
        config.Accounts["mox"].OutgoingWebhook = configlib.OutgoingWebhook(URL=receiver.url + "/out")

    try:
        srv = new_server(configure).start()
        assert srv.call("Send", {"To": [{"Address": "mox@localhost"}], "Subject": "logged", "Text": "x"}).status_code == 200
        receiver.wait("/out")
        srv.wait_for(lambda: any(name == "httpx" for _, name, _ in log_lines(srv.output)))
    finally:
        receiver.close()
    lines = log_lines(srv.output)
    # Our loggers are named after moxpy's modules, shown without the "moxpy." prefix.
    ours = {name.removesuffix(".py") for name in os.listdir(os.path.join(ROOT, "moxpy"))}
    foreign = [(name, text) for _, name, text in lines if name.split(".")[0] not in ours]
    assert any(name == "httpx" for name, _ in foreign)
    for name, text in foreign:
        assert text.startswith('msg="'), (name, text)
        json.loads(text.removeprefix("msg="))  # one quoted value, nothing after it
    request = next(text for name, text in foreign if name == "httpx")
    assert json.loads(request.removeprefix("msg=")).startswith(f"HTTP Request: POST {receiver.url}/out ")


def test_twisted_and_python_warnings_are_log_lines():
    # Twisted keeps log events to itself unless told where they go; they must come out, in our format.
    code = """if True:
        import warnings
        from moxpy.cli.logs import setup_logging
        setup_logging("info")
        from twisted.logger import Logger
        Logger().warn("port {port} closed", port=1143)
        warnings.warn("something old", DeprecationWarning)
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    lines = out.stderr.splitlines()
    assert len(lines) == 2 and all(LINE.match(line) for line in lines), out.stderr
    assert lines[0].endswith(' warn twisted: msg="port 1143 closed"')
    assert "DeprecationWarning: something old" in lines[1]
