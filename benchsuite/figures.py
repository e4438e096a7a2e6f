"""Report figures (matplotlib + seaborn), each returned as PNG bytes, or None when its records are absent."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402

sns.set_theme(style="whitegrid", context="notebook")
PAPER_MARKERS = {"gpu": ("D", "tab:red"), "arm": ("s", "tab:green")}


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def _loglog(ax, xlabel: str, ylabel: str, legend_size: int = 7) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=legend_size)


def _scope_label(v, skip=("device", "dtype", "runner", "metric", "resolution", "batch_size", "threads")) -> str:
    return ", ".join(f"{k}={val}" for k, val in v.scope.items() if k not in skip)


def guideline(verdicts) -> bytes | None:
    """Measured speed relative to the baseline row, 95% CI bars, the paper's ratios as markers."""
    if not verdicts:
        return None
    n = len(verdicts)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for ax, v in zip(axes.flat, verdicts):
        labels = [",".join(str(x) for x in r["row"].values()) for r in v.rows]
        speed = np.array([r["speed_ratio"] for r in v.rows])
        lo = np.array([r["speed_ratio_ci"][0] for r in v.rows])
        hi = np.array([r["speed_ratio_ci"][1] for r in v.rows])
        x = np.arange(len(labels))
        ax.bar(x, speed, color="tab:blue", alpha=0.75, label="measured")
        ax.errorbar(x, speed, yerr=[speed - lo, hi - speed], fmt="none", ecolor="black", capsize=3)
        for plat, (marker, colour) in PAPER_MARKERS.items():
            pts = [(i, r["paper_speed_ratio"][plat]) for i, r in enumerate(v.rows) if plat in r["paper_speed_ratio"]]
            if pts:
                ax.scatter(*zip(*pts), marker=marker, color=colour, zorder=3, label=f"paper {plat}")
        ax.axhline(1, color="grey", lw=0.8)
        ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("speed / baseline")
        ax.set_title(f"{v.verdict.upper()}: {v.scope['metric'].replace('latency_', '')} "
                     f"{v.scope['runner']} t{v.scope['threads']}\n{_scope_label(v)}", fontsize=9)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    return _png(fig)


def resolution(df) -> bytes | None:
    """Latency vs pixel count, log-log, one line per model, forward and backward."""
    sub = df[(df.status == "ok") & df.metric.str.startswith("latency")]
    if sub.empty:
        return None
    variant = sub["params.variant"].fillna("") if "params.variant" in sub else ""
    sub = sub.assign(pixels=sub.resolution.astype(float) ** 2, model_label=sub.model + (" " + variant).str.rstrip()
                     if "params.variant" in sub else sub.model)
    metrics = sorted(sub.metric.unique())
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        m = sub[sub.metric == metric]
        for (label, runner, threads), g in m.groupby(["model_label", "runner", "threads"]):
            g = g.sort_values("pixels")
            slope = np.polyfit(np.log(g.pixels), np.log(g.value), 1)[0] if len(g) > 1 else float("nan")
            ax.errorbar(g.pixels, g.value * 1e3, yerr=[(g.value - g.ci_low) * 1e3, (g.ci_high - g.value) * 1e3],
                        marker="o", capsize=2, label=f"{label} {runner} t{threads} (exp {slope:.2f})")
        _loglog(ax, "pixels (resolution²)", "latency (ms)")
        ax.set_title(metric)
    return _png(fig)


def multipliers(df) -> bytes | None:
    """A width-multiplier x resolution grid: latency, with multiply-adds in each cell."""
    sub = df[df.status == "ok"]
    lat = sub[sub.metric == "latency_forward"]
    if lat.empty or "params.width" not in lat:
        return None
    madds = sub[sub.metric == "madds"].set_index("case_id").value
    grid = lat.pivot_table(index="params.width", columns="resolution", values="value", aggfunc="median") * 1e3
    mgrid = lat.assign(m=lat.case_id.map(madds) / 1e6).pivot_table(index="params.width", columns="resolution",
                                                                   values="m", aggfunc="first")
    annot = grid.round(2).astype(str) + " ms\n" + mgrid.round(0).astype("Int64").astype(str) + " M"
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    sns.heatmap(grid.sort_index(ascending=False), annot=annot.sort_index(ascending=False), fmt="", cmap="viridis",
                ax=ax, cbar_kws={"label": "forward latency (ms)"})
    ax.set_xlabel("resolution")
    ax.set_ylabel("width multiplier")
    return _png(fig)


def flops_vs_latency(df) -> bytes | None:
    sub = df[df.status == "ok"]
    lat = sub[sub.metric == "latency_forward"]
    if lat.empty:
        return None
    madds = sub[sub.metric == "madds"].set_index(["run_id", "case_id"]).value
    lat = lat.assign(madds=[madds.get((r, c), np.nan) for r, c in zip(lat.run_id, lat.case_id)])
    fig, ax = plt.subplots(figsize=(7, 4.8))
    for (wl, runner, threads), g in lat.groupby(["workload", "runner", "threads"]):
        ax.scatter(g.madds / 1e6, g.value * 1e3, label=f"{wl} {runner} t{threads}")
        for _, r in g.iterrows():
            knobs = ",".join(str(r[c]) for c in g.columns if c.startswith("params.") and r[c] == r[c])
            ax.annotate(f"{r.model}{'(' + knobs + ')' if knobs else ''}@{r.resolution}", (r.madds / 1e6, r.value * 1e3),
                        fontsize=6, alpha=0.8)
    _loglog(ax, "multiply-adds (M, modeled)", "forward latency (ms, measured)")
    return _png(fig)


