"""dev.py runs mox in the caller's directory: files land where the user
is, not in the checkout, as the README says."""

import os
import subprocess
import sys
import threading
import time

from .localserve import ROOT, free_ports

DEV = os.path.join(ROOT, "dev.py")


def dev(args: list[str], cwd, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, DEV] + args, cwd=cwd, capture_output=True, text=True, timeout=300,
                          **kwargs)


def stat_or_none(path: str):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def test_dev_py_mox_works_in_the_callers_directory(tmp_path):
    checkout_config = os.path.join(ROOT, "config", "mox.toml")
    before = stat_or_none(checkout_config)
    out = dev(["mox", "quickstart", "you@example.com", "-hostname", "mail.example.com"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "config" / "mox.toml").exists()
    assert (tmp_path / "config" / "tls.crt").exists()
    assert stat_or_none(checkout_config) == before, "quickstart wrote into the checkout"
    # The printed command to start the server works from here too.
    serve = next(line.split() for line in out.stdout.splitlines() if " serve -config " in line)
    assert os.path.isabs(serve[0]) and os.access(serve[0], os.X_OK), serve
    assert serve[-1] == "config/mox.toml" or os.path.samefile(tmp_path / serve[-1], tmp_path / "config" / "mox.toml")

    # Later commands find config/mox.toml of the same directory.
    out = dev(["mox", "config", "test"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "config/mox.toml: config OK"
    out = dev(["mox", "account", "list"], tmp_path)
    assert out.returncode == 0 and out.stdout.split()[0] == "you", (out.stdout, out.stderr)


def test_dev_py_localserve_keeps_its_data_in_localserve_of_the_callers_directory(tmp_path):
    from moxpy.provision import localserve

    # A localserve directory made beforehand, on free ports: later starts use it as it is.
    directory = tmp_path / "localserve"
    names = list(localserve.PORTS)
    localserve.ensure(str(directory), dict(zip(names, free_ports(len(names)))))
    proc = subprocess.Popen([sys.executable, DEV, "localserve"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line)
            if "localserve ready" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        while not ready.wait(0.1):
            assert proc.poll() is None and time.monotonic() < deadline, "".join(lines)
        output = "".join(lines)
        assert f"using config {directory / 'config' / 'mox.toml'}" in output, output
        assert f"data in {directory / 'data'}" in output, output
        assert (directory / "data").is_dir()
        # dev.py mox from the same directory works on that server's config.
        out = dev(["mox", "queue", "list"], tmp_path)
        assert out.returncode == 0, out.stderr
    finally:
        proc.terminate()
        proc.wait(15)
