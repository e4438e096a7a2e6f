"""The transport interface. A transport says how to start the worker where the device is."""
from __future__ import annotations

import shlex


class Transport:
    """Subclasses set `kind` and implement `prefix` (the argv that reaches the device) and `where`.

    Common keys of a profile's [transport] table, checked here for every kind:
      python             the device's Python with benchsuite installed (default "python3")
      env                extra environment variables for the worker (a table of strings)
      connect_timeout_s  how long the worker may take to say hello (a start, a login, an emulator)
    """

    kind = "base"
    default_python = "python3"
    # what to check when the worker does not answer; subclasses say it in their own terms
    hint = "check that the device is up and that benchsuite is installed in its Python"

    def __init__(self, python: str | None = None, env: dict | None = None, connect_timeout_s: float = 30.0,
                 **options):
        self.python = python or self.default_python
        self.env = dict(env or {})
        self.connect_timeout_s = float(connect_timeout_s)
        self.options = options

    @classmethod
    def check(cls, c) -> dict:
        """Read this kind's keys from a profile's [transport] table (c: the spec's key checker)."""
        out = {"python": c.get("python", str, None, check=bool, valid="a command or path"),
               "env": c.get("env", dict, {}),
               "connect_timeout_s": float(c.get("connect_timeout_s", (int, float), 30.0, check=lambda v: v > 0,
                                                valid="a number > 0"))}
        for k, v in out["env"].items():
            if not isinstance(v, str):
                c.fail(f"env.{k}", f"expected a string, got {v!r}")
        out.update(cls.check_options(c))
        return {k: v for k, v in out.items() if v is not None}

    @classmethod
    def check_options(cls, c) -> dict:
        return {}

    def prefix(self) -> list[str]:
        raise NotImplementedError(f"transport {self.kind} must say how it reaches the device")

    def where(self) -> str:
        return self.kind

    def worker_command(self) -> list[str]:
        """The worker's command line on the device: [env K=V ...] python -m benchsuite.device.worker."""
        env = ["env", *(f"{k}={v}" for k, v in sorted(self.env.items()))] if self.env else []
        return [*env, *self.python_argv(), "-m", "benchsuite.device.worker"]

    def python_argv(self) -> list[str]:
        return shlex.split(self.python)

    def argv(self) -> list[str]:
        """The command this host runs to start a worker on the device."""
        return [*self.prefix(), *self.worker_command()]

    @property
    def on_this_host(self) -> bool:
        """Whether the worker runs on this host's own hardware (the host's meters then see it)."""
        return False
