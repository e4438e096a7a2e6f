"""Where the time goes inside MobileNetV1 (section 3.2 and Table 2): "MobileNet spends 95% of its
computation time in 1x1 convolutions", which hold 94.86% of its multiply-adds.

Per case (a model at a resolution, on a device, runner and thread count): each layer type's measured
share of forward time (`time_share_*`, the layer_time probe: median over separately profiled forwards,
interval their range) beside its share of the counted multiply-adds (the counter, the same layer types)
and Table 2's figure. The claim holds when the 1x1 share's interval lies wholly at or above 95% / (1 +
margin), is violated when wholly below it, else inconclusive. The rows show, for every type, time share
over multiply-add share: how far FLOPs misjudge where the time goes (depthwise layers above all).
"""
from __future__ import annotations

from .base import MARGIN, Study, Verdict, WorkloadInfo, reference_rows, scope_of

TYPES = ("conv1x1", "conv_dw3x3", "conv3x3", "fully_connected", "other")
CLAIMED = 0.95
CLAIM = "1x1 convolutions take 95% of MobileNetV1's computation time"


def madds_shares(model: str, resolution: int, params: dict) -> dict[str, float]:
    from ..counting import count_registered

    by = count_registered(model, resolution, **params).by("layer_type")
    total = sum(row["madds"] for row in by.values()) or 1
    out = dict.fromkeys(TYPES, 0.0)
    for kind, row in by.items():
        out[kind if kind in TYPES else "other"] += row["madds"] / total
    return out


def layer_time_verdicts(records: list[dict], margin: float = MARGIN) -> list[Verdict]:
    paper = {r["layer_type"]: float(r["madds_percent"]) / 100 for r in reference_rows("mobilenetv1_breakdown.csv")}
    cases: dict[tuple, dict[str, dict]] = {}
    for r in records:
        if r["status"] == "ok" and r["metric"].startswith("time_share_"):
            key = (r["run_id"], r["case_id"])
            cases.setdefault(key, {})[r["metric"][len("time_share_"):]] = r
    out = []
    for by_type in cases.values():
        if "conv1x1" not in by_type:
            continue
        r0 = by_type["conv1x1"]
        flops = madds_shares(r0["model"], r0["resolution"], r0["params"])
        rows = []
        for t in TYPES:
            rec = by_type.get(t)
            if rec is None:
                continue
            rows.append({"row": {"layer_type": t}, "time_share": rec["value"], "ci": [rec["ci_low"], rec["ci_high"]],
                         "madds_share": flops[t], "paper_madds_share": paper.get(t),
                         "time_per_madds_share": rec["value"] / flops[t] if flops[t] else None})
        lo, hi = r0["ci_low"], r0["ci_high"]
        target = CLAIMED / (1 + margin)
        verdict = "holds" if lo >= target else "violated" if hi < target else "inconclusive"
        out.append(Verdict("layer time", CLAIM, verdict,
                           scope_of(r0, metric="latency_forward", model=r0["model"], **r0["params"]), rows,
                           note=("MobileNetV1 section 3.2: 95% of computation time in 1x1 convolutions; Table 2: "
                                 "1x1 94.86%, depthwise 3x3 3.06%, full 3x3 1.19%, fully connected 0.18% of "
                                 "multiply-adds. Shares are of profiled forwards (profiler overhead included)"),
                           study="layer_time", margin=margin))
    return out


class LayerTimeStudy(Study):
    name = "layer_time"
    title = "Where the time goes inside MobileNetV1 (1x1 vs depthwise vs the rest)"
    order = 42

    def verdicts(self, records, samples, workload: WorkloadInfo) -> list[Verdict]:
        return layer_time_verdicts(records, workload.margin)

    def format_row(self, verdict, r) -> str:
        paper = f"{r['paper_madds_share']:.1%}" if r.get("paper_madds_share") is not None else "-"
        ratio = f"x{r['time_per_madds_share']:.2f}" if r.get("time_per_madds_share") else "-"
        return (f"{r['row']['layer_type']:16s} time {r['time_share']:6.1%} [{r['ci'][0]:.1%}, {r['ci'][1]:.1%}]  "
                f"multiply-adds {r['madds_share']:6.2%} (paper {paper})  time/madds share {ratio}")

    def headline(self, verdict) -> tuple[str, str]:
        rows = {r["row"]["layer_type"]: r for r in verdict.rows}
        one, dw = rows.get("conv1x1"), rows.get("conv_dw3x3")
        text = f"1x1 {one['time_share']:.0%} of time" if one else ""
        if dw:
            text += f", dw {dw['time_share']:.0%} (madds {dw['madds_share']:.0%})"
        return text, verdict.note
