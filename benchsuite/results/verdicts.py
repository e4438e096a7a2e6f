"""Verdicts: the published claims checked against the records of runs.

Each run's records are judged by the studies its workload names (`studies = [...]` in the workload TOML,
kept in run.json); each study is its own module under studies/ and formats its own rows. Device
ceilings (cases tagged `calibration`) are never a claim's rows. Timings from an emulated device never
make a verdict hold or fail: they prove a path, not a speed. Nor do timings a runner says decide nothing
(`Runner.claim_caveat`; TVM's untuned kernels describe its default loop nests, not what it can do).
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import replace

from ..replicates import CONFIDENCE, MARGIN
from ..runners import runner_caveat
from .run import Run, RunFolder
from ..studies import Study, Verdict, WorkloadInfo, get_study, study_names

log = logging.getLogger(__name__)  # with no handler configured, warnings reach stderr as they are


def compute(records: list[dict], samples: dict, workloads: dict[str, dict]) -> list[Verdict]:
    """Verdicts for `records`; workloads: workload name -> {"studies": [names], "reference": table or None,
    "margin", "confidence"} (the last two optional: 2% and 95%)."""
    return [v for vs, recs, margin in _study_verdicts(records, samples, workloads)
            for v in _not_for_claims(vs, recs, margin)]


def undecided(records: list[dict], samples: dict, workloads: dict[str, dict]) -> Counter:
    """The verdicts over these records that are inconclusive on their own numbers (a caveat aside: more
    measurement cannot decide those), counted by the metric their scope names (None: a verdict over no
    single metric): what a sequential run measures further."""
    return Counter(v.scope.get("metric") for v in open_verdicts(records, samples, workloads))


def open_verdicts(records: list[dict], samples: dict, workloads: dict[str, dict]) -> list[Verdict]:
    """Those inconclusive verdicts themselves (each may name its `open_cases`)."""
    out = []
    for vs, recs, margin in _study_verdicts(records, samples, workloads):
        why = _caveats(recs, margin)
        out += [v for v in vs if v.verdict == "inconclusive"
                and (v.scope.get("device"), v.scope.get("runner")) not in why]
    return out


def open_cases(verdicts: list[Verdict]) -> dict[str | None, set[str] | None]:
    """Metric -> the cases whose timing of it could still decide one of these verdicts (None: every case,
    where a verdict does not name its open cases)."""
    out: dict[str | None, set[str] | None] = {}
    for v in verdicts:
        m = v.scope.get("metric")
        if v.open_cases is None or (m in out and out[m] is None):
            out[m] = None
        else:
            out[m] = (out.get(m) or set()) | set(v.open_cases)
    return out


def _study_verdicts(records, samples, workloads):
    """(verdicts, the records they judged, margin) for each workload and each study it names."""
    claims: dict[str, list[dict]] = {}
    for r in records:
        if "calibration" not in (r.get("tags") or {}):
            claims.setdefault(r["workload"], []).append(r)
    for name, recs in claims.items():
        info = workloads.get(name) or {}
        margin = MARGIN if info.get("margin") is None else float(info["margin"])
        confidence = info.get("confidence") or CONFIDENCE
        for study in info.get("studies", []):
            if study not in study_names():  # a run made by another version names a study this one lacks
                log.warning(f"benchsuite: note: workload {name!r} names study {study!r}, which is not installed here "
                            f"(installed: {', '.join(study_names())}); its verdicts are skipped")
                continue
            info_for = WorkloadInfo(name, info.get("reference"), margin, confidence, info.get("explain_latency"))
            yield get_study(study).verdicts(recs, samples, info_for), recs, margin


def _why_not_for_claims(r: dict, margin: float) -> str:
    if r.get("source") == "emulated":
        return "the timings are emulated; an emulator proves the path, not the speed"
    return runner_caveat(r, margin)


def _caveats(records: list[dict], margin: float) -> dict[tuple, str]:
    """(device, runner) -> why its timings decide no claim (emulated, or the runner's own caveat)."""
    why: dict[tuple, str] = {}
    for r in records:
        reason = _why_not_for_claims(r, margin)
        if reason:
            why.setdefault((r["device"], r["runner"]), reason)
    return why


def _not_for_claims(verdicts: list[Verdict], records: list[dict], margin: float) -> list[Verdict]:
    """Emulated timings, and timings a runner says decide nothing (`Runner.claim_caveat`: TVM's untuned or
    still improving kernels), never make a claim hold or fail: those verdicts come back inconclusive."""
    why = _caveats(records, margin)
    out = []
    for v in verdicts:
        reason = why.get((v.scope.get("device"), v.scope.get("runner")))
        if reason:
            would = f" (the numbers alone would say {v.verdict})" if v.verdict != "inconclusive" else ""
            v = replace(v, verdict="inconclusive", note=f"inconclusive because {reason}{would}. {v.note}".strip())
        out.append(v)
    return out


def judge(runs, margin: float | None = None, explain_latency=None) -> list[Verdict]:
    """Verdicts over loaded runs (results.run.Run); `margin` overrides the margin each run recorded;
    `explain_latency` is what a study that predicts latency asks (latency_model.Explainer over these runs)."""
    records, samples, workloads = [], {}, {}
    for run in runs:
        records += run.records
        samples.update(run.samples)
        if run.meta is None:
            continue  # a run without its run.json names no studies
        workloads[run.meta.workload] = {"studies": list(run.meta.studies), "reference": run.meta.reference,
                                        "margin": run.meta.margin if margin is None else margin,
                                        "confidence": run.meta.confidence, "explain_latency": explain_latency}
    return compute(records, samples, workloads)


def for_runs(*paths, margin: float | None = None, explainer=None) -> list[Verdict]:
    """Verdicts over run folders (or folders of runs); `margin` overrides each run's (default 2%); `explainer`
    makes the latency explainer from the loaded runs (see judge)."""
    runs = Run.find(*paths)
    return judge(runs, margin, explainer(runs) if explainer else None)


def format_verdicts(verdicts: list[Verdict]) -> str:
    """Human-readable verdict lines: one header per verdict, one line per row (the study formats its rows)."""
    lines = []
    for v in verdicts:
        s = v.scope
        where = ", ".join(f"{k}={val}" for k, val in s.items() if k not in ("device", "dtype"))
        margin = f" (margin ±{v.margin * 100:g}%)" if v.margin is not None else ""
        lines.append(f"{v.label} [{v.verdict.upper()}]{margin} {v.claim} — {s.get('device')}: {where}")
        study = get_study(v.study) if v.study in study_names() else Study()
        lines += [f"    {study.format_row(v, r)}" for r in v.rows]
        if v.note:
            lines.append(f"    {v.note}")
    return "\n".join(lines)


def save(verdicts: list[Verdict], folder: RunFolder) -> None:
    folder.verdicts_path.write_text(json.dumps([v.to_dict() for v in verdicts], indent=2, default=str))
