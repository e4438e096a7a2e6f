"""Energy meters that measure it: RAPL via powercap, NVML, hwmon power rails (the analytic model is
benchsuite.energy_model).

A meter is read as a monotonically increasing energy counter in joules; `EnergyUnavailable`
carries the reason when a meter cannot be used here (absent, or unreadable and how to fix it).
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

POWERCAP = Path("/sys/class/powercap")


class EnergyUnavailable(Exception):
    pass


# ---------------------------------------------------------------- RAPL through powercap

class RaplMeter:
    """Package, core, uncore and DRAM domains of RAPL from a powercap tree (Intel, and AMD Zen
    through the same interface). Counters wrap at max_energy_range_uj; deltas account for it."""

    name = "rapl"

    def __init__(self, root: Path = POWERCAP):
        self.root = Path(root)
        if not self.root.is_dir():
            raise EnergyUnavailable(f"no RAPL: {self.root} does not exist (a virtual machine, or a kernel "
                                    "without the intel_rapl / powercap driver)")
        self.domains: dict[str, tuple[Path, int]] = {}
        for d in sorted(self.root.glob("intel-rapl:*")):
            if not (d / "energy_uj").exists():
                continue
            parent = d.name.split(":")[1]
            label = (d / "name").read_text().strip()
            key = label if label.startswith("package") else f"package-{parent}/{label}"
            self.domains[key] = (d / "energy_uj", int((d / "max_energy_range_uj").read_text()))
        if not self.domains:
            raise EnergyUnavailable(f"no RAPL domains under {self.root}")
        self.read()  # fail now, with the fix, if the counters are not readable

    def read(self) -> dict[str, int]:
        out = {}
        for key, (path, _) in self.domains.items():
            try:
                out[key] = int(path.read_text())
            except PermissionError:
                raise EnergyUnavailable(
                    f"permission denied reading {path}: since Linux 5.10 RAPL counters are root-only "
                    f"(CVE-2020-8694); run as root or allow reading: sudo chmod o+r {self.root}/intel-rapl:*/energy_uj"
                ) from None
        return out

    def delta_joules(self, start: dict[str, int], end: dict[str, int]) -> dict[str, float]:
        """Energy per domain between two reads, one wrap-around of each counter allowed."""
        out = {}
        for key, (_, max_range) in self.domains.items():
            d = end[key] - start[key]
            if d < 0:
                d += max_range
            out[key] = d / 1e6
        return out

    def total(self, delta: dict[str, float]) -> float:
        """Package energy (sum over packages; core/uncore/dram are inside or beside it)."""
        pk = [v for k, v in delta.items() if k.startswith("package") and "/" not in k]
        dram = [v for k, v in delta.items() if k.endswith("/dram")]
        return sum(pk) + sum(dram)

    def close(self) -> None:
        pass


# ---------------------------------------------------------------- NVML

class NvmlMeter:
    """The GPU's total-energy counter (millijoules since driver load), Volta and newer."""

    name = "nvml"

    def __init__(self, index: int = 0, nvml=None):
        if nvml is None:
            try:
                import pynvml as nvml
            except ImportError:
                raise EnergyUnavailable("nvidia-ml-py not installed (pip install 'benchsuite[energy]')") from None
        self.nvml = nvml
        try:
            nvml.nvmlInit()
            self.handle = nvml.nvmlDeviceGetHandleByIndex(index)
            self.read()
        except nvml.NVMLError as e:
            raise EnergyUnavailable(f"NVML energy counter unavailable: {e}") from None

    def read(self) -> int:
        return self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)

    def delta_joules(self, start: int, end: int) -> float:
        return (end - start) / 1e3

    def total(self, delta: float) -> float:
        return delta

    def close(self) -> None:
        self.nvml.nvmlShutdown()


# ---------------------------------------------------------------- hwmon / INA power rails

class HwmonMeter:
    """A power rail in microwatts (hwmon power*_input, e.g. an INA226 on an ARM board), sampled in a
    thread and integrated over time (trapezoids) into a joule counter."""

    name = "hwmon"

    def __init__(self, power_file: str, interval_s: float = 0.005):
        self.path = Path(power_file)
        if not self.path.exists():
            raise EnergyUnavailable(f"power rail {self.path} does not exist")
        self.interval = interval_s
        self._joules = 0.0
        self._last = (time.monotonic(), self._watts())
        self._lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._loop, daemon=True).start()

    def _watts(self) -> float:
        try:
            return int(self.path.read_text()) / 1e6
        except PermissionError:
            raise EnergyUnavailable(f"permission denied reading {self.path}") from None

    def _sample(self) -> None:
        now, w = time.monotonic(), self._watts()
        with self._lock:
            t0, w0 = self._last
            self._joules += (now - t0) * (w + w0) / 2
            self._last = (now, w)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def read(self) -> float:
        self._sample()
        with self._lock:
            return self._joules

    def delta_joules(self, start: float, end: float) -> float:
        return end - start

    def total(self, delta: float) -> float:
        return delta

    def close(self) -> None:
        self._stop.set()


def meter_for(device):
    """The energy meter a device profile can use here, or EnergyUnavailable saying why not."""
    energy = getattr(device, "energy", None) or {}
    if energy.get("hwmon"):
        return HwmonMeter(energy["hwmon"])
    if device.kind == "gpu":
        return NvmlMeter()
    return RaplMeter(Path(energy.get("powercap", POWERCAP)))
