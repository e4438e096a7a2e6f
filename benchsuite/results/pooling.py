"""One case measured in several worker processes: its records pooled into one, processes kept apart.

With `--processes N` every comparison group is measured N times, each time in a fresh worker process,
in rounds over the whole sweep so that slow drift of the machine reaches every row alike. A timing
record then carries the pooled median, the median of each process beside it, and an interval from the
hierarchical bootstrap (processes resampled, then samples within them): one that covers run-to-run
variation, which the samples of one process cannot show. Other metrics (counts, probes, one-off costs)
come from the first process that measured them.
"""
from __future__ import annotations

import numpy as np

from ..metrics import TIMING_METRICS
from ..replicates import covers, median_interval

DERIVED_FROM_LATENCY = ("achieved_flops", "achieved_bandwidth")  # x / median forward latency


def pool_case(rounds: list[tuple[list[dict], list[dict]]], seed: int = 0) -> tuple[list[dict], list[dict]]:
    """rounds: (records, samples) of one case from each process, in order. Returns (records, samples)."""
    rng = np.random.default_rng(seed)
    by_metric: dict[str, list] = {}
    numbers: dict[str, int] = {}
    for _, samples in rounds:
        for s in samples:
            by_metric.setdefault(s["metric"], []).append(s["samples"])
            numbers.setdefault(s["metric"], s["number"])
    out_records, out_samples, latency_scale = [], [], None
    seen = set()
    for records, _ in rounds:
        for r in records:
            if r["metric"] in seen:
                continue
            if r["metric"] in TIMING_METRICS and r["metric"] in by_metric and r["status"] != "ok":
                continue  # an errored process: the metric's record comes from a process that measured it
            seen.add(r["metric"])
            out_records.append(dict(r))
    for r in out_records:
        parts = by_metric.get(r["metric"])
        if r["metric"] not in TIMING_METRICS or not parts or r["status"] != "ok":
            continue
        flat = np.concatenate([np.asarray(p, float) for p in parts])
        value, lo, hi = median_interval(parts, rng)
        q1, q3 = np.percentile(flat, [25, 75])
        if r["metric"] == "latency_forward":
            latency_scale = r["value"] / value
        # processes that were asked for the metric and gave no samples (a sequential run stops timing a
        # metric whose verdicts are decided, so later processes may not have been asked at all)
        missing = sum(any(x["metric"] == r["metric"] for x in records) for records, _ in rounds) - len(parts)
        note = f"{len(parts)} processes" + (f" ({missing} failed)" if missing else "") + f"; interval covers " \
               f"{covers(parts)}"
        r.update(value=value, ci_low=lo, ci_high=hi, n=int(len(flat)), iqr=float(q3 - q1), min=float(flat.min()),
                 max=float(flat.max()), processes=len(parts),
                 process_medians=[float(np.median(p)) for p in parts],
                 message=f"{note}; {r['message']}" if r["message"] else note)
        out_samples.append({"case_id": r["case_id"], "metric": r["metric"], "number": numbers[r["metric"]],
                            "samples": flat.tolist(), "process_samples": [list(map(float, p)) for p in parts]})
    if latency_scale is not None:
        for r in out_records:
            if r["metric"] in DERIVED_FROM_LATENCY and r["status"] == "ok":
                r["value"] *= latency_scale
    return out_records, out_samples
