"""Micro-benchmark block stacks of the ShuffleNet V2 guideline experiments (Tables 1-4).

Every stack repeats its block 10 times on a 56x56 input, as the paper does. Convolutions carry
no bias and no BatchNorm, so the stacks contain exactly the operations each guideline is about.
Channel counts come from the workload (the paper's rows); ``multiplier`` scales them.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .registry import register_model

REPEATS = 10


def _pw(cin: int, cout: int, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, groups=groups, bias=False)


class _Stack(nn.Sequential):
    def __init__(self, blocks, in_channels: int):
        super().__init__(*blocks)
        self.in_channels = in_channels


@register_model(family="guideline", default_resolution=56)
def g1_block_stack(*, c1: int = 128, c2: int = 128, multiplier: int = 1):
    """G1: 10 blocks of two 1x1 convs, c1 -> c2 -> c1."""
    a, b = c1 * multiplier, c2 * multiplier
    return _Stack([nn.Sequential(_pw(a, b), _pw(b, a)) for _ in range(REPEATS)], a)


@register_model(family="guideline", default_resolution=56)
def g2_group_conv_stack(*, c: int = 128, groups: int = 1, multiplier: int = 1):
    """G2: 10 pointwise group convolutions c -> c with `groups` groups."""
    width = c * multiplier
    if width % groups:
        raise ValueError(f"channels {width} are not divisible by groups {groups}")
    return _Stack([_pw(width, width, groups) for _ in range(REPEATS)], width)


class _Parallel(nn.Module):
    """k 1x1 branches on the same input, outputs concatenated (one fragment each)."""

    def __init__(self, width: int, k: int):
        super().__init__()
        if width % k:
            raise ValueError(f"channels {width} are not divisible by {k} parallel fragments")
        self.branches = nn.ModuleList(_pw(width, width // k) for _ in range(k))

    def forward(self, x):
        return torch.cat([b(x) for b in self.branches], dim=1)


G3_STRUCTURES = ("1-fragment", "2-fragment-series", "4-fragment-series",
                 "2-fragment-parallel", "4-fragment-parallel")


@register_model(family="guideline", default_resolution=56, choices={"structure": G3_STRUCTURES})
def g3_fragment_stack(*, c: int = 128, structure: str = "1-fragment", multiplier: int = 1):
    """G3: 10 blocks of 1, 2 or 4 1x1-conv fragments in series or in parallel, FLOPs held equal.

    Series: k convs of width round(c / sqrt(k)) (k * width^2 = c^2, and no unequal widths that
    would mix G1 into G3). Parallel: k branches c -> c/k on the same input, concatenated (c^2).
    """
    if structure not in G3_STRUCTURES:
        raise ValueError(f"unknown structure '{structure}' (valid: {', '.join(G3_STRUCTURES)})")
    k = int(structure[0])
    width = c * multiplier
    if structure.endswith("parallel"):
        return _Stack([_Parallel(width, k) for _ in range(REPEATS)], width)
    w = round(width / math.sqrt(k))
    return _Stack([nn.Sequential(*[_pw(w, w) for _ in range(k)]) for _ in range(REPEATS)], w)


class _Bottleneck(nn.Module):
    """ResNet bottleneck c -> c/4 (1x1) -> c/4 (3x3) -> c (1x1), ReLU and shortcut optional."""

    def __init__(self, c: int, relu: bool, shortcut: bool):
        super().__init__()
        mid = c // 4
        self.convs = nn.ModuleList([_pw(c, mid), nn.Conv2d(mid, mid, 3, padding=1, bias=False), _pw(mid, c)])
        self.relu, self.shortcut = relu, shortcut

    def forward(self, x):
        y = x
        for i, conv in enumerate(self.convs):
            y = conv(y)
            if self.relu and i < 2:
                y = torch.relu(y)
        if self.shortcut:
            y = y + x
        return torch.relu(y) if self.relu else y


@register_model(family="guideline", default_resolution=56)
def g4_bottleneck_stack(*, c: int = 64, relu: bool = True, shortcut: bool = True, multiplier: int = 1):
    """G4: 10 ResNet bottleneck units with ReLU and/or the shortcut removed."""
    width = c * multiplier
    return _Stack([_Bottleneck(width, relu, shortcut) for _ in range(REPEATS)], width)
