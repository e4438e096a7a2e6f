"""Resolution: the log-log slope of latency against pixel count per model (OLS, t interval), and the
smallest resolution at which the MobileNetV2 replication variant (b) is significantly faster than (a):
the claim that replacing the 1x1 expansion with replication gains speed only at large resolutions."""
from __future__ import annotations

import numpy as np
from scipy import stats as sps

from .base import CONFIDENCE, LATENCY, MARGIN, Study, Verdict, outcome, sample_ratio


def resolution_verdicts(df, samples, margin: float = MARGIN,
                        conf: float = CONFIDENCE) -> list[Verdict]:
    """Latency exponent vs pixels per model, and where the replication variant (b) overtakes (a)."""
    rng = np.random.default_rng(0)
    out = []
    ok = df[(df.status == "ok") & df.metric.isin(LATENCY)]
    if ok.empty:
        return out
    keys = ["run_id", "device", "runner", "threads", "batch_size", "dtype", "metric"]
    ok = ok.assign(pixels=ok.height.astype(int) * ok.width.astype(int))
    for key, grp in ok.groupby(keys, sort=False):
        scope = dict(zip(keys[1:], key[1:]))
        variant = grp["params.variant"] if "params.variant" in grp else None
        labels = grp.model + (("_" + variant.fillna("")) if variant is not None else "")
        fits = pixel_fits(grp, labels.str.rstrip("_"))
        if fits:
            grows = all(f["exponent_ci"] and f["exponent_ci"][0] > 0 for f in fits)
            out.append(Verdict("resolution", "latency grows with pixel count (fitted exponent)",
                               "holds" if grows else "inconclusive",
                               {**scope, "metric": key[-1]}, fits,
                               "exponent 1 = linear in pixels; 95% OLS t-interval (none from 2 resolutions)",
                               study="resolution"))
        # the model with both variants (a: the original, b: replication instead of the 1x1 expansion)
        both = grp[grp["params.variant"].isin(["a", "b"])] if variant is not None else grp.iloc[0:0]
        rows = []
        for res, rg in sorted(both.groupby("resolution"), key=lambda kv: int(kv[1].pixels.iloc[0])):
            a = rg[rg["params.variant"] == "a"]
            b = rg[rg["params.variant"] == "b"]
            if a.empty or b.empty:
                continue
            ra, rb = a.iloc[0].to_dict(), b.iloc[0].to_dict()
            ratio, lo, hi, method = sample_ratio(rb, ra, samples, rng, conf)
            rows.append({"resolution": str(res), "pixels": int(rg.pixels.iloc[0]),
                         "latency_a_s": ra["value"], "latency_b_s": rb["value"],
                         "speed_ratio_b_over_a": 1 / ratio, "speed_ratio_ci": [1 / hi, 1 / lo],
                         "outcome": {"slower": "b slower", "faster": "b faster", "same": "same",
                                     "unresolved": "unresolved"}[outcome(lo, hi, margin)],
                         "interval": method})
        if rows:
            faster = [r for r in rows if r["outcome"] == "b faster"]
            small, large = rows[0], rows[-1]
            if large["outcome"] == "b faster" and small["outcome"] != "b faster":
                verdict = "holds"
            elif large["outcome"] == "b slower" or (small["outcome"] == "b faster" and len(rows) > 1):
                verdict = "violated"
            else:
                verdict = "inconclusive"
            out.append(Verdict("replication", "MobileNetV2 replication (b) is faster only at large resolutions",
                               verdict, {**scope, "metric": key[-1]}, rows,
                               f"smallest resolution where (b) is significantly faster: "
                               f"{faster[0]['resolution'] if faster else 'none'}", study="resolution", margin=margin))
    return out


