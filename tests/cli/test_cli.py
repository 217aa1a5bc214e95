"""The command line as a user starts it: mox.py and the installed `mox`
script offer the same commands, and mistakes are one line and exit code 2."""

import os
import re
import subprocess
import sys

from moxpy import __version__

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMMANDS = ["localserve", "quickstart", "serve", "config", "account", "address", "domain", "passwordhash", "queue",
            "token", "client", "webhook", "rule", "example", "storage", "version"]


def run(program: list[str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(program + list(args), capture_output=True, text=True, cwd=ROOT, timeout=60)


def mox_py(*args: str) -> subprocess.CompletedProcess:
    return run([sys.executable, os.path.join(ROOT, "mox.py")], *args)


def test_help_lists_the_commands_in_order():
    out = mox_py("-h")
    assert out.returncode == 0
    listed = re.findall(r"^ {4}([a-z]+)\b", out.stdout, re.MULTILINE)  # help text wraps to deeper indents
    assert listed == COMMANDS


def test_installed_script_is_the_same_command_line():
    # The `mox` entry point of pyproject.toml, installed next to this Python.
    script = os.path.join(os.path.dirname(sys.executable), "mox")
    assert os.path.exists(script), "the package is not installed with its scripts; run the tests through dev.py"
    out = run([script], "version")
    assert (out.returncode, out.stdout) == (0, __version__ + "\n")
    assert run([script], "queue", "webhook", "-h").stdout == mox_py("queue", "webhook", "-h").stdout


def test_unknown_command_and_subcommand_are_one_line_and_exit_2():
    for args in (["bogus"], ["queue", "bogus"], ["queue", "webhook", "bogus"], ["account", "bogus"]):
        out = mox_py(*args)
        assert out.returncode == 2 and out.stdout == "", args
        assert len(out.stderr.splitlines()) == 1 and out.stderr.startswith("mox: mox.py"), (args, out.stderr)
