"""The command transport: any launcher given as an argv prefix (an emulator, a chroot, a container,
a site's own job launcher). The worker's command line is appended to the prefix."""
from __future__ import annotations

from .base import Transport


class CommandTransport(Transport):
    kind = "command"
    hint = "check that the command in the profile's [transport] table starts and that benchsuite is installed there"

    def __init__(self, command: list[str], **kw):
        super().__init__(**kw)
        self.command = list(command)

    @classmethod
    def check_options(cls, c) -> dict:
        return {"command": list(c.get_list("command", str, check=bool, valid="a non-empty list of strings"))}

    def prefix(self) -> list[str]:
        return list(self.command)

    def where(self) -> str:
        return f"the command {' '.join(self.command)}"
