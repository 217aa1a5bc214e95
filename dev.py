#!/usr/bin/env python3
"""Set up a local virtual environment and run the server or the tests.

    python3 dev.py localserve [ARGS...]   run `mox localserve` (data in ./localserve)
    python3 dev.py test [PYTEST ARGS...]  run the test suite (arguments: as pytest's)
    python3 dev.py mox ARGS...            run any other mox command

localserve and mox run in the directory you call them from, like the
installed `mox` command: ./localserve, config/mox.toml and relative paths
in ARGS are under that directory, not under this checkout. The tests run in
the checkout. The environment lives in .venv next to this file and is
(re)installed whenever pyproject.toml changes. Only the Python standard
library is needed to run this file.

`test` without arguments runs the whole suite in three parts: every test
but those marked `timing`, spread over two worker processes on a machine
with two cores or more, then the `timing` tests (a heartbeat or a deadline
beside a hostile client) alone, so that another test's load cannot slow
what they measure, then a few test files again with their servers on
PostgreSQL (POSTGRESQL_TESTS). With arguments it is one pytest run, as
given; MOXPY_TEST_STORAGE=postgresql in the environment puts the servers
of any run on PostgreSQL.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import venv

ROOT = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(ROOT, ".venv")
BIN = os.path.join(VENV, "Scripts" if os.name == "nt" else "bin")
PYTHON = os.path.join(BIN, "python")
STAMP = os.path.join(VENV, ".installed")

# Programs the test suite drives as real clients and servers, by Debian package name. A path names a
# program that is not on a user's PATH: Dovecot's imap and pop3 servers (the dovecot command is in /usr/sbin).
TEST_PROGRAMS = {"swaks": "swaks", "curl": "curl", "chromium": "chromium", "mbsync": "isync", "strace": "strace",
                 "/usr/lib/dovecot/imap": "dovecot-imapd", "/usr/lib/dovecot/pop3": "dovecot-pop3d",
                 "sieve-test": "dovecot-sieve", "/usr/lib/postgresql": "postgresql"}


def _present(program: str) -> bool:
    return os.path.exists(program) if os.path.isabs(program) else shutil.which(program) is not None


def ensure_venv(test: bool = False) -> None:
    """Install the project (with the test extras when asked) unless .venv already has it."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    installed = open(STAMP).read().split() if os.path.exists(STAMP) else []
    # The stamp holds the pyproject digest, then "test" when the test extras are in.
    if installed[:1] == [digest] and (not test or "test" in installed[1:]):
        return
    if not os.path.exists(PYTHON):
        print("creating virtual environment in .venv", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    spec = ".[test]" if test else "."
    print(f"installing {spec} into .venv", file=sys.stderr)
    subprocess.run([PYTHON, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", spec],
                   cwd=ROOT, check=True)
    with open(STAMP, "w") as f:
        f.write(digest + (" test" if test else "") + "\n")


def ensure_test_programs() -> None:
    """Install the command-line clients the tests use, where apt can."""
    missing = [pkg for prog, pkg in TEST_PROGRAMS.items() if not _present(prog)]
    if not missing or shutil.which("apt-get") is None:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    print(f"installing {' '.join(missing)} with apt-get", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(sudo + ["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-q", "--no-install-recommends"] + missing,
                   env=env, stdout=subprocess.DEVNULL)
    # The packages start system-wide servers on the standard ports; the tests run their own.
    for prefix, service in (("dovecot-", "dovecot"), ("postgresql", "postgresql")):
        if any(pkg.startswith(prefix) for pkg in missing) and shutil.which("systemctl"):
            subprocess.run(sudo + ["systemctl", "disable", "--now", service], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)


# The third part of the whole suite: the tests where storage matters most (the webapi's Send and message
# methods, IMAP's core commands, queue delivery, webhooks, rules), run again with every test server on
# PostgreSQL. MOXPY_TEST_STORAGE=postgresql runs any tests so, the whole suite too.
POSTGRESQL_TESTS = ["tests/webapi/test_webapi.py", "tests/imapserver/test_imap.py", "tests/queue/test_queue.py",
                    "tests/webhooks/test_webhooks.py", "tests/test_rules.py"]


def whole_suite() -> int:
    workers = min(2, os.cpu_count() or 1)
    spread = ["-n", str(workers), "--dist", "loadfile"] if workers > 1 else []
    codes = [subprocess.run([PYTHON, "-m", "pytest", *spread, "-m", "not timing"]).returncode,
             subprocess.run([PYTHON, "-m", "pytest", "-m", "timing"]).returncode]
    if _present("/usr/lib/postgresql") or shutil.which("initdb"):
        codes.append(subprocess.run([PYTHON, "-m", "pytest", *spread, "-m", "not timing", *POSTGRESQL_TESTS],
                                    env=dict(os.environ, MOXPY_TEST_STORAGE="postgresql")).returncode)
    else:
        print("PostgreSQL is not installed (Debian package postgresql): its part of the suite is left out",
              file=sys.stderr)
    # 5: no tests were selected, which a part may well have.
    failed = [code for code in codes if code not in (0, 5)]
    return failed[0] if failed else 0


def main() -> int:
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    command, rest = args[0], args[1:]
    if command == "test":
        ensure_venv(test=True)
        ensure_test_programs()
        os.chdir(ROOT)  # pytest finds its config and tests/ here
        if not rest:
            return whole_suite()
        cmd = [PYTHON, "-m", "pytest"] + rest
    elif command == "localserve":
        ensure_venv()
        cmd = [PYTHON, os.path.join(ROOT, "mox.py"), "localserve"] + rest
    elif command == "mox":
        ensure_venv()
        cmd = [PYTHON, os.path.join(ROOT, "mox.py")] + rest
    else:
        print(f"unknown command {command!r}; try: localserve, test, mox", file=sys.stderr)
        return 2
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    sys.exit(main())
