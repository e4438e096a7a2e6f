"""Models that measure the device rather than an architecture: the ceilings of the roofline."""
from __future__ import annotations

from torch import nn

from .registry import register_model


class _Gemm(nn.Module):
    def __init__(self, n: int):
        super().__init__()
        self.fc = nn.Linear(n, n, bias=False)
        self.in_channels = 1

    def forward(self, x):  # x: (1, 1, n, n) -> one n x n x n matrix product
        return self.fc(x)


@register_model(family="calibration", default_resolution=1024)
def gemm_probe(*, n: int = 1024):
    """Peak FLOP/s: one large matrix product (run at resolution n)."""
    return _Gemm(n)
