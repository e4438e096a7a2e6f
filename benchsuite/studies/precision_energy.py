"""The compression post's "16-bit float is almost 3x more energy-efficient than 32-bit", per case: the
energy of a float16 forward against the same case in float32.

Modeled everywhere (`energy_forward_modeled`: Horowitz's per-operation energies, the cache-aware memory
model; one verdict per run, as the model does not depend on the runner), and measured where the device has
a meter (`energy_forward`, per runner; the ratio's interval from the two records' intervals, conservatively).
"Almost 3x" is read as at least 2.5x: the claim holds when the ratio (its interval, for measured energy)
lies at or above 2.5 / (1 + margin), is violated when wholly below, else inconclusive. The rows also show
the latency ratio of the two cases per runner where both were timed (a CPU without float16 arithmetic
runs float16 far slower: energy per operation is not the whole story).
"""
from __future__ import annotations

from .base import MARGIN, Study, Verdict, WorkloadInfo, scope_of

CLAIMED = 2.5
CLAIM = "16-bit float is almost 3x (here: at least 2.5x) more energy-efficient than 32-bit"


def _key(r: dict) -> tuple:
    return (r["run_id"], r["device"], r["model"], tuple(sorted(r["params"].items())), r["resolution"],
            r["batch_size"], r["threads"])


def precision_verdicts(records: list[dict], margin: float = MARGIN) -> list[Verdict]:
    found: dict[tuple, dict] = {}
    for r in records:
        if r["status"] == "ok" and r["dtype"] in ("float32", "float16") and r["metric"] in (
                "energy_forward_modeled", "energy_forward", "latency_forward"):
            runner = "energy model" if r["metric"] == "energy_forward_modeled" else r["runner"]
            found.setdefault(_key(r) + (runner, r["metric"]), {})[r["dtype"]] = r
    latency = {k[:-2] + (k[-2],): v for k, v in found.items() if k[-1] == "latency_forward"}
    out = []
    target = CLAIMED / (1 + margin)
    for key, pair in found.items():
        metric = key[-1]
        if metric == "latency_forward" or set(pair) != {"float32", "float16"}:
            continue
        a, b = pair["float32"], pair["float16"]
        ratio = a["value"] / b["value"]
        if metric == "energy_forward_modeled":
            lo = hi = ratio
            verdict = "holds" if ratio >= target else "violated"
        else:
            lo, hi = a["ci_low"] / b["ci_high"], a["ci_high"] / b["ci_low"]
            verdict = "holds" if lo >= target else "violated" if hi < target else "inconclusive"
        lat = {k[-1]: v["float32"]["value"] / v["float16"]["value"] for k, v in latency.items()
               if k[:-1] == key[:-2] and set(v) == {"float32", "float16"}
               and (metric == "energy_forward_modeled" or k[-1] == key[-2])}
        row = {"row": {"model": a["model"], **a["params"]}, "energy_fp32_mj": a["value"] * 1e3,
               "energy_fp16_mj": b["value"] * 1e3, "ratio": ratio, "ratio_ci": [lo, hi],
               "latency_ratio": lat,
               "source": a["source"]}
        out.append(Verdict("fp16 energy", CLAIM, verdict,
                           scope_of(a, without=("dtype",), runner=key[-2], metric=metric, model=a["model"],
                                    **a["params"]), [row],
                           note=(f"{a['source']} energy per forward; " + (b.get("message") or "")[:300]),
                           study="precision_energy", margin=margin))
    return out


class PrecisionEnergyStudy(Study):
    name = "precision_energy"
    title = "16-bit against 32-bit float: energy per inference (the compression post)"
    order = 46

    def verdicts(self, records, samples, workload: WorkloadInfo) -> list[Verdict]:
        return precision_verdicts(records, workload.margin)

    def format_row(self, verdict, r) -> str:
        lat = ", ".join(f"{k} x{v:.2f}" for k, v in (r.get("latency_ratio") or {}).items())
        lat = f"latency fp32/fp16: {lat}" if lat else "latency -"
        return (f"{r['source']:9s} fp32 {r['energy_fp32_mj']:.3g} mJ / fp16 {r['energy_fp16_mj']:.3g} mJ = "
                f"x{r['ratio']:.2f} [{r['ratio_ci'][0]:.2f}, {r['ratio_ci'][1]:.2f}]  {lat}")

    def headline(self, verdict) -> tuple[str, str]:
        r = verdict.rows[0]
        return f"fp32/fp16 energy x{r['ratio']:.2f}", "the compression post: almost 3x"
