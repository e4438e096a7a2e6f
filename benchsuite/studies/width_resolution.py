"""The MobileNet width x resolution grid (MobileNetV1 Table 6/7 style): latency and multiply-adds per cell,
a figure to read, with no verdict of its own (the FLOPs-vs-latency study judges the same records)."""
from __future__ import annotations

from .base import Study, Verdict


class WidthResolutionStudy(Study):
    name = "width_resolution"
    title = "Width multiplier x resolution"
    order = 20
    hint = " (the built-in multipliers)"

    def verdicts(self, records, samples, workload) -> list[Verdict]:
        return []

    def figures(self, df, verdicts):
        from .. import figures

        return [(figures.multipliers(df), "width x resolution grid")]
