"""The local transport: the worker is a child process of this Python on this host."""
from __future__ import annotations

import sys

from .base import Transport


class LocalTransport(Transport):
    kind = "local"
    default_python = sys.executable
    hint = "check that this Python can import benchsuite"

    def prefix(self) -> list[str]:
        return []

    def python_argv(self) -> list[str]:
        return [self.python]  # a path, perhaps with spaces: no shell words here

    def where(self) -> str:
        return "this host"

    @property
    def on_this_host(self) -> bool:
        return True