def pixel_fits(grp, labels) -> list[dict]:
    """Per label (a model, or a model and variant): OLS of log latency on log pixels; the slope is the exponent
    of latency ~ pixels^k, with its 95% t-interval from 3 or more sizes (none from 2)."""
    fits = []
    for label, mg in grp.assign(label=labels).groupby("label"):
        if mg.pixels.nunique() < 2:
            continue
        x, y = np.log(mg.pixels.astype(float)), np.log(mg.value.astype(float))
        fit = sps.linregress(x, y)
        ci = None
        if len(x) > 2:
            t = sps.t.ppf(0.975, len(x) - 2)
            ci = [fit.slope - t * fit.stderr, fit.slope + t * fit.stderr]
        fits.append({"model": label, "exponent": fit.slope, "exponent_ci": ci, "points": len(x)})
    return fits


class ResolutionStudy(Study):
    name = "resolution"
    title = "Resolution: forward and backward latency vs pixels"
    order = 10

    def verdicts(self, records, samples, workload) -> list[Verdict]:
        from ..records import to_frame

        return resolution_verdicts(to_frame(records), samples, workload.margin, workload.confidence)

    def format_row(self, verdict, r) -> str:
        if verdict.label == "replication":
            lo, hi = r["speed_ratio_ci"]
            return (f"{r['resolution']:>9s}px  b/a speed x{r['speed_ratio_b_over_a']:.3f} [{lo:.3f}, {hi:.3f}] "
                    f"{r['outcome']}")
        ci = "[{:.2f}, {:.2f}]".format(*r["exponent_ci"]) if r["exponent_ci"] else "(no interval)"
        return f"{r['model']:24s} latency ~ pixels^{r['exponent']:.2f} {ci}"

    def figures(self, df, verdicts):
        return [(latency_figure(df), "latency vs resolution")]


def latency_figure(df, by_knobs: bool = False) -> dict | None:
    """Latency vs pixel count, log-log, one line per model x device x runner, forward and backward; a model
    is its name and variant, or (by_knobs) its name and every knob."""
    import altair as alt
    import numpy as np

    from .. import figures

    sub = df[(df.status == "ok") & df.metric.str.startswith("latency")]
    if sub.empty:
        return None
    if by_knobs:
        label = sub.model + " " + [figures.knob_text(r) for _, r in sub.iterrows()]
    elif "params.variant" in sub:
        label = (sub.model + " " + sub["params.variant"].fillna("")).str.rstrip()
    else:
        label = sub.model
    sub = figures.in_ms(sub).assign(pixels=sub.height.astype(float) * sub.width.astype(float),
                                    series=figures.series_of(sub) + " · " + label)
    slopes = {}
    for key, g in sub.groupby(["series", "metric"]):
        g = g.sort_values("pixels")
        slopes[key] = float(np.polyfit(np.log(g.pixels), np.log(g.value), 1)[0]) if len(g) > 1 else None
    sub = sub.assign(exponent=[slopes[(s, m)] for s, m in zip(sub.series, sub.metric)])
    sel = figures.toggle()
    base = alt.Chart(sub[["series", "metric", "pixels", "resolution", "value_ms", "ci_low_ms", "ci_high_ms", "n",
                          "exponent", "source"]]).encode(
        x=alt.X("pixels:Q", scale=alt.Scale(type="log", nice=False), title="pixels (height x width)",
                axis=alt.Axis(format="~s")),
        color=alt.Color("series:N", scale=alt.Scale(scheme="tableau20"), legend=alt.Legend(labelLimit=420)),
        opacity=figures.fade(sel))
    line = base.mark_line(point=True).encode(
        y=alt.Y("value_ms:Q", scale=alt.Scale(type="log"), title="latency (ms)"),
        tooltip=["series:N", "resolution:N", alt.Tooltip("value_ms:Q", title="ms", format=".3f"),
                 alt.Tooltip("ci_low_ms:Q", title="95% low", format=".3f"),
                 alt.Tooltip("ci_high_ms:Q", title="95% high", format=".3f"), "n:Q",
                 alt.Tooltip("exponent:Q", title="fitted exponent", format=".2f"), "source:N"]).add_params(sel)
    bars = base.mark_rule().encode(y="ci_low_ms:Q", y2="ci_high_ms:Q")
    return figures.as_spec(alt.layer(line, bars).properties(width=420, height=300).facet(column="metric:N"))
