"""What the kernel says the CPU can do (/proc/cpuinfo), for the layers below env: a runner's compile
target follows the instruction-set extensions the machine exposes."""
from __future__ import annotations

from pathlib import Path


def cpu_flags() -> list[str]:
    """The CPU's feature flags (x86 `flags`, ARM `Features`), as the kernel lists them; [] if unreadable."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line.split(":", 1)[1].split()
    except OSError:
        pass
    return []
