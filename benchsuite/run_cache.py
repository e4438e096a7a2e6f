"""What the worker processes of one run make once and reuse: files kept on the device for the run's length.

A run measures every comparison group in several fresh worker processes (the replicates). Some of a
case's preparation gives the same bytes in every process: the ONNX export of a seeded model (seconds per
case on a CPU, minutes on a board), which then only feeds a fresh runtime session. The first process that
needs such bytes makes them and keeps them here; later processes of the same run read them back. Nothing
timed is reused: every process still builds its own session, checks its output and measures afresh.

The folder is on the device (its temp directory), named by the run: `benchsuite-run-<run_id>`. The host
removes it when the run ends where the worker ran on the same machine; on a board, a worker starting a
job removes such folders left there for more than a day.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

PREFIX = "benchsuite-run-"
STALE_S = 86400.0

_current: Path | None = None


def folder(run_id: str) -> Path:
    return Path(tempfile.gettempdir()) / f"{PREFIX}{run_id}"


def use(run_id: str | None) -> None:
    """This process belongs to run `run_id` (None: to no run, nothing is kept); folders of runs older
    than a day are removed."""
    global _current
    _current = folder(run_id) if run_id else None
    if _current is None:
        return
    for old in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            if old != _current and time.time() - old.stat().st_mtime > STALE_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass


def kept(name: str, make: Callable[[], bytes]) -> tuple[bytes, bool]:
    """(the bytes named `name` in this run, whether this call made them): made by `make()` the first time
    in a run, read back after. Outside a run `make()` is called every time."""
    if _current is None:
        return make(), True
    path = _current / name
    try:
        return path.read_bytes(), False
    except OSError:
        pass
    data = make()
    try:
        _current.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # whole or absent: a process killed mid-write leaves no half file
    except OSError:
        pass  # a full or read-only temp dir costs the next process the time, not the run
    return data, True


def remove(run_id: str) -> None:
    shutil.rmtree(folder(run_id), ignore_errors=True)
