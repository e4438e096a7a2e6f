"""Architectures at equal FLOPs (ShuffleNet V2 section 5, Fig. 1 and Table 8): within each FLOP tier (~40M,
~140M, ~300M, ~590M multiply-adds), is ShuffleNet V2 the fastest?

The workload tags each model with its tier (`tier`) and ShuffleNet V2's rows as the tier's `baseline`; within
a tier, per device, runner, threads, batch and metric, every other model's latency is divided by ShuffleNet
V2's (the ratio's 95% interval from the samples: over processes where there are several, else within one
process). A row is `slower` when the other model is slower beyond the margin (ShuffleNet V2 faster, as the
paper has it), `faster`, `same` or `unresolved`. The tier's verdict holds when every other model is slower, is
violated when any is faster or the same, else inconclusive. Each row carries the FLOP ratio of the pair
(counted), since a tier's models differ by up to ~15% in multiply-adds. Table 8's GPU and ARM speeds are not
in the suite's reference data: the rows carry no published ratio beside the measured one (the note says so).
"""
from __future__ import annotations

import numpy as np

from .base import CONFIDENCE, LATENCY, MARGIN, Study, Verdict, WorkloadInfo, div, outcome, sample_ratio, scope_of

CLAIM = "at equal FLOPs ShuffleNet V2 is faster than the other compact architectures of its tier"
PUBLISHED = ("ShuffleNet V2 section 5, Fig. 1 and Table 8 (GPU batch 8, ARM batch 1); the table's speeds are not "
             "in this suite's reference data, so no published ratio is drawn beside the measured one")


def _scope(r: dict, tier: str) -> dict:
    return scope_of(r, tier=tier)


def tier_verdicts(records: list[dict], samples, margin: float = MARGIN,
                  conf: float = CONFIDENCE) -> list[Verdict]:
    rng = np.random.default_rng(0)
    madds = {(r["run_id"], r["case_id"]): r["value"] for r in records if r["metric"] == "madds" and r["status"] == "ok"}
    tiers: dict[tuple, list[dict]] = {}
    for r in records:
        tier = (r.get("tags") or {}).get("tier")
        if tier and r["status"] == "ok" and r["metric"] in LATENCY:
            key = (r["run_id"], tuple(sorted(_scope(r, tier).items())))
            tiers.setdefault(key, []).append(r)
    out = []
    for (_, scope), rows in tiers.items():
        base = next((r for r in rows if r["tags"].get("baseline")), None)
        others = [r for r in rows if r is not base]
        if base is None or not others:
            continue
        vrows = []
        for r in sorted(others, key=lambda r: madds.get((r["run_id"], r["case_id"])) or 0):
            ratio, lo, hi, method = sample_ratio(r, base, samples, rng, conf)  # other latency / ShuffleNet V2's
            vrows.append({"row": {"model": r["model"], **r["params"]}, "latency_s": r["value"],
                          "baseline_latency_s": base["value"], "latency_ratio": ratio, "latency_ratio_ci": [lo, hi],
                          "speed_ratio": 1 / ratio, "speed_ratio_ci": [1 / hi, 1 / lo], "interval": method,
                          "flops_ratio": div(madds.get((r["run_id"], r["case_id"])),
                                             madds.get((base["run_id"], base["case_id"]))),
                          "outcome": outcome(lo, hi, margin)})
        outcomes = [v["outcome"] for v in vrows]
        verdict = ("violated" if any(o in ("faster", "same") for o in outcomes)
                   else "holds" if all(o == "slower" for o in outcomes) else "inconclusive")
        baseline = " ".join([base["model"], *(f"{k}={v}" for k, v in base["params"].items())])
        out.append(Verdict("equal FLOPs", CLAIM, verdict, dict(scope) | {"baseline": baseline},
                           vrows, note=f"intervals: {'; '.join(sorted({v['interval'] for v in vrows}))}; "
                                       f"published: {PUBLISHED}", study="equal_flops", margin=margin))
    return out


def _flops_predicted(row: dict) -> dict:
    """The figure's marker: the relative speed the pair's FLOPs predict (ShuffleNet V2's MAdds / the model's)."""
    return {"FLOPs predict": 1 / row["flops_ratio"]} if row.get("flops_ratio") else {}


class EqualFlopsStudy(Study):
    name = "equal_flops"
    title = "Architectures at equal FLOPs: is ShuffleNet V2 the fastest of its tier? (ShuffleNet V2 Table 8)"
    order = 35

    def verdicts(self, records, samples, workload: WorkloadInfo) -> list[Verdict]:
        return tier_verdicts(records, samples, workload.margin, workload.confidence)

    def format_row(self, verdict, r) -> str:
        label = ",".join(f"{k}={v}" for k, v in r["row"].items())
        lo, hi = r["latency_ratio_ci"]
        flops = f"FLOPs x{r['flops_ratio']:.2f}" if r.get("flops_ratio") else "FLOPs -"
        return (f"{label:34s} {r['latency_s'] * 1e3:9.3f} ms = x{r['latency_ratio']:.2f} [{lo:.2f}, {hi:.2f}] of "
                f"ShuffleNet V2's {r['baseline_latency_s'] * 1e3:.3f} ms  {flops:12s} {r['outcome']}")

    def headline(self, verdict) -> tuple[str, str]:
        if not verdict.rows:
            return "", ""
        r = min(verdict.rows, key=lambda x: x["latency_ratio"])  # the closest rival
        lo, hi = r["latency_ratio_ci"]
        return (f"{verdict.scope['tier']}: closest {r['row']['model']} x{r['latency_ratio']:.2f} [{lo:.2f}, {hi:.2f}] "
                "of ShuffleNet V2's latency", "Table 8: ShuffleNet V2 fastest at every tier")

    def figures(self, df, verdicts):
        from .. import figures

        spec = figures.speed_bars(verdicts, _flops_predicted, "speed relative to ShuffleNet V2 (below 1: slower)")
        return [(spec, "each model's speed relative to ShuffleNet V2 in its FLOP tier")]
