"""Shared figure helpers and the report-wide figures (breakdown, roofline, energy, traffic, trends) as Vega-Lite
specifications (built with Altair), or None when their records are absent. A study draws its own figures in
its module with these helpers; a runner its section's (runners/tvm/report.py).

The report inlines Vega, Vega-Lite and vega-embed once (vl-convert's bundle) and renders every spec in
the browser: hover shows a point's value, interval, n and case; clicking a legend entry toggles that
series (device, runner, threads); latency and FLOP axes are logarithmic. Every spec carries its own data.
"""
from __future__ import annotations

import warnings

import altair as alt
import numpy as np
import pandas as pd

alt.data_transformers.disable_max_rows()
WIDTH = 560


def as_spec(chart) -> dict:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Automatically deduplicated selection parameter")
        return chart.to_dict()


def series_of(df) -> pd.Series:
    """The legend entry of a record: device, runner and threads (devices side by side)."""
    device = df["device"].fillna("?").astype(str) if "device" in df else "?"
    return device + " · " + df["runner"].astype(str) + " t" + df["threads"].astype(str)


def knob_value(v):
    """A knob as it was written: a table column turns integer knobs into floats (128.0); print them as 128."""
    return int(v) if isinstance(v, float) and v.is_integer() else v


def knob_text(r, only=None) -> str:
    """`c1=128,c2=128` from a record row's params.* columns (only those in `only`, when given)."""
    return ",".join(f"{k[7:]}={knob_value(r[k])}" for k in r.index
                    if k.startswith("params.") and r[k] == r[k] and (only is None or k in only))


def case_labels(df) -> tuple[list[str], list[str]]:
    """(short, full) label of each record's case. The full one names every knob and the resolution (for
    hover); the short one, for an axis, the model and only the knobs that differ between the cases shown,
    and the resolution where it differs."""
    varying = {c for c in df.columns if c.startswith("params.") and df[c].nunique(dropna=True) > 1}
    res_varies = df["resolution"].nunique() > 1
    full, short = [], []
    for _, r in df.iterrows():
        full.append(f"{r.model}({knob_text(r)})@{r.resolution}")
        knobs = knob_text(r, varying)
        short.append(r.model + (f" {knobs}" if knobs else "") + (f" @{r.resolution}" if res_varies else ""))
    return short, full


def toggle():
    """A legend-bound selection: clicking a series' legend entry shows it alone (shift-click adds)."""
    return alt.selection_point(fields=["series"], bind="legend")


def fade(sel):
    return alt.condition(sel, alt.value(1.0), alt.value(0.12))


def in_ms(df, cols=("value", "ci_low", "ci_high")) -> pd.DataFrame:
    return df.assign(**{f"{c}_ms": df[c].astype(float) * 1e3 for c in cols})


def flop_ratio_marker(row: dict) -> dict:
    """A speed_bars marker: the row's FLOP ratio, where it has one."""
    return {"FLOP ratio": row["flops_ratio"]} if row.get("flops_ratio") else {}


def case_names(rows: list[dict]) -> list[str]:
    """Axis names of one panel's verdict rows ({"model": .., knob: ..}): the model, then only the knobs that
    tell that model's rows apart (a resolution as @224 or @640x480); rows without a model name the knobs
    that differ between them (every knob of a lone row)."""
    out = []
    for row in rows:
        same = [o for o in rows if o.get("model") == row.get("model")]
        keys = [k for k in row if k != "model" and len({str(o.get(k)) for o in same}) > 1]
        if not keys and "model" not in row:
            keys = list(row)
        knobs = ",".join(f"{k}={knob_value(row[k])}" for k in keys if k != "resolution")
        size = f"@{row['resolution']}" if "resolution" in keys else ""
        out.append(" ".join(x for x in (str(row.get("model", "")), knobs, size) if x))
    return out


