"""Architectures at equal FLOPs (ShuffleNet V2 section 5, Fig. 1 and Table 8): within each FLOP tier (~40M,
~140M, ~300M, ~590M multiply-adds), is ShuffleNet V2 the fastest?

The workload tags each model with its tier (`tier`) and ShuffleNet V2's rows as the tier's `baseline`; within
a tier, per device, runner, threads, batch and metric, every other model's latency is divided by ShuffleNet
V2's (the ratio's 95% interval from the samples: over processes where there are several, else within one
process). A row is `slower` when the other model is slower beyond the margin (ShuffleNet V2 faster, as the
paper has it), `faster`, `same` or `unresolved`. The tier's verdict holds when every other model is slower, is
violated when any is faster or the same, else inconclusive. Each row carries the FLOP ratio of the pair
(counted), since a tier's models differ by up to ~15% in multiply-adds.

Beside each measured ratio, the paper's: Table 8's GPU (batches/s, batch 8) and ARM (images/s, batch 1) speed
of the row's model over ShuffleNet V2's of the same tier, for every configuration the zoo has: the workload's
row names its Table 8 row in a `table8` tag (the zoo's model at the table's width and input size). Table 8's
other rows have no counterpart in the zoo (NOT_IN_ZOO says why).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .base import (CONFIDENCE, LATENCY, MARGIN, Study, Verdict, WorkloadInfo, div, outcome, reference_rows,
                   sample_ratio, scope_of)

CLAIM = "at equal FLOPs ShuffleNet V2 is faster than the other compact architectures of its tier"
PUBLISHED = ("ShuffleNet V2 section 5, Fig. 1 and Table 8 (GPU batch 8, GTX 1080Ti; ARM batch 1, Snapdragon 810): "
             "paper ratios are the model's speed over ShuffleNet V2's in the same tier")
REFERENCE = "shufflenetv2_table8.csv"

# matched rows whose multiply-adds differ from the table's by more than 5%, and why (tests check the rest)
COUNT_DIFFERS = {
    "0.75 MobileNet v2 (their impl.)": "+6.2% (153.9M vs 145M): the paper's own implementation; the zoo rounds "
                                       "every width to a multiple of 8 as torchvision does",
    "0.6 MobileNet v2 (their impl.)": "+7.1% (151.0M vs 141M): as for 0.75",
}
NOT_IN_ZOO = {
    "0.15 MobileNet v2": "the zoo's 0.15 counts 30.6M multiply-adds against the table's 39M: not the same network "
                         "(torchvision's rounding to multiples of 8 and its fixed 1280-channel last layer)",
    "DenseNet": "the paper's own small DenseNets ('their impl.') are not specified in enough detail to rebuild",
    "Xception": "the paper's scaled Xceptions ('their impl.') give no widths or block counts per scale",
    "IGCV2": "interleaved group convolutions need their own permutation layers; not in the zoo yet",
    "IGCV3": "as IGCV2",
    "CondenseNet": "learned group convolutions are pruned during training: the timed network depends on weights",
    "NASNet-A": "a searched cell of about 15 operations per cell; not in the zoo",
    "PNASNet-5": "a searched cell; not in the zoo",
    "with SE": "the paper does not say where SE sits in each ShuffleNet v2 unit nor its reduction",
    "(their impl.)": "the official row of the same width is the zoo's counterpart",
}


@functools.cache
def table8() -> dict[str, dict]:
    """Table 8's rows by model name."""
    return {r["model"]: r for r in reference_rows(REFERENCE)}


def why_not_in_zoo(table_model: str) -> str | None:
    return next((why for key, why in NOT_IN_ZOO.items() if key in table_model), None)


def table8_row(record: dict) -> dict | None:
    """Table 8's row for a record: the workload names it in the row's `table8` tag (the zoo configuration
    that is the table's network at the table's input size)."""
    return table8().get((record.get("tags") or {}).get("table8"))


TABLE8_COLUMNS = (("gpu", "gpu_batches_per_s"), ("arm", "arm_images_per_s"))


def paper_ratios(other: dict | None, base: dict | None, columns=TABLE8_COLUMNS) -> dict:
    """The paper's speed of `other` over ShuffleNet V2's (`base`), per device column (default: Table 8's GPU
    and ARM phone)."""
    out = {}
    for device, column in columns:
        if other and base and other.get(column) and base.get(column):
            out[device] = float(other[column]) / float(base[column])
    return out


@dataclass(frozen=True)
class TierClaim:
    """A claim that ShuffleNet V2 (the `baseline` row of each `tier`) is faster than every other model of its
    tier: what the verdict is called, where the paper's speeds come from, and which records are paired."""
    label: str
    claim: str
    published: str
    study: str
    paper_row: Callable[[dict], dict | None]  # a record's row of the paper's table, or None
    columns: tuple = TABLE8_COLUMNS           # (device, column) of the paper's speeds
    pair_by: tuple[str, ...] = ()             # record keys a model is compared with the baseline on


EQUAL_FLOPS = TierClaim("equal FLOPs", CLAIM, PUBLISHED, "equal_flops", table8_row)


def _scope(r: dict, tier: str) -> dict:
    return scope_of(r, without=("resolution",), tier=tier)  # a tier's models may run at their own input size


