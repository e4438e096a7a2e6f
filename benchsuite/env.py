"""What a run records about the machine and software it ran on (RunMeta.environment)."""
from __future__ import annotations

import hashlib
import os
import platform
import shutil
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

LIBRARIES = ("torch", "numpy", "scipy", "pandas", "onnxruntime", "onnx", "psutil",
             "pyRAPL", "nvidia-ml-py", "altair", "vl-convert-python")  # and each runner's own (Runner.libraries)


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                  if line.startswith(("model name", "Model", "Hardware"))), platform.processor() or "unknown")
    if platform.machine().lower() in ("aarch64", "arm64") and "vendor_id" in text:
        # an x86 /proc/cpuinfo seen from aarch64 code: qemu-user emulation on an x86 host
        return f"emulated aarch64 (qemu-user) on {model}"
    return model


def cpu_flags() -> list[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line.split(":", 1)[1].split()
    except OSError:
        pass
    return []


def governor() -> str | None:
    p = Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    try:
        return p.read_text().strip()
    except OSError:
        return None


def library_versions() -> dict[str, str | None]:
    from .runners import runner_class, runner_names

    out = {}
    own = [lib for name in runner_names() for lib in getattr(runner_class(name), "libraries", ())]
    for lib in dict.fromkeys((*LIBRARIES, *own)):
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = None
    return out


def git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return r.stdout.strip() + ("-dirty" if dirty else "") if r.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def machine_id(cpu: str, cores: int, memory: int) -> str:
    """A fingerprint of the hardware class (CPU model, cores, memory), so comparisons can refuse runs
    from different machines. The hostname is left out: CI runners get a new one every time."""
    return hashlib.sha1(f"{cpu}|{cores}|{memory // 2**30}".encode()).hexdigest()[:12]


def measurement_tools() -> dict:
    """The profilers and meters the traffic and energy probes use, and where they were found."""
    tools = {name: shutil.which(name) for name in ("perf", "valgrind", "ncu")}
    powercap = Path("/sys/class/powercap")
    tools["powercap"] = str(powercap) if powercap.exists() else None
    return tools


def environment() -> dict:
    import psutil

    from .runners import get_runner, runner_names

    cpu = cpu_model()
    cores = os.cpu_count() or 1
    host = socket.gethostname()
    runners = {}
    for name in runner_names():
        ok, why = get_runner(name).availability()
        runners[name] = {"available": ok, "reason": why}
    flags = set(cpu_flags())
    return {
        "machine_id": machine_id(cpu, cores, psutil.virtual_memory().total),
        "hostname": host,
        "cpu_model": cpu,
        "logical_cores": cores,
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_bytes": psutil.virtual_memory().total,
        "cpu_features": sorted(flags & {"avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "fma",
                                        "asimd", "sve", "neon"}),
        "governor": governor() or "unreadable (no cpufreq in /sys)",
        "os": platform.platform(),
        "machine": platform.machine(),
        "python": sys.version.split()[0],
        "libraries": library_versions(),
        "git_commit": git_commit(),
        "runners": runners,
        "measurement_tools": measurement_tools(),
    }
