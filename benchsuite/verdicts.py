"""Verdicts: the published claims checked against the records of runs.

Each run's records are judged by the studies its workload names (`studies = [...]` in the workload TOML,
kept in run.json); each study is its own module under studies/ and formats its own rows. Device
ceilings (cases tagged `calibration`) are never a claim's rows. Timings from an emulated device never
make a verdict hold or fail: they prove a path, not a speed.
"""
from __future__ import annotations

import json

from .studies import Study, Verdict, WorkloadInfo, get_study, study_names


def compute(records: list[dict], samples: dict, workloads: dict[str, dict]) -> list[Verdict]:
    """Verdicts for `records`; workloads: workload name -> {"studies": [names], "reference": table or None}."""
    claims: dict[str, list[dict]] = {}
    for r in records:
        if "calibration" not in (r.get("tags") or {}):
            claims.setdefault(r["workload"], []).append(r)
    out: list[Verdict] = []
    for name, recs in claims.items():
        info = workloads.get(name) or {}
        for study in info.get("studies", []):
            out += get_study(study).verdicts(recs, samples, WorkloadInfo(name, info.get("reference")))
    return _emulated_inconclusive(out, records)


def _emulated_inconclusive(verdicts: list[Verdict], records: list[dict]) -> list[Verdict]:
    """Timings from an emulator prove that a path runs, not how fast hardware is: never holds/violated."""
    emulated = {(r["device"], r["runner"]) for r in records if r.get("source") == "emulated"}
    for v in verdicts:
        if (v.scope.get("device"), v.scope.get("runner")) in emulated:
            would = f" (the numbers alone would say {v.verdict})" if v.verdict != "inconclusive" else ""
            v.note = (f"inconclusive because the timings are emulated{would}; an emulator proves the path, "
                      "not the speed. " + v.note).strip()
            v.verdict = "inconclusive"
    return verdicts


def for_runs(*paths) -> list[Verdict]:
    from .records import RUN_FILE, read_jsonl, read_records, run_dirs

    records, samples, workloads = [], {}, {}
    for d in run_dirs(*paths):
        records += read_records(d)
        for s in read_jsonl(d / "samples.jsonl"):
            samples[(s.get("run_id"), s["case_id"], s["metric"])] = s["samples"]
        try:
            meta = json.loads((d / RUN_FILE).read_text())
        except (OSError, ValueError):
            continue  # a run without its run.json names no studies
        workloads[meta.get("workload")] = {"studies": meta.get("studies", []), "reference": meta.get("reference")}
    return compute(records, samples, workloads)


def format_verdicts(verdicts: list[Verdict]) -> str:
    """Human-readable verdict lines: one header per verdict, one line per row (the study formats its rows)."""
    lines = []
    for v in verdicts:
        s = v.scope
        where = ", ".join(f"{k}={val}" for k, val in s.items() if k not in ("device", "dtype"))
        lines.append(f"{v.study} [{v.verdict.upper()}] {v.claim} — {s.get('device')}: {where}")
        study = get_study(v.by) if v.by in study_names() else Study()
        lines += [f"    {study.format_row(v, r)}" for r in v.rows]
        if v.note:
            lines.append(f"    {v.note}")
    return "\n".join(lines)


VERDICTS_FILE = "verdicts.json"


def save(verdicts: list[Verdict], run_dir) -> None:
    from pathlib import Path

    (Path(run_dir) / VERDICTS_FILE).write_text(json.dumps([v.to_dict() for v in verdicts], indent=2, default=str))
