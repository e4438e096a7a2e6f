"""The ssh transport: the worker runs on a board reached with the system OpenSSH client.

Non-interactive (BatchMode: keys or an agent, never a password prompt), with ssh's own connect
timeout; the worker ends when the connection drops (it watches its stdin), so a killed host leaves
nothing running on the board.
"""
from __future__ import annotations

import shlex

from .base import Transport


class SshTransport(Transport):
    kind = "ssh"

    def __init__(self, host: str, port: int | None = None, identity: str | None = None,
                 ssh_options: list[str] | None = None, **kw):
        super().__init__(**kw)
        self.host, self.port, self.identity = host, port, identity
        self.ssh_options = list(ssh_options or [])

    @classmethod
    def check_options(cls, c) -> dict:
        return {"host": c.get("host", str, check=bool, valid="[user@]hostname"),
                "port": c.get("port", int, None, check=lambda p: 0 < p < 65536, valid="1..65535"),
                "identity": c.get("identity", str, None, check=bool, valid="a private key file"),
                "ssh_options": list(c.get_list("ssh_options", str, (), nonempty=False))}

    @property
    def hint(self) -> str:
        return (f"check that ssh logs in to {self.host} without a password (BatchMode: a key or an agent) and that "
                f"`{self.python} -m benchsuite.device.worker` runs there")

    def prefix(self) -> list[str]:
        argv = ["ssh", "-T", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={max(1, int(self.connect_timeout_s))}",
                "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4"]
        if self.port:
            argv += ["-p", str(self.port)]
        if self.identity:
            argv += ["-i", self.identity]
        for opt in self.ssh_options:
            argv += ["-o", opt]
        return [*argv, self.host, "--"]

    def argv(self) -> list[str]:
        # ssh hands the remote side one shell string: quote every word of the worker's command
        return [*self.prefix(), shlex.join(self.worker_command())]

    def where(self) -> str:
        return f"{self.host} over ssh"