def breakdown(df, paper_rows: list[dict]) -> bytes | None:
    """Share of runtime by op category per model, the paper's Figure 2 rows beside."""
    sub = df[df.metric.str.startswith("runtime_share_") & (df.status == "ok")]
    if sub.empty:
        return None
    cats = ["conv", "data", "elemwise", "shuffle", "other"]
    sub = sub.assign(cat=sub.metric.str.replace("runtime_share_", ""),
                     label=sub.model + " " + sub.runner + " t" + sub.threads.astype(str))
    table = sub.pivot_table(index="label", columns="cat", values="value", aggfunc="median").reindex(columns=cats)
    for r in paper_rows:
        table.loc[f"paper: {r['model']} {r['platform']}"] = [float(r[c]) / 100 for c in cats]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(table) + 1.5))
    (table.fillna(0) * 100).plot.barh(stacked=True, ax=ax, colormap="tab10", width=0.8)
    ax.set_xlabel("share of runtime (%)")
    ax.set_ylabel("")
    ax.legend(fontsize=7, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    return _png(fig)


def trends(history_rows) -> bytes | None:
    """Median latency of each case over the history's runs (at most 12 cases)."""
    import pandas as pd

    if not history_rows:
        return None
    df = pd.DataFrame(history_rows)
    if df.run_id.nunique() < 2:
        return None
    keep = df.label.value_counts().index[:12]
    df = df[df.label.isin(keep)]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, g in df.groupby("label"):
        g = g.sort_values("started")
        ax.errorbar(range(len(g)), g.value * 1e3, yerr=[(g.value - g.ci_low) * 1e3, (g.ci_high - g.value) * 1e3],
                    marker="o", capsize=2, label=label)
    ax.set_xlabel("run (oldest to newest)")
    ax.set_ylabel("latency (ms)")
    ax.set_yscale("log")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1, 1))
    return _png(fig)


def roofline(df) -> bytes | None:
    """Arithmetic intensity (modeled) vs achieved FLOP/s, under each runner's measured ceilings."""
    ok = df[df.status == "ok"]
    ai = ok[ok.metric == "arithmetic_intensity"].set_index(["run_id", "case_id"]).value
    ach = ok[ok.metric == "achieved_flops"]
    peaks = ok[ok.metric == "ceiling_flops"].groupby(["runner", "threads"]).value.max()
    bw = ok[ok.metric == "ceiling_bandwidth"].groupby("threads").value.max()
    if ach.empty or peaks.empty or bw.empty:
        return None
    ach = ach.assign(ai=[ai.get((r, c), np.nan) for r, c in zip(ach.run_id, ach.case_id)]).dropna(subset=["ai"])
    fig, ax = plt.subplots(figsize=(7.5, 5))
    x = np.logspace(np.log10(max(ach.ai.min() / 4, 1e-2)), np.log10(ach.ai.max() * 4), 100)
    for (runner, threads), peak in peaks.items():
        b = bw.get(threads, bw.max())
        ax.plot(x, np.minimum(peak, b * x) / 1e9, lw=1, label=f"ceiling {runner} t{threads}: "
                f"{peak / 1e9:.0f} GFLOP/s, {b / 1e9:.0f} GB/s")
    for (runner, threads), g in ach.groupby(["runner", "threads"]):
        ax.scatter(g.ai, g.value / 1e9, s=18, label=f"{runner} t{threads} cases")
    _loglog(ax, "arithmetic intensity (FLOP/B, modeled: 2 x madds / analytic MAC)",
            "achieved GFLOP/s (counted FLOPs / measured latency)", legend_size=6)
    return _png(fig)


def tvm_convergence(df) -> bytes | None:
    """Each TVM case's estimated forward time (sum of its kernels' best tuned times x counts) against the
    trials per task MetaSchedule had, with the measured forward latency as a marker at the end."""
    import json

    if df.empty or "config.convergence" not in df:
        return None
    conv = df[(df.metric == "tuned_kernel_time") & df["config.convergence"].notna()]
    if conv.empty:
        return None
    lat = df[(df.metric == "latency_forward") & df["config.tuning"].notna() & (df.status == "ok")]
    measured = dict(zip(zip(lat.run_id, lat.case_id), lat.value))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for _, r in conv.head(16).iterrows():
        curve = json.loads(r["config.convergence"])
        knobs = ",".join(f"{k[7:]}={r[k]}" for k in r.index if k.startswith("params.") and r[k] == r[k])
        line, = ax.plot([n for n, _ in curve], [s * 1e3 for _, s in curve], marker="o", ms=3,
                        label=f"{r.model}({knobs}) t{r.threads}")
        if (r.run_id, r.case_id) in measured:
            ax.plot([curve[-1][0]], [measured[(r.run_id, r.case_id)] * 1e3], marker="*", ms=10, color=line.get_color())
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("MetaSchedule trials per task")
    ax.set_ylabel("estimated forward (ms); * = measured")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1, 1))
    return _png(fig)
