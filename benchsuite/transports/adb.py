"""The adb transport: an Android device with a Python that has benchsuite (e.g. Termux), through
`adb shell` without a terminal (plain stdin/stdout, so the JSON lines pass unchanged)."""
from __future__ import annotations

import shlex

from .base import Transport


class AdbTransport(Transport):
    kind = "adb"

    def __init__(self, serial: str | None = None, adb: str = "adb", **kw):
        super().__init__(**kw)
        self.serial, self.adb = serial, adb

    @classmethod
    def check_options(cls, c) -> dict:
        return {"serial": c.get("serial", str, None, check=bool, valid="a serial from 'adb devices'"),
                "adb": c.get("adb", str, "adb", check=bool, valid="the adb program")}

    @property
    def hint(self) -> str:
        return (f"check 'adb devices' lists {self.serial or 'the device'} and that "
                f"'{self.python} -m benchsuite.device.worker' runs in its shell")

    def prefix(self) -> list[str]:
        return [self.adb, *(["-s", self.serial] if self.serial else []), "shell", "-T"]

    def argv(self) -> list[str]:
        return [*self.prefix(), shlex.join(self.worker_command())]

    def where(self) -> str:
        return f"Android device {self.serial or '(the only one attached)'} over adb"
