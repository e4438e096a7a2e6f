"""The Record schema (one case, one metric per row) that every layer speaks, its JSONL I/O and the tidy frame.

The device makes records, the host stamps and writes them, results/ reads them back (results/run.py owns
the files of a run folder). Format changelog (bump SCHEMA_VERSION and add an upgrade step in `_upgrade`
for every change):
  1  first version.
  2  `source` may be "emulated" (timings taken under an emulator such as qemu-user); `fingerprint`: a hash
     of the code that built and ran the case (the model's and the runner's modules, benchsuite's version),
     so a comparison can tell a code change from a machine's. v1 records upgrade with fingerprint "".
  3  `processes` (how many worker processes measured a timing record: 1, or N pooled) and
     `process_medians` (each process's median, N > 1) are columns, where v2 carried them as extra keys that
     the history index dropped. v2 records upgrade with the values they carried, else None.
  4  inputs may be non-square: `height` and `width` (integers) are columns, and `resolution` is the size as
     text, "224" or "640x480" (height x width; benchsuite/input_size.py). v3 records (square, `resolution` an
     integer) upgrade with height = width = resolution.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from .metrics import unit_of

SCHEMA_VERSION = 4
SOURCES = ("measured", "simulated", "modeled", "emulated")
STATUSES = ("ok", "skipped", "unsupported", "error")

# The columns of a record, in order. `params` (model knobs), `tags` (workload labels) and
# `config` (runner settings) are dicts in JSONL and are flattened to one column per key by load_runs.
COLUMNS = ("schema_version", "run_id", "case_id", "fingerprint", "group_id", "workload", "device", "runner", "model",
           "params", "tags", "batch_size", "resolution", "height", "width", "dtype", "threads", "metric", "unit",
           "value", "n", "ci_low", "ci_high", "iqr", "min", "max", "processes", "process_medians", "source", "status",
           "message", "config")
_STATS = ("value", "n", "ci_low", "ci_high", "iqr", "min", "max")

def make_record(case, metric: str, *, status: str = "ok", source: str = "measured", message: str = "",
                config: dict | None = None, run_id: str = "", unit: str | None = None, **stats) -> dict:
    """A record for `case` and `metric`. Statistics absent for a non-ok status stay None, never 0."""
    if status not in STATUSES:
        raise ValueError(f"status {status!r} not in {STATUSES}")
    if source not in SOURCES:
        raise ValueError(f"source {source!r} not in {SOURCES}")
    if status == "ok" and stats.get("value") is None:
        raise ValueError("an ok record needs a value")
    if status != "ok" and not message:
        raise ValueError(f"a {status} record needs a message saying why")
    rec = {"schema_version": SCHEMA_VERSION, "run_id": run_id, "case_id": case.case_id, "fingerprint": "",
           "group_id": case.group_id, "workload": case.workload, "device": case.device,
           "runner": case.runner, "model": case.model, "params": case.params, "tags": dict(case.tags),
           "batch_size": case.batch_size, "resolution": str(case.resolution),
           "height": case.resolution.height, "width": case.resolution.width, "dtype": case.dtype,
           "threads": case.threads, "metric": metric,
           "unit": unit or unit_of(metric),
           **{k: stats.get(k) for k in _STATS}, "processes": None, "process_medians": None,
           "source": source, "status": status, "message": message, "config": config or {}}
    return rec


def error_records(case, message: str, *, status: str = "error", metrics=None, run_id: str = "") -> list[dict]:
    return [make_record(case, m, status=status, message=message, run_id=run_id)
            for m in (metrics or case.metrics)]


def _clean(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


def append_jsonl(path: Path, rows: list[dict]) -> None:
    """Append rows and fsync, so a crash or SIGKILL later loses nothing already written."""
    if not rows:
        return
    with open(path, "a") as f:
        for r in rows:
            f.write(json.dumps({k: _clean(v) for k, v in r.items()}, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: Path) -> list[dict]:
    """Read a JSONL file; a torn last line (the writer was killed mid-line) is dropped."""
    rows = []
    if not path.exists():
        return rows
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break
            raise ValueError(f"{path}:{i + 1}: corrupt record line") from None
    return rows


def _upgrade(rec: dict) -> dict:
    """Bring a record of any older schema version to the current one."""
    v = rec.get("schema_version")
    if v is None or v > SCHEMA_VERSION:
        raise ValueError(f"unknown record schema version {v!r} (this benchsuite reads up to {SCHEMA_VERSION})")
    if v == 1:  # v2 added a value of `source` and the `fingerprint` column
        rec = {**rec, "schema_version": 2, "fingerprint": rec.get("fingerprint", "")}
        v = 2
    if v == 2:  # v3 made `processes` and `process_medians` columns
        rec = {**rec, "schema_version": 3, "processes": rec.get("processes"),
               "process_medians": rec.get("process_medians")}
        v = 3
    if v == 3:  # v4: sizes have two sides; every older input was square
        side = int(rec["resolution"])
        rec = {**rec, "schema_version": 4, "resolution": str(side), "height": side, "width": side}
    return rec


def upgrade_records(records: list[dict]) -> list[dict]:
    """Records of any older schema version (a file, a history index row) brought to the current one."""
    return [_upgrade(r) for r in records]


def read_records_file(path: Path) -> list[dict]:
    """A records file's rows, each brought to the current schema."""
    return upgrade_records(read_jsonl(Path(path)))


def to_frame(records: list[dict]):
    """Records -> tidy DataFrame, with params.*, tags.* and config.* flattened to one column per key."""
    import pandas as pd

    if not records:
        return pd.DataFrame(columns=list(COLUMNS))
    df = pd.json_normalize(records, sep=".")
    front = [c for c in COLUMNS if c in df.columns]
    return df[front + sorted(c for c in df.columns if c not in front)]
