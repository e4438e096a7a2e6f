"""TVM's section of the report: what its numbers stand on (tuned or not, kernels, trials per task,
database) and the convergence of each case's estimated forward time with trials."""
from __future__ import annotations

import json

TITLE = "TVM tuning"


def section(df, figure, table) -> tuple[str, str] | None:
    """(title, HTML); None when no record came from a tuned runner (the report then shows no section)."""
    if df.empty or "config.tuning" not in df or not df["config.tuning"].notna().any():
        return None
    lat = df[(df.metric == "latency_forward") & df["config.tuning"].notna()]  # records of a tuned runner
    cols = ["config.tuning", "config.tasks_tuned", "config.tasks", "config.trials_per_task", "config.database_id"]
    rows = [{"case": f"{r['model']} " + ",".join(f"{k[7:]}={r[k]}" for k in r.index
                                               if k.startswith("params.") and r[k] == r[k]),
             "threads": r["threads"], "latency_ms": r["value"] * 1e3 if r["value"] == r["value"] else None,
             **{c[7:]: r.get(c) for c in cols}} for _, r in lat.iterrows()]
    return TITLE, (figure(convergence_figure(df), "TVM tuning convergence",
                          "No tuning log behind these runs (benchsuite tune writes one).") + table(rows))


def convergence_figure(df) -> dict | None:
    """Each TVM case's estimated forward time (sum of its kernels' best tuned times x counts) against the
    trials per task MetaSchedule had, with the measured forward latency as a diamond at the end."""
    import altair as alt
    import pandas as pd

    from ... import figures

    if df.empty or "config.convergence" not in df:
        return None
    conv = df[(df.metric == "tuned_kernel_time") & df["config.convergence"].notna()]
    if conv.empty:
        return None
    lat = df[(df.metric == "latency_forward") & df["config.tuning"].notna() & (df.status == "ok")]
    measured = dict(zip(zip(lat.run_id, lat.case_id), lat.value))
    pts, stars = [], []
    for _, r in conv.head(24).iterrows():
        curve = json.loads(r["config.convergence"])
        series = f"{r.get('device', '?')} · {r.model}({figures.knob_text(r)}) t{r.threads}"
        pts += [{"series": series, "trials": n, "ms": s * 1e3} for n, s in curve]
        if (r.run_id, r.case_id) in measured and curve:
            stars.append({"series": series, "trials": curve[-1][0], "ms": measured[(r.run_id, r.case_id)] * 1e3})
    sel = figures.toggle()
    x = alt.X("trials:Q", scale=alt.Scale(type="log", base=2), title="MetaSchedule trials per task")
    y = alt.Y("ms:Q", scale=alt.Scale(type="log"), title="estimated forward (ms); diamond = measured")
    tip = ["series:N", "trials:Q", alt.Tooltip("ms:Q", format=".3f")]
    line = alt.Chart(pd.DataFrame(pts)).mark_line(point=True).encode(
        x=x, y=y, color="series:N", opacity=figures.fade(sel), tooltip=tip).add_params(sel)
    layers = [line]
    if stars:
        layers.append(alt.Chart(pd.DataFrame(stars)).mark_point(shape="diamond", size=140, filled=True).encode(
            x=x, y=y, color="series:N", tooltip=tip))
    return figures.as_spec(alt.layer(*layers).properties(width=figures.WIDTH, height=320))
