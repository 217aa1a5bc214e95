"""Every code block of the README works, run in order against a fresh localserve.

The README is read with markdown-it. Each fenced block is, by its info string:

- `sh`: run with bash (`set -eo pipefail`; curl gets `-sS --fail-with-body`,
  so an HTTP error fails the block);
- `python`: run with this test's Python, which has the package installed;
- `toml`: appended to `localserve/config/mox.toml`, as the README says;
- `json` or `text` right after one of those: what it prints. JSON must
  have the same shape (keys and value types); text must match, with
  `...` standing for anything (doctest's ELLIPSIS).

An HTML comment right before a block changes that:

- `<!-- readme-test: skip: REASON -->`: not run; reported as a skipped test
  with the reason (starting the server itself, needing root, ...);
- `<!-- readme-test: background NAME -->`: started and left running until
  the end, e.g. the webhook receiver; the test waits for the ports it names;
- `<!-- readme-test: output of NAME -->` on a `text` block: lines the
  background block NAME prints by then, in any order.

Commands run in a scratch directory holding the localserve directory, as if
the reader ran `python3 dev.py localserve` there; the README's port numbers
are changed to the test server's free ports, and `dev.py` to its path.
"""

from __future__ import annotations

import dataclasses
import doctest
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest
from markdown_it import MarkdownIt

from .localserve import ROOT, LocalServer, free_ports
from .queuehelp import queued
from .jsonshape import same_shape

README = os.path.join(ROOT, "README.md")
DEV = os.path.join(ROOT, "dev.py")
MARKER = re.compile(r"<!--\s*readme-test:\s*(.*?)\s*-->", re.S)
RUNNABLE = ("sh", "python", "toml")
OUTPUT = ("json", "text")
# Port of the webhook receiver in the README; the server's ports come from localserve.PORTS.
RECEIVER_PORT = 8000
PRELUDE = 'set -eo pipefail\ncurl() { command curl -sS --fail-with-body "$@"; }\n'


@dataclasses.dataclass
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    marker: str  # the readme-test comment right before it, or ""

    @property
    def name(self) -> str:
        return f"README.md line {self.line} ({self.lang})"


def readme_blocks() -> list[Block]:
    with open(README) as f:
        tokens = MarkdownIt("commonmark").parse(f.read())
    blocks = []
    for i, token in enumerate(tokens):
        if token.type != "fence":
            continue
        marker = ""
        if i > 0 and tokens[i - 1].type == "html_block" and tokens[i - 1].map[1] == token.map[0]:
            m = MARKER.search(tokens[i - 1].content)
            marker = m.group(1) if m else ""
        blocks.append(Block(token.map[0] + 1, token.info.split()[0] if token.info else "", token.content, marker))
    return blocks


BLOCKS = readme_blocks()
SKIPPED = [b for b in BLOCKS if b.marker.startswith("skip:")]


def matches(want: str, got: str) -> bool:
    """got is want, with ... in want standing for any text (also across lines)."""
    checker = doctest.OutputChecker()
    return checker.check_output(want.rstrip("\n") + "\n", got.rstrip("\n") + "\n",
                                doctest.ELLIPSIS | doctest.DONT_ACCEPT_BLANKLINE)


def test_matches_is_strict_outside_ellipses():
    assert matches("a ... c\n", "a b c")
    assert matches("x\n...\nz", "x\ny1\ny2\nz\n")
    assert not matches("a ... c", "a b d")
    assert not matches("{}", "{'x': 1}")


@pytest.mark.parametrize("block", SKIPPED, ids=[b.name for b in SKIPPED])
def test_blocks_not_run(block):
    pytest.skip(f"{block.name} not run: {block.marker.removeprefix('skip:').strip()}")


class Background:
    """A block left running, with what it prints."""

    def __init__(self, block: Block, proc: subprocess.Popen):
        self.block = block
        self.proc = proc
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"nothing listens on port {port}")
            time.sleep(0.05)


@pytest.fixture
def server_here(tmp_path):
    """A fresh localserve in ./localserve of the directory the blocks run in."""
    srv = LocalServer(str(tmp_path / "localserve")).start()
    yield srv
    srv.stop()


def test_readme_blocks_work(server_here, tmp_path):
    from moxpy.provision import localserve

    for program in ("curl", "swaks"):
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed")
    srv = server_here

    ports = {str(localserve.PORTS[name]): str(port) for name, port in srv.ports.items()}
    ports[str(RECEIVER_PORT)] = str(free_ports(1)[0])
    number = re.compile(r"(?<![\d.])(" + "|".join(ports) + r")(?!\d)")

    def rewrite(code: str) -> str:
        code = number.sub(lambda m: ports[m.group(1)], code)
        return re.sub(r"(?<![\w/])dev\.py\b", lambda m: shlex.quote(DEV), code)

    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    background: dict[str, Background] = {}
    last: tuple[Block, str] | None = None  # the last block run, and what it printed
    ran = 0
    try:
        for block in BLOCKS:
            if block.marker.startswith("skip:"):
                last = None
                continue
            if block.lang in OUTPUT:
                check_output(block, last, background)
                last = None
                continue
            assert block.lang in RUNNABLE, f"{block.name}: no way to run it; mark it skip with the reason"
            code = rewrite(block.code)
            if block.lang == "toml":
                with open(srv.config.path, "a") as f:
                    f.write("\n" + code)
                last = None
            elif block.marker.startswith("background "):
                name = block.marker.split(None, 1)[1]
                proc = subprocess.Popen(["bash", "-c", PRELUDE + code], cwd=tmp_path, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                background[name] = Background(block, proc)
                for port in re.findall(r"(?<![\d.])(\d{4,5})(?!\d)", code):
                    if port in ports.values():
                        wait_listening(int(port), proc)
                last = None
            else:
                cmd = ["bash", "-c", PRELUDE + code] if block.lang == "sh" else [sys.executable, "-c", code]
                out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
                assert out.returncode == 0, f"{block.name} failed ({out.returncode}):\n{out.stdout}{out.stderr}"
                last = (block, out.stdout)
            ran += 1
            # Give the queue time to deliver what the block sent, as a reader
            # would before reading on.
            srv.wait_for(lambda: not queued(srv), timeout=15)
    finally:
        for bg in background.values():
            bg.proc.terminate()
            bg.proc.wait(10)
    assert ran >= 10


def check_output(block: Block, last: tuple[Block, str] | None, background: dict[str, Background]) -> None:
    if block.marker.startswith("output of "):
        name = block.marker.removeprefix("output of ").strip()
        assert name in background, f"{block.name}: no background block {name!r} before it"
        bg = background[name]
        wanted = block.code.rstrip("\n").split("\n")
        deadline = time.monotonic() + 20
        while True:
            lines = list(bg.lines)
            unmatched = [w for w in wanted if not any(matches(w, line) for line in lines)]
            if not unmatched or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert not unmatched, f"{block.name}: {bg.block.name} did not print {unmatched}; it printed:\n" + \
            "\n".join(lines)
        return
    assert last is not None, f"{block.name}: output of what? It follows no block that was run"
    source, got = last
    if block.lang == "json":
        try:
            answer = json.loads(got)
        except ValueError:
            raise AssertionError(f"{source.name} printed no JSON:\n{got}") from None
        same_shape(answer, json.loads(block.code))
    else:
        assert matches(block.code, got), f"{source.name} printed:\n{got}\nnot as {block.name} says:\n{block.code}"
