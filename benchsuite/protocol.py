"""What the host and a worker say to each other: JSON lines over the worker's stdin and stdout.

The host writes one line, the job; the worker answers with one message per line:

    {"type": "hello", "benchsuite": "0.2.0", "schema_version": 1, "machine": "aarch64", "python": "3.11.2",
     "emulated": "qemu-user: ..."}                            (emulated: why, from the worker itself; or null)
    {"type": "heartbeat", "doing": "...", "for_s": 12.5, "work": 431}
                          (every few seconds while a job runs: what it is doing, and a count of work done)
    {"type": "environment", "environment": {...}}           (environment jobs)
    {"type": "progress", "text": "...", "timeout_s": 900, "timeout_key": "prepare_timeout_s", "case_id": "..."}
                          (a new step: timeout_s bounds how long its work may stand still, timeout_key is the
                           profile key that set it, case_id the one case the step works on, if it is one's)
    {"type": "case", "case_id": "...", "records": [...], "samples": [...]}
    {"type": "records", "records": [...]}                   (records of no case: the bandwidth ceiling)
    {"type": "end"}

Jobs: {"task": "group", "cases": [...], "device": {...}, "quick": bool},
{"task": "bandwidth", "device": {...}, "quick": bool, "threads": [1, 2], "workload": "..."},
{"task": "environment"}. The worker is the same program on every transport.
"""
from __future__ import annotations

import json
import platform
import sys
from dataclasses import asdict, fields
from typing import Any

from . import __version__
from .records import SCHEMA_VERSION


def hello() -> dict:
    from .env import emulation

    return {"type": "hello", "benchsuite": __version__, "schema_version": SCHEMA_VERSION,
            "machine": platform.machine(), "python": sys.version.split()[0], "emulated": emulation()}


def incompatibility(msg: dict) -> str | None:
    """Why a worker's hello makes its records incomparable with this host's, or None.

    Only the benchsuite version and the record format are refused; library versions may differ from
    the host's (a board records its own) and are recorded, not refused."""
    theirs = (msg.get("benchsuite"), msg.get("schema_version"))
    if theirs[0] != __version__:
        return f"benchsuite {theirs[0]} is installed there but this host runs {__version__}"
    if theirs[1] != SCHEMA_VERSION:
        return f"it writes record format v{theirs[1]} but this host writes v{SCHEMA_VERSION}"
    return None


def _plain(o: Any):
    if hasattr(o, "item"):  # numpy and torch scalars
        return o.item()
    raise TypeError(f"cannot send a {type(o).__name__} to or from a worker")


def dumps(msg: dict) -> str:
    return json.dumps(msg, default=_plain)


def loads(line: str) -> dict:
    msg = json.loads(line)
    if not isinstance(msg, dict) or "type" not in msg and "task" not in msg:
        raise ValueError(f"not a benchsuite message: {line[:200]!r}")
    return msg


# ------------------------------------------------------------------ cases and devices as JSON

def case_to_dict(case) -> dict:
    return {**asdict(case), "resolution": str(case.resolution)}  # "224" or "640x480"; Case parses it back


def case_from_dict(d: dict):
    from .sweep import Case

    pairs = ("knobs", "tags")
    return Case(**{k: (tuple(tuple(p) for p in v) if k in pairs else tuple(v) if isinstance(v, list) else v)
                   for k, v in d.items()})


def device_to_dict(device) -> dict:
    return asdict(device)


def device_from_dict(d: dict):
    from .measure import Timing
    from .spec import DeviceSpec

    kw = {}
    for f in fields(DeviceSpec):
        v = d.get(f.name)
        if f.name in ("timing", "timing_quick"):
            v = Timing(**v)
        elif isinstance(v, list):
            v = tuple(v)
        if f.name in d:
            kw[f.name] = v
    return DeviceSpec(**kw)


def group_job(cases, device, quick: bool, run_id: str | None = None, once=None) -> dict:
    """`run_id`: the run the job's process belongs to (what its processes make once is kept for it,
    run_cache.py); `once`: the case ids that take the once-per-run records (analytic counts, probes), all
    when None."""
    return {"task": "group", "cases": [case_to_dict(c) for c in cases], "device": device_to_dict(device),
            "quick": quick, "run_id": run_id, "once": None if once is None else sorted(once)}


def bandwidth_job(device, quick: bool, threads: list[int], workload: str) -> dict:
    return {"task": "bandwidth", "device": device_to_dict(device), "quick": quick, "threads": threads,
            "workload": workload}
