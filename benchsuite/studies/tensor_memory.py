"""MobileNetV2's memory claim (Table 3): for intermediate tensors, MobileNetV2 needs the least memory, then
ShuffleNet (2x, g=3), then MobileNetV1 (printed: 400K, 600K, 1600K).

Each case names the paper's column in its `paper_model` tag; the workload's reference table holds the
published figures. Two measures are judged: the counted peak of live activations under sequential
execution (`activation_memory_peak`, modeled: one verdict per run, not per runner) and the torch
allocator's measured peak during one forward (`peak_memory_forward`, per runner that has it). Peak
memory is deterministic for a given allocator, so the rows are compared by value with the margin:
the claim holds when each row in the paper's order is larger than the one before by more than the
margin, is violated when one is smaller by more than the margin, else inconclusive. Each row shows its
ratio to the paper's smallest row next to the published ratio.
"""
from __future__ import annotations

from .base import MARGIN, Study, Verdict, WorkloadInfo, reference_rows

MEASURES = {"activation_memory_peak": "counted (sequential execution)", "peak_memory_forward": "measured"}
CLAIM = "intermediate tensors need the least memory in MobileNetV2, then ShuffleNet 2x, then MobileNetV1"


def order_verdict(values: list[float], margin: float) -> tuple[str, list[str]]:
    """values in the paper's ascending order -> (verdict, each step's outcome: larger / smaller / same)."""
    steps = []
    for a, b in zip(values, values[1:]):
        steps.append("larger" if b > a * (1 + margin) else "smaller" if b < a / (1 + margin) else "same")
    if "smaller" in steps:
        return "violated", steps
    return ("holds" if steps and all(s == "larger" for s in steps) else "inconclusive"), steps


def memory_verdicts(records: list[dict], reference: str, margin: float = MARGIN) -> list[Verdict]:
    published = {r["paper_model"]: float(r["max_kb"]) for r in reference_rows(reference)}
    groups: dict[tuple, dict[str, dict]] = {}
    for r in records:
        label = (r.get("tags") or {}).get("paper_model")
        if r["status"] != "ok" or r["metric"] not in MEASURES or label not in published:
            continue
        runner = "analytic count" if r["metric"] == "activation_memory_peak" else r["runner"]
        key = (r["run_id"], r["device"], runner, r["threads"], r["batch_size"], r["dtype"], r["metric"])
        groups.setdefault(key, {}).setdefault(label, r)
    out = []
    for (_, device, runner, threads, batch, dtype, metric), by_label in groups.items():
        labels = sorted(by_label, key=published.get)
        if len(labels) < 2:
            continue
        values = [by_label[lb]["value"] for lb in labels]
        verdict, steps = order_verdict(values, margin)
        rows = [{"row": {"paper_model": lb}, "bytes": v, "ratio": v / values[0],
                 "paper_ratio": published[lb] / published[labels[0]], "step": s}
                for lb, v, s in zip(labels, values, ["smallest"] + steps)]
        out.append(Verdict("tensor memory", CLAIM, verdict,
                           {"device": device, "runner": runner, "threads": threads, "batch_size": batch,
                            "dtype": dtype, "metric": metric, "measure": MEASURES[metric]}, rows,
                           note=("MobileNetV2 Table 3 (16-bit, Kb as printed): "
                                 + ", ".join(f"{lb} {published[lb]:.0f}K" for lb in labels)
                                 + "; the paper streams MobileNetV2's expansion (section 5), a framework that "
                                 "materialises it does not"), study="tensor_memory", margin=margin))
    return out


class MemoryStudy(Study):
    name = "tensor_memory"
    title = "Memory of intermediate tensors (MobileNetV2 Table 3)"
    order = 45

    def verdicts(self, records, samples, workload: WorkloadInfo) -> list[Verdict]:
        if not workload.reference:
            return []
        return memory_verdicts(records, workload.reference, workload.margin)

    def format_row(self, verdict, r) -> str:
        return (f"{r['row']['paper_model']:22s} {r['bytes'] / 1e6:9.2f} MB  x{r['ratio']:.2f} of the smallest  "
                f"paper x{r['paper_ratio']:.2f}  {r['step']}")

    def headline(self, verdict) -> tuple[str, str]:
        if not verdict.rows:
            return "", ""
        return (", ".join(f"{r['row']['paper_model'].split(' ')[0]} x{r['ratio']:.2f}" for r in verdict.rows),
                verdict.note)