def tier_verdicts(records: list[dict], samples, margin: float = MARGIN, conf: float = CONFIDENCE,
                  claim: TierClaim = EQUAL_FLOPS) -> list[Verdict]:
    rng = np.random.default_rng(0)
    madds = {(r["run_id"], r["case_id"]): r["value"] for r in records if r["metric"] == "madds" and r["status"] == "ok"}
    tiers: dict[tuple, list[dict]] = {}
    for r in records:
        tier = (r.get("tags") or {}).get("tier")
        if tier and r["status"] == "ok" and r["metric"] in LATENCY:
            key = (r["run_id"], tuple(sorted(_scope(r, tier).items())))
            tiers.setdefault(key, []).append(r)
    out = []
    pair = lambda r: tuple(r[k] for k in claim.pair_by)  # noqa: E731
    for (_, scope), rows in tiers.items():
        bases = {pair(r): r for r in rows if r["tags"].get("baseline")}
        others = [r for r in rows if not r["tags"].get("baseline") and pair(r) in bases]
        if not others:
            continue
        vrows = []
        by_size_then_flops = lambda r: (r["height"] * r["width"] if claim.pair_by else 0,  # noqa: E731
                                        madds.get((r["run_id"], r["case_id"])) or 0)
        for r in sorted(others, key=by_size_then_flops):
            base = bases[pair(r)]
            ratio, lo, hi, method = sample_ratio(r, base, samples, rng, conf)  # other latency / ShuffleNet V2's
            paper = claim.paper_row(r)
            row = {"model": r["model"], **r["params"]}
            if r["resolution"] != base["resolution"] or claim.pair_by:
                row["resolution"] = r["resolution"]
            vrows.append({"row": row, "latency_s": r["value"], "paper_row": paper["model"] if paper else None,
                          "paper": paper_ratios(paper, claim.paper_row(base), claim.columns),
                          "baseline_latency_s": base["value"], "latency_ratio": ratio, "latency_ratio_ci": [lo, hi],
                          "speed_ratio": 1 / ratio, "speed_ratio_ci": [1 / hi, 1 / lo], "interval": method,
                          "flops_ratio": div(madds.get((r["run_id"], r["case_id"])),
                                             madds.get((base["run_id"], base["case_id"]))),
                          "outcome": outcome(lo, hi, margin)})
        outcomes = [v["outcome"] for v in vrows]
        verdict = ("violated" if any(o in ("faster", "same") for o in outcomes)
                   else "holds" if all(o == "slower" for o in outcomes) else "inconclusive")
        base = next(iter(bases.values()))
        baseline = " ".join([base["model"], *(f"{k}={v}" for k, v in base["params"].items())])
        out.append(Verdict(claim.label, claim.claim, verdict, dict(scope) | {"baseline": baseline},
                           vrows, note=f"intervals: {'; '.join(sorted({v['interval'] for v in vrows}))}; "
                                       f"published: {claim.published}", study=claim.study, margin=margin))
    return out


def speed_markers(row: dict) -> dict:
    """The figure's markers: the relative speed the pair's FLOPs predict (ShuffleNet V2's MAdds / the model's)
    and the paper's on each of its devices (Table 8: GPU and ARM phone)."""
    out = {"FLOPs predict": 1 / row["flops_ratio"]} if row.get("flops_ratio") else {}
    out.update({f"paper {d.upper()}": v for d, v in (row.get("paper") or {}).items()})
    return out


def paper_text(r: dict) -> str:
    paper = r.get("paper") or {}
    return (" ".join(f"{d} x{v:.2f}" for d, v in paper.items()) or "-") if r.get("paper_row") else "not in Table 8"


class EqualFlopsStudy(Study):
    name = "equal_flops"
    title = "Architectures at equal FLOPs: is ShuffleNet V2 the fastest of its tier? (ShuffleNet V2 Table 8)"
    order = 35

    def verdicts(self, records, samples, workload: WorkloadInfo) -> list[Verdict]:
        return tier_verdicts(records, samples, workload.margin, workload.confidence)

    def row_label(self, r) -> str:
        return ",".join(f"{k}={v}" for k, v in r["row"].items())

    def format_row(self, verdict, r) -> str:
        label = self.row_label(r)
        lo, hi = r["latency_ratio_ci"]
        flops = f"FLOPs x{r['flops_ratio']:.2f}" if r.get("flops_ratio") else "FLOPs -"
        return (f"{label:34s} {r['latency_s'] * 1e3:9.3f} ms = x{r['latency_ratio']:.2f} [{lo:.2f}, {hi:.2f}] of "
                f"ShuffleNet V2's {r['baseline_latency_s'] * 1e3:.3f} ms  speed x{r['speed_ratio']:.2f}  "
                f"paper speed: {paper_text(r):22s} {flops:12s} {r['outcome']}")

    def headline(self, verdict) -> tuple[str, str]:
        if not verdict.rows:
            return "", ""
        r = min(verdict.rows, key=lambda x: x["latency_ratio"])  # the closest rival
        lo, hi = r["latency_ratio_ci"]
        return (f"{verdict.scope['tier']}: closest {r['row']['model']} x{r['latency_ratio']:.2f} [{lo:.2f}, {hi:.2f}] "
                "of ShuffleNet V2's latency", f"Table 8: {r['row']['model']} speed {paper_text(r)} of ShuffleNet V2's")

    def figures(self, df, verdicts):
        from .. import figures

        spec = figures.speed_bars(verdicts, speed_markers, "speed relative to ShuffleNet V2 (below 1: slower)")
        return [(spec, "each model's speed relative to ShuffleNet V2 in its FLOP tier")]
