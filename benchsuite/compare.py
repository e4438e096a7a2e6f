"""Regression detection: a candidate run against a baseline (one run, or the pooled history).

Cases are joined on (case_id, metric) for the timing metrics. A case is `slower` / `faster` when
a two-sided Mann-Whitney U test on the raw samples gives p < alpha AND the median moved by more
than min_effect; otherwise `not significant`. Both conditions matter: with thousands of samples a
0.5% shift is "significant" yet meaningless, and between-process drift of a shared machine is real
variance that only an effect threshold absorbs. Defaults: alpha = 0.01, min_effect = 5%.
Runs from different machines or library versions are refused unless forced.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as sps

from .errors import BenchsuiteError
from .metrics import TIMING_METRICS

ALPHA = 0.01
MIN_EFFECT = 0.05


@dataclass
class CaseChange:
    case_id: str
    metric: str
    label: str
    base_median: float
    cand_median: float
    ratio: float
    p_value: float
    outcome: str   # slower / faster / not significant


@dataclass
class Comparison:
    base: str
    candidate: str
    changes: list[CaseChange] = field(default_factory=list)
    unmatched: int = 0
    code_changed: int = 0  # joined cases whose model or runner code differs between the two sides

    @property
    def regressions(self) -> list[CaseChange]:
        return [c for c in self.changes if c.outcome == "slower"]

    @property
    def geomean_ratio(self) -> float:
        r = [c.ratio for c in self.changes]
        return float(math.exp(np.mean(np.log(r)))) if r else math.nan


def check_comparable(base_env: dict, cand_env: dict, force: bool) -> None:
    """Refuse to compare runs from different machines or library versions unless forced."""
    problems = []
    if base_env.get("machine_id") != cand_env.get("machine_id"):
        problems.append(f"machines differ ({base_env.get('cpu_model')} / {base_env.get('hostname')} vs "
                        f"{cand_env.get('cpu_model')} / {cand_env.get('hostname')})")
    bl, cl = base_env.get("libraries", {}), cand_env.get("libraries", {})
    diff = sorted(k for k in set(bl) | set(cl) if bl.get(k) != cl.get(k))
    if diff:
        problems.append("library versions differ: " + ", ".join(f"{k} {bl.get(k)} -> {cl.get(k)}" for k in diff))
    if problems and not force:
        raise BenchsuiteError("runs are not comparable: " + "; ".join(problems) + " (use --force to compare anyway)")


def _label(r: dict) -> str:
    knobs = ",".join(f"{k}={v}" for k, v in {**r["params"], **r["tags"]}.items())
    return f"{r['model']}({knobs}) b{r['batch_size']} r{r['resolution']} {r['runner']} t{r['threads']} {r['metric']}"


def classify(base, cand, alpha: float = ALPHA, min_effect: float = MIN_EFFECT) -> tuple[float, float, str]:
    """(candidate/base median ratio, p-value, outcome) from two raw sample lists."""
    ratio = float(np.median(cand) / np.median(base))
    p = float(sps.mannwhitneyu(cand, base, alternative="two-sided").pvalue)
    if p < alpha and ratio > 1 + min_effect:
        return ratio, p, "slower"
    if p < alpha and ratio < 1 / (1 + min_effect):
        return ratio, p, "faster"
    return ratio, p, "not significant"


def compare(base_records: list[dict], base_samples: dict, cand_records: list[dict], cand_samples: dict,
            base_name: str, cand_name: str, alpha: float = ALPHA, min_effect: float = MIN_EFFECT) -> Comparison:
    """Samples are keyed (case_id, metric); a baseline's may pool several runs."""
    timed = lambda rs: {(r["case_id"], r["metric"]): r for r in rs  # noqa: E731
                        if r["status"] == "ok" and r["metric"] in TIMING_METRICS}
    base, cand = timed(base_records), timed(cand_records)
    out = Comparison(base_name, cand_name, unmatched=len(set(base) ^ set(cand)))
    out.code_changed = sum(1 for k in set(base) & set(cand)
                           if base[k].get("fingerprint") and cand[k].get("fingerprint")
                           and base[k]["fingerprint"] != cand[k]["fingerprint"])
    for key in sorted(set(base) & set(cand)):
        b, c = base_samples.get(key), cand_samples.get(key)
        if not b or not c:
            out.unmatched += 1
            continue
        ratio, p, outcome = classify(b, c, alpha, min_effect)
        out.changes.append(CaseChange(key[0], key[1], _label(cand[key]), float(np.median(b)), float(np.median(c)),
                                      ratio, p, outcome))
    return out


