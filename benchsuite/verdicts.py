"""Verdicts: the published claims checked against the records of runs.

Each run's records are judged by the studies its workload names (`studies = [...]` in the workload TOML,
kept in run.json); each study is its own module under studies/ and formats its own rows. Device
ceilings (cases tagged `calibration`) are never a claim's rows. Timings from an emulated device never
make a verdict hold or fail: they prove a path, not a speed. Nor do timings of TVM cases whose kernels
were not (all) tuned: they describe TVM's default loop nests, not what TVM can do.
"""
from __future__ import annotations

import json
import sys

from .replicates import MARGIN
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
        margin = MARGIN if info.get("margin") is None else float(info["margin"])
        for study in info.get("studies", []):
            if study not in study_names():  # a run made by another version names a study this one lacks
                print(f"benchsuite: note: workload {name!r} names study {study!r}, which is not installed here "
                      f"(installed: {', '.join(study_names())}); its verdicts are skipped", file=sys.stderr)
                continue
            vs = get_study(study).verdicts(recs, samples, WorkloadInfo(name, info.get("reference"), margin))
            out += _not_for_claims(vs, recs, margin)
    return out


def _why_not_for_claims(r: dict, margin: float) -> str:
    if r.get("source") == "emulated":
        return "the timings are emulated; an emulator proves the path, not the speed"
    config = r.get("config") or {}
    if not r.get("metric", "").startswith("latency"):
        return ""
    if config.get("tuning") in ("untuned", "partial"):
        return (f"TVM's kernels are {config['tuning']} here (default loop nests, not TVM's speed); run benchsuite "
                "tune for this device and workload first")
    gain = config.get("last_doubling_gain")
    if gain is not None and gain > margin:
        return (f"TVM's tuning had not converged: its estimated forward time still fell {gain:.0%} over the last "
                "doubling of trials per task (more than the margin), so more tuning could change the verdict")
    return ""


def _not_for_claims(verdicts: list[Verdict], records: list[dict], margin: float) -> list[Verdict]:
    """Emulated timings, and timings of TVM kernels untuned or still improving, never make a claim hold or fail."""
    why: dict[tuple, str] = {}
    for r in records:
        reason = _why_not_for_claims(r, margin)
        if reason:
            why.setdefault((r["device"], r["runner"]), reason)
    for v in verdicts:
        reason = why.get((v.scope.get("device"), v.scope.get("runner")))
        if reason:
            would = f" (the numbers alone would say {v.verdict})" if v.verdict != "inconclusive" else ""
            v.note = f"inconclusive because {reason}{would}. {v.note}".strip()
            v.verdict = "inconclusive"
    return verdicts


def for_runs(*paths, margin: float | None = None) -> list[Verdict]:
    """Verdicts over run folders; `margin` overrides the margin each run recorded (default 2%)."""
    from .records import RUN_FILE, read_jsonl, read_records, run_dirs, sample_sets

    records, samples, workloads = [], {}, {}
    for d in run_dirs(*paths):
        records += read_records(d)
        for s in read_jsonl(d / "samples.jsonl"):
            samples[(s.get("run_id"), s["case_id"], s["metric"])] = sample_sets(s)
        try:
            meta = json.loads((d / RUN_FILE).read_text())
        except (OSError, ValueError):
            continue  # a run without its run.json names no studies
        workloads[meta.get("workload")] = {"studies": meta.get("studies", []), "reference": meta.get("reference"),
                                           "margin": meta.get("margin") if margin is None else margin}
    return compute(records, samples, workloads)


def format_verdicts(verdicts: list[Verdict]) -> str:
    """Human-readable verdict lines: one header per verdict, one line per row (the study formats its rows)."""
    lines = []
    for v in verdicts:
        s = v.scope
        where = ", ".join(f"{k}={val}" for k, val in s.items() if k not in ("device", "dtype"))
        margin = f" (margin ±{v.margin * 100:g}%)" if v.margin is not None else ""
        lines.append(f"{v.study} [{v.verdict.upper()}]{margin} {v.claim} — {s.get('device')}: {where}")
        study = get_study(v.by) if v.by in study_names() else Study()
        lines += [f"    {study.format_row(v, r)}" for r in v.rows]
        if v.note:
            lines.append(f"    {v.note}")
    return "\n".join(lines)


VERDICTS_FILE = "verdicts.json"


def save(verdicts: list[Verdict], run_dir) -> None:
    from pathlib import Path

    (Path(run_dir) / VERDICTS_FILE).write_text(json.dumps([v.to_dict() for v in verdicts], indent=2, default=str))
