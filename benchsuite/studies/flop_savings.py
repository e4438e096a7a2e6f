"""Do cheap operators' FLOP savings become speed? Claims of the MobileNetV1, GhostNet and MobileNetV3 papers.

Each claim is found by the knob that swaps the expensive operator for the cheap one (a model of
models/operator_pairs.py, MobileNetV1's `separable`, MobileNetV3-Large's `activation`), with the knob's
value of the expensive one (the baseline row of its comparison group, measured interleaved with the
others). For every other row: speed-up = baseline latency / row latency, with the 95% interval of the
hierarchical bootstrap (studies.base.sample_ratio), and the FLOP ratio = baseline multiply-adds / row
multiply-adds (counted). What the claim expects:

- `below`  (depthwise separable, MobileNetV1 sections 3.1-3.2, Tables 3-4): "8-9x fewer multiply-adds" is
  not 8-9x faster: a row is `below` when its interval lies wholly under FLOP ratio / (1 + margin),
  `reaches` when wholly above it, else `unresolved`. Holds when every row is below, violated if any reaches.
- `reaches` (ghost module, GhostNet section 3.1, eq. 4: the theoretical speed-up is about s): the mirror:
  holds when every row reaches its FLOP ratio within the margin, violated if any stays below.
- `faster` (MobileNetV3 section 5.2: swish is expensive, its hard version cheap, at equal counted
  operations): as the guidelines, each row `faster` / `slower` / `same` / `unresolved` against the baseline
  by the margin; holds when every row is faster, violated if any is slower.
- `same` (pruning, the compression post: 90% unstructured magnitude pruning leaves a dense kernel's latency
  unchanged): holds when the row is the same within the margin, violated when faster or slower. A claim
  may expect differently per row: filter pruning to the same parameter count is expected `faster`.
Registered as one study, `flop_savings`; a workload names it, and each model's swapping knob says which
claim applies (the knob is also the workload's `compare` knob, so a group holds one operator's variants).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import CONFIDENCE, LATENCY, MARGIN, Study, Verdict, WorkloadInfo, div, sample_ratio, scope_of
from .base import outcome as outcome_of


@dataclass(frozen=True)
class Saving:
    name: str          # the claim's label in the verdict matrix
    knob: str          # the knob that swaps the operator (it names the claim)
    baseline: object   # its value for the expensive operator
    expect: str | dict  # below / reaches / faster / same, or {row value: one of them}
    claim: str
    published: str     # the published figure beside it (paper, table)


SAVINGS = {s.knob: s for s in (
    Saving("depthwise", "kind", "standard", "below",
           "a depthwise separable layer's 8-9x fewer multiply-adds do not make it 8-9x faster",
           "MobileNetV1 Table 3 (D_F=14, M=N=512): standard 462M MAdds vs separable 52.3M (x8.8)"),
    Saving("depthwise", "separable", False, "below",
           "MobileNetV1's 8.6x fewer multiply-adds than its full-convolution version do not make it 8.6x faster",
           "MobileNetV1 Table 4: conv MobileNet 4866M MAdds, 29.3M params vs MobileNet 569M, 4.2M (x8.6)"),
    Saving("ghost", "s", 1, "reaches",
           "a ghost module with ratio s is about s times faster than the convolution it replaces",
           "GhostNet section 3.1, eq. 4: theoretical speed-up ratio s*c/(s+c-1) ~ s (k = d)"),
    Saving("activation", "act", "swish", "faster",
           "hard-swish (and ReLU) are cheaper than swish at equal counted operations",
           "MobileNetV3 section 5.2: swish's sigmoid is expensive on mobile; h-swish replaces it"),
    Saving("activation", "activation", "swish", "faster",
           "MobileNetV3-Large with hard-swish is faster than with swish",
           "MobileNetV3 section 5.2 (no per-model latency shipped here)"),
    Saving("pruning", "prune", "none", {"unstructured": "same", "filters": "faster"},
           "90% unstructured pruning leaves dense-kernel latency unchanged; filter pruning to the same "
           "parameter count speeds up",
           "the compression post: unstructured sparsity needs sparse kernels to pay off; removing filters "
           "shrinks the dense work"),
)}


def _scope(r: dict, saving: Saving) -> dict:
    fixed = {k: v for k, v in r["params"].items() if k != saving.knob}
    return scope_of(r, model=r["model"], **fixed, **r["tags"])


def row_outcome(expect: str, speed_lo: float, speed_hi: float, flops_ratio: float | None, margin: float) -> str:
    """One row's outcome against what its claim expects (speed-up interval [lo, hi])."""
    if expect in ("faster", "same"):  # latency ratio = 1 / speed-up
        return outcome_of(1 / speed_hi, 1 / speed_lo, margin)
    if not flops_ratio:
        return "unresolved"
    target = flops_ratio / (1 + margin)
    return "below" if speed_hi < target else "reaches" if speed_lo >= target else "unresolved"


