"""FLOPs vs latency: does the count of multiply-adds rank the models by measured latency? Spearman's rank
correlation per workload and scope, with a Fisher-z interval; the claim holds when the interval lies
above rho = 0.9. Below 7 models the Fisher-z interval is no interval (a perfect ranking of 4 models
happens by chance once in 24, yet z says [0.99, 1]): there the claim is judged pair by pair instead,
models in order of multiply-adds, each one's latency interval wholly above the one before (holds), any
wholly below it (violated), else inconclusive."""
from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

from .base import LATENCY, Study, Verdict


RHO_CLAIM = 0.9
MIN_FOR_RHO = 7


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
            rows = sorted(({"case": _label(r), "madds": float(mm), "latency_s": r["value"],
                            "ci": (r["ci_low"], r["ci_high"])} for (_, r), mm in zip(grp.iterrows(), m)),
                          key=lambda r: r["madds"])
            if len(grp) >= MIN_FOR_RHO:
                lo, hi = spearman_interval(rho, len(grp))
                verdict = "holds" if lo >= RHO_CLAIM else "violated" if hi < RHO_CLAIM else "inconclusive"
                note = (f"Spearman rho = {rho:.3f}, 95% interval [{lo:.2f}, {hi:.2f}] "
                        f"(Fisher z; p = {p:.2g} against rho = 0; n = {len(grp)})")
            else:
                verdict, note = _pairwise(rows, rho)
            claim = f"multiply-adds rank the models by latency (Spearman rho >= {RHO_CLAIM})"
            out.append(Verdict("flops_vs_latency", claim,
                               verdict, {**dict(zip(keys[1:], key[1:])), "workload": workload},
                               [{k: v for k, v in r.items() if k != "ci"} for r in rows], note,
                               study="flops_vs_latency"))
    return out


def _pairwise(rows: list[dict], rho: float) -> tuple[str, str]:
    """Few models: each (in order of multiply-adds) against the one before, by their latency intervals."""
    steps = ["slower" if b["ci"][0] > a["ci"][1] else "faster" if b["ci"][1] < a["ci"][0] else "overlap"
             for a, b in zip(rows, rows[1:])]
    verdict = "violated" if "faster" in steps else "holds" if all(s == "slower" for s in steps) else "inconclusive"
    return verdict, (f"n = {len(rows)} < {MIN_FOR_RHO}: judged pair by pair (each model's latency interval "
                     f"against the previous one's in order of multiply-adds: {', '.join(steps)}); "
                     f"Spearman rho = {rho:.3f} shown without an interval")


class FlopsVsLatencyStudy(Study):
    name = "flops_vs_latency"
    title = "FLOPs vs measured latency"
    order = 30

    def verdicts(self, records, samples, workload) -> list[Verdict]:
        from ..records import to_frame

        return flops_verdicts(to_frame(records))

    def format_row(self, verdict, r) -> str:
        return f"{r['case']:32s} {r['madds'] / 1e6:9.1f} M madds  {r['latency_s'] * 1e3:9.3f} ms"

    def figures(self, df, verdicts):
        return [(flops_figure(df), "FLOPs vs latency")]


def flops_figure(df) -> dict | None:
    """Counted multiply-adds against measured forward latency, log-log, a colour per device x runner."""
    import altair as alt
    import numpy as np

    from .. import figures

    sub = df[df.status == "ok"]
    lat = sub[sub.metric == "latency_forward"]
    if lat.empty:
        return None
    madds = sub[sub.metric == "madds"].set_index(["run_id", "case_id"]).value
    lat = figures.in_ms(lat).assign(madds_m=[madds.get((r, c), np.nan) / 1e6 for r, c in zip(lat.run_id, lat.case_id)],
                          series=figures.series_of(lat))
    lat = lat.assign(case=[f"{r.model}({figures.knob_text(r)})@{r.resolution}" for _, r in lat.iterrows()])
    sel = figures.toggle()
    chart = alt.Chart(lat[["series", "case", "workload", "madds_m", "value_ms", "ci_low_ms", "ci_high_ms", "n"]]
                      .dropna(subset=["madds_m"])).mark_point(filled=True, size=50).encode(
        x=alt.X("madds_m:Q", scale=alt.Scale(type="log"), title="multiply-adds (M, modeled)"),
        y=alt.Y("value_ms:Q", scale=alt.Scale(type="log"), title="forward latency (ms, measured)"),
        color="series:N", shape="workload:N", opacity=figures.fade(sel),
        tooltip=["case:N", "series:N", "workload:N", alt.Tooltip("madds_m:Q", title="M madds", format=".1f"),
                 alt.Tooltip("value_ms:Q", title="ms", format=".3f"),
                 alt.Tooltip("ci_low_ms:Q", title="95% low", format=".3f"),
                 alt.Tooltip("ci_high_ms:Q", title="95% high", format=".3f"), "n:Q"]).add_params(sel)
    return figures.as_spec(chart.properties(width=figures.WIDTH, height=360))