def format_comparison(cmp: Comparison) -> str:
    lines = [f"base {cmp.base} -> candidate {cmp.candidate}"]
    for c in cmp.changes:
        lines.append(f"  {c.outcome:16s} x{c.ratio:.3f}  p={c.p_value:.2g}  {c.base_median * 1e3:.4g} -> "
                     f"{c.cand_median * 1e3:.4g} ms  {c.label}")
    n_slow = len(cmp.regressions)
    n_fast = sum(c.outcome == "faster" for c in cmp.changes)
    lines.append(f"{len(cmp.changes)} cases: {n_slow} slower, {n_fast} faster, "
                 f"{len(cmp.changes) - n_slow - n_fast} not significant; geometric mean ratio "
                 f"x{cmp.geomean_ratio:.3f}" + (f"; {cmp.unmatched} without a counterpart" if cmp.unmatched else ""))
    if cmp.code_changed:
        lines.append(f"warning: {cmp.code_changed} case(s) ran different model or runner code (their fingerprints "
                     "differ): a change there may be the code's, not the machine's")
    return "\n".join(lines)


@dataclass
class LoadedRun:
    name: str
    environment: dict
    records: list[dict]
    samples: dict  # (case_id, metric) -> samples


def load_run(ref: str, history=None) -> LoadedRun:
    """A run by folder path, or by run id from the history database."""
    import json
    from pathlib import Path

    from .records import RUN_FILE, read_jsonl, read_records

    p = Path(ref)
    if (p / RUN_FILE).exists():
        meta = json.loads((p / RUN_FILE).read_text())
        samples = {(s["case_id"], s["metric"]): s["samples"] for s in read_jsonl(p / "samples.jsonl")}
        return LoadedRun(meta["run_id"], meta.get("environment", {}), read_records(p), samples)
    if history is not None:
        meta = history.meta(ref)
        if meta is not None:
            return LoadedRun(ref, meta.get("environment", {}), history.records(ref), history.samples(ref))
    raise BenchsuiteError(f"no run '{ref}': neither a run folder nor a run id in the history database")


def regress(history, workload: str, device: str, window: int = 5, force: bool = False,
            alpha: float = ALPHA, min_effect: float = MIN_EFFECT) -> Comparison | None:
    """The newest run of (workload, device) against the pooled samples of the `window` runs before it
    that are comparable with it. None when there is no earlier comparable run."""
    runs = [r for r in history.runs(workload=workload, device=device) if r["status"] == "complete"]
    if len(runs) < 2:
        return None
    cand = load_run(runs[-1]["run_id"], history)
    pooled_records, pooled_samples, used = {}, {}, []
    for r in reversed(runs[:-1]):
        if len(used) == window:
            break
        base = load_run(r["run_id"], history)
        try:
            check_comparable(base.environment, cand.environment, force)
        except BenchsuiteError:
            continue
        used.append(base.name)
        for rec in base.records:
            pooled_records.setdefault((rec["case_id"], rec["metric"]), rec)
        for key, s in base.samples.items():
            pooled_samples.setdefault(key, []).extend(s)
    if not used:
        return None
    return compare(list(pooled_records.values()), pooled_samples, cand.records, cand.samples,
                   f"{len(used)} earlier runs ({used[-1]} .. {used[0]})", cand.name, alpha, min_effect)