RULES = {"below": ("below", {"reaches"}), "reaches": ("reaches", {"below"}), "faster": ("faster", {"slower"}),
         "same": ("same", {"faster", "slower"})}


def group_verdict(expect: str | list[str], outcomes: list[str]) -> str:
    """holds when every row is what its expectation wants, violated when any is what it rules out."""
    expects = [expect] * len(outcomes) if isinstance(expect, str) else expect
    if any(o in RULES[e][1] for e, o in zip(expects, outcomes)):
        return "violated"
    return "holds" if outcomes and all(o == RULES[e][0] for e, o in zip(expects, outcomes)) else "inconclusive"


def savings_verdicts(records: list[dict], samples, margin: float = MARGIN,
                     conf: float = CONFIDENCE) -> list[Verdict]:
    rng = np.random.default_rng(0)
    madds = {(r["run_id"], r["case_id"]): r["value"] for r in records if r["metric"] == "madds" and r["status"] == "ok"}
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        knobs = [k for k in r["params"] if k in SAVINGS]
        if r["status"] == "ok" and r["metric"] in LATENCY and len(knobs) == 1:
            groups.setdefault((r["run_id"], r["group_id"], r["metric"], knobs[0]), []).append(r)
    out = []
    for (*_, knob), rows in groups.items():
        saving = SAVINGS[knob]
        base = next((r for r in rows if r["params"][knob] == saving.baseline), None)
        if base is None or len(rows) < 2:
            continue
        vrows, outcomes, expects = [], [], []
        for r in rows:
            if r is base:
                continue
            ratio, lo, hi, method = sample_ratio(r, base, samples, rng, conf)  # row latency / baseline latency
            flops = div(madds.get((base["run_id"], base["case_id"])), madds.get((r["run_id"], r["case_id"])))
            expect = saving.expect if isinstance(saving.expect, str) else saving.expect[r["params"][knob]]
            outcome = row_outcome(expect, 1 / hi, 1 / lo, flops, margin)
            outcomes.append(outcome)
            expects.append(expect)
            vrows.append({"row": {saving.knob: r["params"].get(saving.knob)}, "latency_s": r["value"],
                          "baseline_latency_s": base["value"], "speed_ratio": 1 / ratio,
                          "speed_ratio_ci": [1 / hi, 1 / lo],
                          "flops_ratio": flops, "speed_per_flop_saving": div(1 / ratio, flops), "interval": method,
                          "expected": expect, "outcome": outcome})
        out.append(Verdict(saving.name, saving.claim, group_verdict(expects, outcomes), _scope(base, saving),
                           vrows, note=(f"baseline {saving.knob}={saving.baseline}; intervals: "
                                 f"{'; '.join(sorted({r['interval'] for r in vrows}))}; published: {saving.published}"),
                           study="flop_savings", margin=margin))
    return out


class FlopSavingsStudy(Study):
    name = "flop_savings"
    title = "Cheap operators: do their savings become speed? (depthwise separable, ghost, activations, pruning)"
    order = 40

    def verdicts(self, records, samples, workload: WorkloadInfo) -> list[Verdict]:
        return savings_verdicts(records, samples, workload.margin, workload.confidence)

    def format_row(self, verdict, r) -> str:
        label = ",".join(f"{k}={v}" for k, v in r["row"].items())
        lo, hi = r["speed_ratio_ci"]
        flops = f"FLOP ratio x{r['flops_ratio']:.2f}" if r.get("flops_ratio") else "FLOP ratio -"
        return (f"{label:24s} {r['latency_s'] * 1e3:9.3f} ms  speed-up x{r['speed_ratio']:.2f} [{lo:.2f}, {hi:.2f}] "
                f"{flops:18s} {r['outcome']} (expected {r.get('expected', '-')})")

    def headline(self, verdict) -> tuple[str, str]:
        if not verdict.rows:
            return "", ""
        r = min(verdict.rows, key=lambda x: x["speed_ratio"] / (x.get("flops_ratio") or 1))
        lo, hi = r["speed_ratio_ci"]
        label = ",".join(f"{k}={v}" for k, v in r["row"].items())
        flops = f" (FLOPs x{r['flops_ratio']:.1f})" if r.get("flops_ratio") else ""
        return f"{label}: x{r['speed_ratio']:.2f} [{lo:.2f}, {hi:.2f}]{flops}", verdict.note

    def figures(self, df, verdicts):
        from .. import figures

        spec = figures.speed_bars(verdicts, figures.flop_ratio_marker,
                                  "speed-up over the expensive operator")
        return [(spec, "speed-ups against FLOP ratios")]
