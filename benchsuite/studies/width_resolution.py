"""The MobileNet width x resolution grid (MobileNetV1 Table 6/7 style): latency and multiply-adds per cell,
a figure to read, with no verdict of its own (the FLOPs-vs-latency study judges the same records)."""
from __future__ import annotations

from .base import Study, Verdict


class WidthResolutionStudy(Study):
    name = "width_resolution"
    title = "Width multiplier x resolution"
    order = 20

    def verdicts(self, records, samples, workload) -> list[Verdict]:
        return []

    def figures(self, df, verdicts):
        return [(grid_figure(df), "width x resolution grid")]


def grid_figure(df) -> dict | None:
    """A width-multiplier x resolution grid of forward latency, multiply-adds in each cell; a panel per
    device x runner x threads."""
    import altair as alt
    import numpy as np

    from .. import figures

    sub = df[df.status == "ok"]
    lat = sub[sub.metric == "latency_forward"]
    if lat.empty or "params.width" not in lat:
        return None
    madds = sub[sub.metric == "madds"].set_index(["run_id", "case_id"]).value
    lat = figures.in_ms(lat).assign(series=figures.series_of(lat), madds_m=[madds.get((r, c), np.nan) / 1e6
                                                        for r, c in zip(lat.run_id, lat.case_id)])
    data = lat[["series", "params.width", "resolution", "value_ms", "ci_low_ms", "ci_high_ms", "n", "madds_m"]]
    data = data.rename(columns={"params.width": "width"}).assign(
        text=lambda d: d.value_ms.map("{:.2f} ms".format) + " / " + d.madds_m.map("{:.0f} M".format))
    by_pixels = lat.assign(p=lat.height.astype(int) * lat.width.astype(int)).sort_values("p").resolution.unique()
    base = alt.Chart(data).encode(x=alt.X("resolution:O", sort=list(by_pixels)), y=alt.Y("width:O", sort="descending",
                                                                   title="width multiplier"))
    cells = base.mark_rect().encode(
        color=alt.Color("value_ms:Q", scale=alt.Scale(type="log", scheme="viridis"), title="forward ms"),
        tooltip=["series:N", "width:O", "resolution:O", alt.Tooltip("value_ms:Q", title="ms", format=".3f"),
                 alt.Tooltip("ci_low_ms:Q", title="95% low", format=".3f"),
                 alt.Tooltip("ci_high_ms:Q", title="95% high", format=".3f"), "n:Q",
                 alt.Tooltip("madds_m:Q", title="M multiply-adds", format=".1f")])
    text = base.mark_text(fontSize=9, color="white").encode(text="text:N")
    return figures.as_spec(alt.layer(cells, text).properties(width=300, height=200).facet(facet="series:N", columns=2))
