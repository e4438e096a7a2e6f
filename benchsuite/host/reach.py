"""Is a device profile runnable from here: a GPU profile needs a usable CUDA device, a profile of other
hardware a way to reach it (its [transport], or a runner that reaches the board itself through a table of
its own, such as [remote]), and each runner in use checks its own way there (`Runner.check_reach`)."""
from __future__ import annotations

import platform

from ..errors import BenchsuiteError
from ..runners import get_runner, remote_table_runners

ARM_MACHINES = ("aarch64", "arm64")


def device_elsewhere(device) -> bool:
    """True when the profile names hardware this host is not (an ARM profile on an x86 host)."""
    return device.kind == "arm" and platform.machine().lower() not in ARM_MACHINES


def how_to_reach() -> str:
    """What a profile of hardware elsewhere can add: a [transport], or a runner's own table."""
    ways = ["add a [transport] table to reach a board whose Python has benchsuite (kind = \"ssh\", \"adb\" or "
            "\"command\"; see README, ARM boards)"]
    ways += [f"for the {r.name} runner, {r.remote_table_help}" for r in remote_table_runners()]
    return "; or ".join(ways) + "; or run benchsuite on the board itself"


def check_device(device, runners=None) -> None:
    """Fail at once, with what to do, when a profile cannot run from this host (`runners`: those in use,
    default the profile's)."""
    if device.kind == "gpu":
        import torch

        if not torch.cuda.is_available():
            built = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
            raise BenchsuiteError(f"device '{device.name}' is a GPU profile, but no CUDA GPU is usable here "
                                  f"(torch {torch.__version__}, {built}); run it on a machine with an NVIDIA GPU "
                                  f"and a CUDA build of torch")
    if device_elsewhere(device) and device.transport is None and device.remote is None:
        raise BenchsuiteError(f"device '{device.name}' is an ARM profile and this host is "
                              f"{platform.machine()}: {how_to_reach()}")
    for name in runners or device.runners:
        try:
            runner = get_runner(name)
        except Exception:  # noqa: BLE001 - an unknown runner is refused where runners are named, not here
            continue
        runner.check_reach(device)
