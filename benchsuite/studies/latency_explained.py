"""Latency explained: do FLOPs predict a network's time here, and where does the time go?

For every measured forward latency in the runs of a workload that names it, the study asks the run's latency
explainer (latency_model.Explainer: the newest kernel profile of the same machine, runner and threads saved
beside the run) for the kernel-sum prediction, the FLOPs-only baseline (time proportional to multiply-adds,
fitted on the profiled convolutions) and the guideline costs (guideline_costs.py). Per run, runner and
thread count the claim "FLOPs predict latency" is judged by the share of networks the FLOPs-only baseline
puts within +-10% of the measured median, the bar a latency predictor is held to (nn-Meter, LitePred: 95%
of models within +-10%): it holds when the 95% Clopper-Pearson interval of that share lies at or above
95%, is violated when it lies below, else inconclusive (few networks). The unit of that interval is the
network: each network's measured median is taken as exact (its own interval, a few per cent at most, is far
inside the ±10% tolerance) and the networks as independent draws. The kernel-sum predictor's share
over the same networks stands beside it, judged by the same bar in the note. Without a profile, or for a
runner whose fusion rules are not known, the verdict is inconclusive and says what is missing. Where the
run measured page faults per forward (probe page_faults), each row shows them: time the kernel sum cannot
see (a kernel timed alone reuses its memory and never faults), so it lands in `unexplained`.
"""
from __future__ import annotations

from scipy import stats as sps

from ..errors import BenchsuiteError
from ..guideline_costs import LABELS, SHORT
from .base import Study, Verdict

BAR = 0.95          # share of networks within TOLERANCE for a predictor to "predict latency"
TOLERANCE = 0.10


def _label(r: dict) -> str:
    knobs = ",".join(f"{k}={v}" for k, v in sorted((r.get("params") or {}).items()))
    return f"{r['model']}({knobs})@{r['resolution']}"


def share_interval(k: int, n: int) -> tuple[float, float]:
    """95% Clopper-Pearson interval of a share of k in n."""
    ci = sps.binomtest(k, n).proportion_ci(0.95, method="exact")
    return float(ci.low), float(ci.high)


def _judge(share_k: int, n: int) -> str:
    lo, hi = share_interval(share_k, n)
    return "holds" if lo >= BAR else "violated" if hi < BAR else "inconclusive"


class LatencyExplainedStudy(Study):
    name = "latency_explained"
    title = "Latency explained: FLOPs against the kernel sum, and what each guideline costs"
    order = 32

    def verdicts(self, records, samples, workload) -> list[Verdict]:
        if workload.explain_latency is None:
            return []  # judged only where the runs' folders are known (not inside a run's sequential looks)
        faults = {(r["run_id"], r["case_id"]): r["value"] for r in records
                  if r["metric"] == "page_faults_forward" and r["status"] == "ok"}
        groups: dict[tuple, list[dict]] = {}
        for r in records:
            if r["metric"] == "latency_forward" and r["status"] == "ok" and r.get("value"):
                key = (r["run_id"], r["device"], r["runner"], r["threads"], r["batch_size"], r["dtype"])
                groups.setdefault(key, []).append(r)
        out = []
        for (run_id, device, runner, threads, batch, dtype), recs in groups.items():
            scope = {"device": device, "runner": runner, "threads": threads, "batch_size": batch, "dtype": dtype,
                     "metric": "latency_forward", "workload": workload.name}
            rows, why = [], None
            for r in recs:
                try:
                    e = workload.explain_latency(r)
                except BenchsuiteError as err:
                    why = str(err)
                    if not rows:
                        break  # the same reason holds for every record of the scope (profile, runner)
                    continue
                measured = float(r["value"])
                rows.append({"case": _label(r), "measured_s": measured, "predicted_s": e["predicted"],
                             "flops_only_s": e["flops_only"], "roofline_s": e["roofline"],
                             "error": e["predicted"] / measured - 1, "flops_error": e["flops_only"] / measured - 1,
                             "n_kernels": e["n_kernels"], "profile": e["profile"],
                             "page_faults": faults.get((r["run_id"], r["case_id"])),
                             "parts": {k: v / measured for k, v in e["parts"].items()}})
            claim = f"multiply-adds predict latency (>= {BAR:.0%} of networks within ±{TOLERANCE:.0%})"
            if not rows:
                out.append(Verdict("latency_explained", claim, "inconclusive", scope, [],
                                   f"not predicted: {why}", study=self.name))
                continue
            n = len(rows)
            k_flops = sum(abs(x["flops_error"]) <= TOLERANCE for x in rows)
            k_pred = sum(abs(x["error"]) <= TOLERANCE for x in rows)
            lo, hi = share_interval(k_flops, n)
            plo, phi = share_interval(k_pred, n)
            note = (f"FLOPs only: {k_flops}/{n} networks within ±{TOLERANCE:.0%} (95% interval of the share "
                    f"[{lo:.0%}, {hi:.0%}]); the kernel sum (profile {rows[0]['profile']}): {k_pred}/{n} "
                    f"[{plo:.0%}, {phi:.0%}], so it {'meets' if plo >= BAR else 'misses' if phi < BAR else 'may meet'} "
                    f"the {BAR:.0%} bar itself. Guideline costs are predicted (from the kernel fits), the rest is "
                    "measured minus predicted")
            if why:
                note += f"; {len(recs) - n} network(s) not predicted: {why}"
            out.append(Verdict("latency_explained", claim, _judge(k_flops, n), scope, rows, note, study=self.name))
        return out

    def format_row(self, verdict, r) -> str:
        parts = ", ".join(f"{SHORT[c]} {100 * v:.0f}%"
                          for c, v in r["parts"].items() if abs(v) >= 0.005)
        faults = "" if r.get("page_faults") is None else f"  {r['page_faults']:.0f} page faults/forward"
        return (f"{r['case']:34s} measured {1e3 * r['measured_s']:8.3f} ms  kernel sum {r['error']:+6.1%}  "
                f"FLOPs only {r['flops_error']:+6.1%}  [{parts}]{faults}")

    def headline(self, verdict) -> tuple[str, str]:
        if not verdict.rows:
            return "", ""
        n = len(verdict.rows)
        k = sum(abs(r["flops_error"]) <= TOLERANCE for r in verdict.rows)
        kp = sum(abs(r["error"]) <= TOLERANCE for r in verdict.rows)
        return (f"FLOPs {k}/{n}, kernel sum {kp}/{n} within ±{TOLERANCE:.0%}",
                "nn-Meter: 99% within ±10% on a Pixel 4 CPU (its own sampled kernels)")

    def figures(self, df, verdicts):
        mine = [v for v in verdicts if v.study == self.name and v.rows]
        return [(predicted_figure(mine), "predicted against measured forward latency, every network"),
                (where_figure(mine), "where each network's measured time goes")]


