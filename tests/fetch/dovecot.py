"""A real Dovecot (IMAP and POP3) on loopback for the fetch rule tests, with a
throwaway config: its own ports, base_dir and passwd-file users, mail in
maildirs under a temporary directory, run in the foreground and killed at
the end. Installed by dev.py's test setup (packages dovecot-imapd and
dovecot-pop3d).

Run as root, Dovecot wants its login processes unprivileged and no mail
user with UID 0: mail then belongs to "nobody", and the directory is
readable by all so its unprivileged processes reach the sockets there.
Run as another user, every process of Dovecot is that user's, and none
chroots (which needs root).
"""

from __future__ import annotations

import grp
import imaplib
import os
import poplib
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

from ..localserve import free_ports

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def missing() -> str:
    """Why Dovecot cannot run here; "" when it can."""
    if not os.path.exists(DOVECOT):
        return "dovecot is not installed (Debian packages dovecot-imapd and dovecot-pop3d)"
    for server in ("imap", "pop3"):
        if not os.path.exists(f"/usr/lib/dovecot/{server}"):
            return f"dovecot's {server} server is not installed (Debian package dovecot-{server}d)"
    return ""


CONFIG = """\
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = moxpy-test-{port_imap}
protocols = imap pop3
listen = 127.0.0.1
{users}
log_path = {dir}/dovecot.log
ssl = yes
ssl_cert = <{dir}/cert.pem
ssl_key = <{dir}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = {dir}/passwd
}}
userdb {{
  driver = passwd-file
  args = {dir}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port_imap}
  }}
  inet_listener imaps {{
    port = {port_imaps}
  }}
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    port = {port_pop3}
  }}
  inet_listener pop3s {{
    port = {port_pop3s}
  }}
}}
service anvil {{
  chroot =
}}
"""


class Dovecot:
    def __init__(self, users: dict[str, str]):
        from moxpy.provision.certificate import generate_self_signed

        self.users = dict(users)
        self.dir = tempfile.mkdtemp(prefix="moxpy-dovecot-")
        os.chmod(self.dir, 0o755)
        self.imap, self.imaps, self.pop3, self.pop3s = free_ports(4)
        generate_self_signed(os.path.join(self.dir, "cert.pem"), os.path.join(self.dir, "key.pem"), "localhost", 1)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("nobody")
            users_conf = "first_valid_uid = 1"
        else:
            owner = pwd.getpwuid(os.geteuid())
            group = grp.getgrgid(os.getegid()).gr_name
            users_conf = (f"default_internal_user = {owner.pw_name}\ndefault_internal_group = {group}\n"
                          f"default_login_user = {owner.pw_name}\nfirst_valid_uid = {owner.pw_uid}")
        lines = []
        for name, password in self.users.items():
            home = os.path.join(self.dir, "home", name)
            os.makedirs(home)
            os.chown(home, owner.pw_uid, owner.pw_gid)
            lines.append(f"{name}:{{PLAIN}}{password}:{owner.pw_uid}:{owner.pw_gid}::{home}::")
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            f.write("\n".join(lines) + "\n")
        os.makedirs(os.path.join(self.dir, "state"))
        self.config = os.path.join(self.dir, "dovecot.conf")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(dir=self.dir, users=users_conf, port_imap=self.imap, port_imaps=self.imaps,
                                  port_pop3=self.pop3, port_pop3s=self.pop3s))
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> "Dovecot":
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.config], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        for port in (self.imap, self.imaps, self.pop3, self.pop3s):
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError("dovecot did not start:\n" + self.output())
                try:
                    socket.create_connection(("127.0.0.1", port), 1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("dovecot did not listen:\n" + self.output()) from None
                    time.sleep(0.05)
        return self

    def output(self) -> str:
        text = ""
        if self.proc is not None and self.proc.poll() is not None and self.proc.stdout:
            text += self.proc.stdout.read().decode("utf-8", "replace")
        try:
            with open(os.path.join(self.dir, "dovecot.log"), encoding="utf-8", errors="replace") as f:
                text += f.read()
        except FileNotFoundError:
            pass
        return text

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    # Helpers over Dovecot's own IMAP, as a user's mail client would see the mailbox.

    def imap_client(self, user: str) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.imap, timeout=10)
        client.login(user, self.users[user])
        return client

    def append(self, user: str, message: bytes, mailbox: str = "INBOX") -> None:
        client = self.imap_client(user)
        try:
            if mailbox != "INBOX":
                client.create(mailbox)
            typ, data = client.append(mailbox, None, None, message)
            assert typ == "OK", data
        finally:
            client.logout()

    def uids(self, user: str, mailbox: str = "INBOX") -> list[int]:
        client = self.imap_client(user)
        try:
            typ, data = client.select(mailbox, readonly=True)
            assert typ == "OK", data
            typ, data = client.uid("SEARCH", "ALL")
            return [int(u) for u in data[0].split()]
        finally:
            client.logout()

    def pop3_count(self, user: str) -> int:
        client = poplib.POP3("127.0.0.1", self.pop3, timeout=10)
        try:
            client.user(user)
            client.pass_(self.users[user])
            return client.stat()[0]
        finally:
            client.quit()