def speed_bars(verdicts, markers, ylabel: str) -> dict | None:
    """Each verdict row's speed over its group's baseline with its 95% interval (bars: device x runner),
    and reference values as black markers (markers(row) -> {label: value}); a panel per scope."""
    if not verdicts:
        return None
    rows, rank = [], {}
    for v in sorted(verdicts, key=lambda v: -len(v.rows)):  # x order: the fullest verdict's row order
        for i, r in enumerate(v.rows):
            rank.setdefault(",".join(f"{k}={x}" for k, x in r["row"].items()), (i, len(rank)))
    for v in verdicts:
        s = v.scope
        series = f"{s.get('device', '?')} · {s.get('runner')} t{s.get('threads')}"
        panel = " ".join(x for x in (s.get("metric", "").replace("latency_", ""),
                                     ", ".join(f"{k}={val}" for k, val in s.items()
                                               if k not in ("device", "dtype", "runner", "metric", "resolution",
                                                            "batch_size", "threads"))) if x)
        for r, case in zip(v.rows, case_names([r["row"] for r in v.rows])):
            full = ",".join(f"{k}={knob_value(x)}" for k, x in r["row"].items())
            rows.append({"panel": f"{v.label} {panel}", "case": case, "full": full,
                         "series": series, "speed": r["speed_ratio"], "lo": r["speed_ratio_ci"][0],
                         "hi": r["speed_ratio_ci"][1], "verdict": v.verdict, "outcome": r.get("outcome", ""),
                         "latency_ms": r["latency_s"] * 1e3, "flops_ratio": r.get("flops_ratio"),
                         "order": rank[",".join(f"{k}={x}" for k, x in r["row"].items())],
                         **{f"ref_{k}": x for k, x in markers(r).items()}})
    df = pd.DataFrame(rows).drop_duplicates(["panel", "case", "series"])
    df["order"] = df["order"].map(lambda o: o[0] * 1000 + o[1])
    refs = [c for c in df.columns if c.startswith("ref_")]
    sel = toggle()
    x = alt.X("case:N", title=None, sort=alt.EncodingSortField("order", op="min"),
              axis=alt.Axis(labelAngle=-30, labelLimit=260))
    tip = [alt.Tooltip("series:N"), alt.Tooltip("full:N", title="case"), alt.Tooltip("speed:Q", format=".3f"),
           alt.Tooltip("lo:Q", title="95% low", format=".3f"), alt.Tooltip("hi:Q", title="95% high", format=".3f"),
           alt.Tooltip("latency_ms:Q", title="latency ms", format=".3f"), alt.Tooltip("outcome:N"),
           alt.Tooltip("verdict:N"), alt.Tooltip("flops_ratio:Q", title="FLOP ratio", format=".2f")]
    base = alt.Chart().encode(x=x)
    bars = base.mark_bar().encode(xOffset="series:N", y=alt.Y("speed:Q", title=ylabel),
                                  color="series:N", opacity=fade(sel), tooltip=tip).add_params(sel)
    ci = base.mark_rule(color="black").encode(xOffset="series:N", y="lo:Q", y2="hi:Q", opacity=fade(sel))
    layers = [bars, ci]
    if refs:
        layers.append(base.transform_fold(refs, as_=["reference", "ref"]).transform_filter(
            "isValid(datum.ref)").transform_calculate(reference="slice(datum.reference, 4)").mark_point(
            size=70, filled=True, color="black").encode(
            y="ref:Q", shape=alt.Shape("reference:N"),
            tooltip=["reference:N", "case:N", alt.Tooltip("ref:Q", format=".2f")]))
    panels = [alt.layer(*layers, data=df).transform_filter(alt.datum.panel == p).properties(
        title=p, width=max(150, 56 * df[df.panel == p].case.nunique()), height=200) for p in df.panel.unique()]
    columns = max(1, min(3, 1200 // max(150, 56 * int(df.groupby("panel").case.nunique().max()))))
    with warnings.catch_warnings():  # one legend selection shared by every panel is what is wanted here
        warnings.filterwarnings("ignore", "Automatically deduplicated selection parameter")
        return as_spec(alt.concat(*panels, columns=columns))


def breakdown(df, paper_rows: list[dict]) -> dict | None:
    """Share of runtime by op category per model x device x runner, the paper's Figure 2 rows beside."""
    sub = df[df.metric.str.startswith("runtime_share_") & (df.status == "ok")]
    if sub.empty:
        return None
    sub = sub.assign(category=sub.metric.str.replace("runtime_share_", ""),
                     row=sub.model + " · " + series_of(sub))
    data = sub.groupby(["row", "category"], as_index=False).value.median()
    paper = [{"row": f"paper: {r['model']} {r['platform']}", "category": c, "value": float(r[c]) / 100}
             for r in paper_rows for c in ("conv", "data", "elemwise", "shuffle", "other")]
    data = pd.concat([data, pd.DataFrame(paper)], ignore_index=True).assign(percent=lambda d: d.value * 100)
    chart = alt.Chart(data).mark_bar().encode(
        y=alt.Y("row:N", title=None), x=alt.X("percent:Q", stack="zero", title="share of runtime (%)"),
        color=alt.Color("category:N", sort=["conv", "data", "elemwise", "shuffle", "other"]),
        tooltip=["row:N", "category:N", alt.Tooltip("percent:Q", format=".1f")])
    return as_spec(chart.properties(width=WIDTH, height=max(120, 18 * data.row.nunique())))


def trends(history_rows) -> dict | None:
    """Median latency of each case over the history's runs (at most 12 cases), log axis."""
    if not history_rows:
        return None
    df = pd.DataFrame(history_rows)
    if df.run_id.nunique() < 2:
        return None
    df = df[df.label.isin(df.label.value_counts().index[:12])].rename(columns={"label": "series"})
    df = in_ms(df).sort_values("started")
    sel = toggle()
    base = alt.Chart(df[["series", "started", "run_id", "value_ms", "ci_low_ms", "ci_high_ms"]]).encode(
        x=alt.X("started:T", title="run started"), color=alt.Color("series:N", legend=alt.Legend(labelLimit=400)),
        opacity=fade(sel))
    line = base.mark_line(point=True).encode(
        y=alt.Y("value_ms:Q", scale=alt.Scale(type="log"), title="latency (ms)"),
        tooltip=["series:N", "run_id:N", "started:T", alt.Tooltip("value_ms:Q", title="ms", format=".3f"),
                 alt.Tooltip("ci_low_ms:Q", title="95% low", format=".3f"),
                 alt.Tooltip("ci_high_ms:Q", title="95% high", format=".3f")]).add_params(sel)
    return as_spec(alt.layer(line, base.mark_rule().encode(y="ci_low_ms:Q", y2="ci_high_ms:Q"))
                 .properties(width=WIDTH, height=320))


def roofline(df) -> dict | None:
    """Arithmetic intensity (modeled) vs achieved FLOP/s, under each runner's measured ceilings."""
    ok = df[df.status == "ok"]
    ai = ok[ok.metric == "arithmetic_intensity"].set_index(["run_id", "case_id"]).value
    ach = ok[ok.metric == "achieved_flops"]
    peaks = ok[ok.metric == "ceiling_flops"].assign(series=lambda d: series_of(d)).groupby(
        ["series", "threads"]).value.max()
    bw = ok[ok.metric == "ceiling_bandwidth"].groupby("threads").value.max()
    if ach.empty or peaks.empty or bw.empty:
        return None
    ach = ach.assign(ai=[ai.get((r, c), np.nan) for r, c in zip(ach.run_id, ach.case_id)],
                     series=series_of(ach)).dropna(subset=["ai"])
    if ach.empty:
        return None
    ach = ach.assign(gflops=ach.value / 1e9, case=[f"{r.model}({knob_text(r)})@{r.resolution}"
                                                    for _, r in ach.iterrows()])
    xs = np.logspace(np.log10(max(ach.ai.min() / 4, 1e-2)), np.log10(ach.ai.max() * 4), 60)
    roof = pd.DataFrame([{"ceiling": f"ceiling {s}: {p / 1e9:.0f} GFLOP/s, {bw.get(t, bw.max()) / 1e9:.0f} GB/s",
                          "ai": x, "gflops": min(p, bw.get(t, bw.max()) * x) / 1e9}
                         for (s, t), p in peaks.items() for x in xs])
    sel = toggle()
    lines = alt.Chart(roof).mark_line(strokeDash=[4, 2]).encode(
        x=alt.X("ai:Q", scale=alt.Scale(type="log"), title="arithmetic intensity (FLOP/B, modeled)"),
        y=alt.Y("gflops:Q", scale=alt.Scale(type="log"), title="GFLOP/s (counted FLOPs / measured latency)"),
        detail="ceiling:N", tooltip=["ceiling:N"])
    points = alt.Chart(ach[["series", "case", "ai", "gflops"]]).mark_point(filled=True, size=40).encode(
        x="ai:Q", y="gflops:Q", color="series:N", opacity=fade(sel),
        tooltip=["case:N", "series:N", alt.Tooltip("ai:Q", format=".2f"), alt.Tooltip("gflops:Q", format=".2f")]
    ).add_params(sel)
    return as_spec(alt.layer(lines, points).properties(width=WIDTH, height=360))


def energy(df) -> dict | None:
    """Energy per inference in mJ per case, one panel per source (measured, modeled, simulated never mixed);
    a modeled value shared by every runner of a case is drawn once."""
    sub = df[df.metric.str.startswith("energy") & (df.status == "ok")] if not df.empty else df
    if sub.empty:
        return None
    label, case = case_labels(sub)
    sub = sub.assign(case=case, label=label, mj=sub.value.astype(float) * 1e3, series=series_of(sub))
    modeled = sub.source == "modeled"
    sub = sub.assign(series=sub.series.where(~modeled, sub["device"].astype(str) + " · modeled"))
    sub = sub.drop_duplicates(["source", "series", "case", "metric", "mj"])
    chart = alt.Chart(sub[["source", "series", "case", "label", "metric", "mj", "n"]]).mark_point(
        filled=True, size=50).encode(
        x=alt.X("label:N", title=None, axis=alt.Axis(labelAngle=-35, labelLimit=260)),
        y=alt.Y("mj:Q", scale=alt.Scale(type="log"), title="energy per inference (mJ)"),
        color="series:N", shape="metric:N",
        tooltip=["case:N", "series:N", "metric:N", "source:N", alt.Tooltip("mj:Q", title="mJ", format=".3g"), "n:Q"])
    return as_spec(chart.properties(width=WIDTH, height=260).facet(row="source:N"))


def traffic(df) -> dict | None:
    """Memory traffic per inference in MB per case: the analytic model, cachegrind's simulation and perf's
    measurement side by side, each labelled with its source."""
    names = ("memory_access", "traffic_forward_simulated", "traffic_forward_measured")
    sub = df[df.metric.isin(names) & (df.status == "ok")] if not df.empty else df
    if sub.empty or sub.metric.nunique() < 2:
        return None
    label, case = case_labels(sub)
    sub = sub.assign(case=case, label=label, mb=sub.value.astype(float) / 1e6,
                     kind=sub.metric + " (" + sub.source + ")")
    sub = sub.drop_duplicates(["kind", "case", "mb"])
    chart = alt.Chart(sub[["case", "label", "kind", "mb", "runner"]]).mark_point(filled=True, size=50).encode(
        x=alt.X("label:N", title=None, axis=alt.Axis(labelAngle=-35, labelLimit=260)),
        y=alt.Y("mb:Q", scale=alt.Scale(type="log"), title="bytes per inference (MB)"), color="kind:N",
        tooltip=["case:N", "kind:N", "runner:N", alt.Tooltip("mb:Q", title="MB", format=".3g")])
    return as_spec(chart.properties(width=WIDTH, height=260))