def _series(v: Verdict) -> str:
    s = v.scope
    return f"{s['device']} · {s['runner']} t{s['threads']}"


def predicted_figure(verdicts) -> dict | None:
    """Predicted against measured latency (log-log) for the kernel sum and FLOPs only, y = x and +-10% drawn."""
    import altair as alt
    import pandas as pd

    from .. import figures

    data = pd.DataFrame([{"case": r["case"], "series": _series(v), "measured_ms": 1e3 * r["measured_s"],
                          "predicted_ms": 1e3 * r[col], "by": by, "error_%": 100 * (r[col] / r["measured_s"] - 1)}
                         for v in verdicts for r in v.rows
                         for col, by in (("predicted_s", "kernel sum"), ("flops_only_s", "FLOPs only"))])
    if data.empty:
        return None
    both = data[["measured_ms", "predicted_ms"]]
    lo, hi = both.min().min() / 1.2, both.max().max() * 1.2
    band = pd.DataFrame({"measured_ms": [lo, hi], "low": [lo / 1.1, hi / 1.1], "high": [lo * 1.1, hi * 1.1],
                         "predicted_ms": [lo, hi]})
    log = alt.Scale(type="log", domain=[lo, hi])
    sel = figures.toggle()
    area = alt.Chart(band).mark_area(opacity=0.15, color="gray").encode(
        x=alt.X("measured_ms:Q", scale=log), y=alt.Y("low:Q", scale=log), y2="high:Q")
    line = alt.Chart(band).mark_line(color="gray", strokeDash=[4, 3]).encode(x="measured_ms:Q", y="predicted_ms:Q")
    points = alt.Chart(data).mark_point(filled=True, size=50).encode(
        x=alt.X("measured_ms:Q", scale=log, title="forward latency, measured (ms)"),
        y=alt.Y("predicted_ms:Q", scale=log, title="predicted (ms); band: ±10%"),
        color="series:N", shape=alt.Shape("by:N", title="prediction"), opacity=figures.fade(sel),
        tooltip=["case:N", "series:N", "by:N", alt.Tooltip("measured_ms:Q", format=".3f"),
                 alt.Tooltip("predicted_ms:Q", format=".3f"), alt.Tooltip("error_%:Q", format="+.1f")]).add_params(sel)
    return figures.as_spec((area + line + points).properties(width=figures.WIDTH, height=380))


def where_figure(verdicts) -> dict | None:
    """Per network and device x runner, its measured time split: FLOPs at the best kernel speed, each
    guideline's cost, the other kernel inefficiencies, and measured minus predicted."""
    import altair as alt
    import pandas as pd

    from .. import figures
    from ..guideline_costs import CATEGORIES

    order = [LABELS[c] for c in (*CATEGORIES, "unexplained")]
    data = pd.DataFrame([{"row": f"{r['case']} · {_series(v)}", "part": LABELS[c], "percent": 100 * share}
                         for v in verdicts for r in v.rows for c, share in r["parts"].items()])
    if data.empty:
        return None
    chart = alt.Chart(data).mark_bar().encode(
        y=alt.Y("row:N", title=None, sort=None),
        x=alt.X("percent:Q", stack="zero", title="share of the measured forward time (%; predicted parts, and "
                "measured minus predicted)"),
        color=alt.Color("part:N", sort=order, scale=alt.Scale(domain=order)),
        order=alt.Order("part_order:Q"),
        tooltip=["row:N", "part:N", alt.Tooltip("percent:Q", format=".1f")]).transform_calculate(
        part_order=f"indexof({order!r}, datum.part)")
    return figures.as_spec(chart.properties(width=figures.WIDTH, height=max(120, 18 * data.row.nunique())))
