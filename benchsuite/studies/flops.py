"""FLOPs vs latency: does the count of multiply-adds rank the models by measured latency? Spearman's rank
correlation per workload and scope, with a Fisher-z interval; the claim holds when the interval lies
above rho = 0.9."""
from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

from .base import LATENCY, Study, Verdict


RHO_CLAIM = 0.9


def _label(row) -> str:
    knobs = ",".join(f"{c[7:]}={row[c]}" for c in row.index if c.startswith("params.") and row[c] == row[c])
    return f"{row['model']}({knobs})@{row['resolution']}"


def spearman_interval(rho: float, n: int) -> tuple[float, float]:
    """95% interval of Spearman's rho by Fisher's z with the Fieller-Hartley-Pearson variance."""
    if n <= 3 or not math.isfinite(rho):
        return (-1.0, 1.0)
    z, se = math.atanh(min(max(rho, -0.9999), 0.9999)), math.sqrt(1.06 / (n - 3))
    return (math.tanh(z - 1.96 * se), math.tanh(z + 1.96 * se))


def flops_verdicts(df) -> list[Verdict]:
    """Spearman rank correlation of counted multiply-adds with measured latency, per workload and scope."""
    out = []
    for workload, sub in df[df.status == "ok"].groupby("workload", sort=False):
        madds = sub[sub.metric == "madds"].set_index(["run_id", "case_id"]).value
        lat = sub[sub.metric.isin(LATENCY)]
        keys = ["run_id", "device", "runner", "threads", "batch_size", "dtype", "metric"]
        for key, grp in lat.groupby(keys, sort=False):
            m = madds.reindex(list(zip(grp.run_id, grp.case_id))).to_numpy()
            if len(grp) < 3 or np.isnan(m).any():
                continue
            rho, p = sps.spearmanr(m, grp.value.to_numpy())
            lo, hi = spearman_interval(rho, len(grp))
            verdict = "holds" if lo >= RHO_CLAIM else "violated" if hi < RHO_CLAIM else "inconclusive"
            rows = [{"case": _label(r), "madds": float(mm), "latency_s": r["value"]}
                    for (_, r), mm in zip(grp.iterrows(), m)]
            claim = f"multiply-adds rank the models by latency (Spearman rho >= {RHO_CLAIM})"
            out.append(Verdict("flops_vs_latency", claim,
                               verdict, {**dict(zip(keys[1:], key[1:])), "workload": workload},
                               sorted(rows, key=lambda r: r["madds"]),
                               f"Spearman rho = {rho:.3f}, 95% interval [{lo:.2f}, {hi:.2f}] "
                               f"(Fisher z; p = {p:.2g} against rho = 0; n = {len(grp)})", by="flops_vs_latency"))
    return out


class FlopsVsLatencyStudy(Study):
    name = "flops_vs_latency"
    title = "FLOPs vs measured latency"
    order = 30
    hint = " (the built-in architectures or multipliers)"

    def verdicts(self, records, samples, workload) -> list[Verdict]:
        from ..records import to_frame

        return flops_verdicts(to_frame(records))

    def format_row(self, verdict, r) -> str:
        return f"{r['case']:32s} {r['madds'] / 1e6:9.1f} M madds  {r['latency_s'] * 1e3:9.3f} ms"

    def figures(self, df, verdicts):
        from .. import figures

        return [(figures.flops_vs_latency(df), "FLOPs vs latency")]
