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

from .cpuinfo import cpu_flags

LIBRARIES = ("torch", "numpy", "scipy", "pandas", "onnxruntime", "onnx", "psutil",
             "pyRAPL", "nvidia-ml-py", "altair", "vl-convert-python")  # and each runner's own (Runner.libraries)


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def _model(text: str) -> str:
    return next((line.split(":", 1)[1].strip() for line in text.splitlines()
                 if line.startswith(("model name", "Model", "Hardware"))), platform.processor() or "unknown")


def _described_arch(text: str) -> str | None:
    """The architecture family a /proc/cpuinfo text describes: x86 keys (vendor_id, flags) or ARM keys
    (CPU implementer, Features), or None when it says neither."""
    keys = {line.split(":", 1)[0].strip() for line in text.splitlines() if ":" in line}
    if "vendor_id" in keys or "flags" in keys:
        return "x86_64"
    if "CPU implementer" in keys or "Features" in keys:
        return "aarch64"
    return None


_FAMILY = {"amd64": "x86_64", "x86_64": "x86_64", "i686": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}


def emulation(text: str | None = None, machine: str | None = None) -> str | None:
    """Why this process runs under an emulator, or None: told by the process itself, whatever a profile says.

    qemu-user runs foreign code on the host's kernel, so /proc/cpuinfo describes the host's CPU while the
    process runs as another architecture (an x86 cpuinfo seen from aarch64 code). A full-system emulator
    (qemu-system without KVM) shows a consistent guest and is not detected here."""
    text = _cpuinfo() if text is None else text
    machine = (machine or platform.machine()).lower()
    described = _described_arch(text)
    runs_as = _FAMILY.get(machine, machine)
    if described and runs_as != described:
        return (f"qemu-user: /proc/cpuinfo describes an {described} CPU ({_model(text)}) but this process runs "
                f"as {machine}")
    return None


def cpu_model() -> str:
    text = _cpuinfo()
    if not text:
        return platform.processor() or "unknown"
    if emulation(text):  # qemu-user takes the core it emulates from QEMU_CPU (its default: `max`)
        core = os.environ.get("QEMU_CPU") or "max"
        return f"emulated {platform.machine()} (qemu-user, {core} core) on {_model(text)}"
    return _model(text)


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


MALLOC_KEYS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_ARENA_MAX", "LD_PRELOAD")


def malloc_settings() -> str:
    """The C allocator's settings this process runs with (glibc's tunables, a preloaded allocator): they decide
    whether a forward maps fresh memory and pays page faults (probes/page_faults.py)."""
    set_ = [f"{k}={os.environ[k]}" for k in MALLOC_KEYS if k in os.environ]
    return ", ".join(set_) if set_ else "the C library's default malloc settings"


def environment() -> dict:
    import psutil

    from .runners import get_runner, runner_names

    cpu = cpu_model()
    cores = os.cpu_count() or 1
    host = socket.gethostname()
    runners = {}
    for name in runner_names():
        runner = get_runner(name)
        ok, why = runner.availability()
        runners[name] = {"available": ok, "reason": why}
        if not runner.measures_hardware:
            runners[name]["stand_in"] = True  # a test stand-in (the fake runner): reports leave it out
    flags = set(cpu_flags())
    return {
        "machine_id": machine_id(cpu, cores, psutil.virtual_memory().total),
        "hostname": host,
        "cpu_model": cpu,
        "emulation": emulation(),
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
        "malloc": malloc_settings(),
        "git_commit": git_commit(),
        "runners": runners,
        "measurement_tools": measurement_tools(),
    }
