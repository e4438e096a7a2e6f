"""Where each runner's workers run for a device, and what that device's environment is.

A profile's [transport] says how workers reach the device (none: this host). A runner that reaches
the device on its own from the host (TVM through an RPC tracker) gets workers on the host instead.
Whether a runner is available is asked where its workers will run: on a board, the board's own
benchsuite answers (its environment lists its runners), not this host.
"""
from __future__ import annotations

import platform

from ..env import environment
from .reach import device_elsewhere
from ..runners import get_runner, resolved_options
from .supervisor import device_environment
from ..transports import transport_for


class Placement:
    def __init__(self, device, timeout_s: float, progress=lambda s: None):
        self.device = device
        self.board = transport_for(device.transport)
        self.host = transport_for(None)
        self._host_env: dict | None = None
        if self.board.on_this_host:
            self.device_environment = self.host_environment()
        else:
            progress(f"connecting to {self.board.where()}")
            self.device_environment = device_environment(self.board, timeout_s, progress)

    def host_environment(self) -> dict:
        if self._host_env is None:
            self._host_env = environment()
        return self._host_env

    @property
    def device_reachable(self) -> bool:
        """Whether workers can run on the device itself (not only drive it from the host)."""
        return not (self.board.on_this_host and device_elsewhere(self.device))

    def for_runner(self, name: str):
        """(transport, "") for the runner's workers, or (None, why not) when it cannot run on this device."""
        runner = get_runner(name)
        try:
            options = resolved_options(runner, self.device.runner_options.get(name, {}))
            itself = runner.reaches_device_itself(options, self.device)
        except ValueError as e:
            return None, str(e)
        if itself:
            ok, why = runner.availability()
            return (self.host, "") if ok else (None, f"{why} (on this host, which drives the device)")
        if not self.device_reachable:
            return None, (f"it runs where its worker runs, and this host ({platform.machine()}) is not the "
                          f"{self.device.kind} device; add a [transport] to the profile to run it on the board")
        info = self.device_environment.get("runners", {}).get(name)
        where = self.board.where()
        if info is None:
            return None, f"benchsuite on {where} has no runner '{name}'"
        if not info.get("available"):
            return None, f"{info.get('reason')} (on {where})"
        return self.board, ""
