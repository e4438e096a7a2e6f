"""A throw-away OpenSSH server on 127.0.0.1 for the ssh transport's tests and the board-over-ssh benchmark:
its own host key, a client key it accepts and one it does not, and optionally a ForceCommand that puts
every session somewhere else (inside the emulated board)."""
import getpass
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
REPO = Path(__file__).resolve().parent.parent
# sshd's ForceCommand that runs every session's command inside the emulated aarch64 board
INTO_THE_BOARD = f'{REPO / "scripts/emulated-arm-board"} exec -- /bin/sh -c "$SSH_ORIGINAL_COMMAND"'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, root: Path, force_command: str | None = None):
        self.root, self.port = root, free_port()
        for name in ("host", "client", "stranger"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / name)], check=True)
        (root / "authorized_keys").write_text((root / "client.pub").read_text())
        config = [f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {root / 'host'}",
                  f"AuthorizedKeysFile {root / 'authorized_keys'}", "PasswordAuthentication no",
                  "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password", "UsePAM no",
                  "StrictModes no", f"PidFile {root / 'sshd.pid'}", "LogLevel ERROR"]
        if force_command:
            config.append(f"ForceCommand {force_command}")
        (root / "sshd_config").write_text("\n".join(config) + "\n")
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(root / "sshd_config")],
                                     stderr=open(root / "sshd.log", "ab"))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise AssertionError(f"sshd did not listen: {(root / 'sshd.log').read_text()}")

    def transport(self, *, port=None, key="client", python=sys.executable, timeout_s=60) -> str:
        return (f'\n[transport]\nkind = "ssh"\nhost = "{getpass.getuser()}@127.0.0.1"\nport = {port or self.port}\n'
                f'identity = "{self.root / key}"\npython = "{python}"\nconnect_timeout_s = {timeout_s}\n'
                'ssh_options = ["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "LogLevel=ERROR"]\n')

    def kill(self) -> None:
        """The server and every session it serves: the connections drop the way a board's sshd dying drops them."""
        procs = [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(recursive=True)]
        for p in procs:
            if p.is_running() and "sshd" in p.name():
                p.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.kill()


