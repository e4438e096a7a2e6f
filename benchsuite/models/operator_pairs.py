"""Cheap operators and the ones they replace, for the claims that a FLOP saving is (or is not) a speed-up.

- `separable_conv_layer`: one 3x3 layer, standard or depthwise separable (MobileNetV1 Table 3: D_F = 14,
  M = N = 512 by default).
- `ghost_conv_stack`: 10 layers c -> c, each a ghost module with ratio `s` (GhostNet section 3.1: a
  k x k primary conv makes c/s maps, a d x d depthwise "cheap operation" the other (s-1)c/s), or at s = 1
  the ordinary k x k convolution with the same output.
- `activation_stack`: 10 non-linearities on a c x H x W tensor (MobileNetV3 section 5.2: h-swish vs swish).
- `pruned_conv_stack`: 10 3x3 convolutions c -> c, unpruned, with 90% of each layer's weights zeroed by
  magnitude (unstructured: the tensors stay dense), or with filters removed to keep the same 10% of the
  parameters (structured: c / 4 channels inside the stack at c = 256).

Convolutions carry no bias and no BatchNorm, so each model holds exactly the operations its claim is about.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .registry import register_model

REPEATS = 10
PRUNINGS = ("none", "unstructured", "filters")
ACTIVATIONS = {"relu": nn.ReLU, "relu6": nn.ReLU6, "hswish": nn.Hardswish, "swish": nn.SiLU,
               "hsigmoid": nn.Hardsigmoid, "sigmoid": nn.Sigmoid}


class _Input(nn.Sequential):
    def __init__(self, *layers, in_channels: int):
        super().__init__(*layers)
        self.in_channels = in_channels


@register_model(family="operator_pair", default_resolution=14, choices={"kind": ("standard", "separable")})
def separable_conv_layer(*, kind: str = "standard", c: int = 512):
    """One 3x3 stride-1 layer c -> c: `standard` convolution, or `separable` (3x3 depthwise then 1x1)."""
    if kind == "standard":
        return _Input(nn.Conv2d(c, c, 3, padding=1, bias=False), in_channels=c)
    if kind == "separable":
        return _Input(nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False), nn.Conv2d(c, c, 1, bias=False),
                      in_channels=c)
    raise ValueError(f"kind must be 'standard' or 'separable', got {kind!r}")


class GhostConv(nn.Module):
    """c_in -> c_out: a k x k primary conv to ceil(c_out / s) maps, then a d x d depthwise conv making s - 1
    cheap maps from each, concatenated and cut to c_out."""

    def __init__(self, cin: int, cout: int, s: int, k: int, d: int):
        super().__init__()
        self.cout = cout
        m = math.ceil(cout / s)
        self.primary = nn.Conv2d(cin, m, k, padding=k // 2, bias=False)
        self.cheap = nn.Conv2d(m, m * (s - 1), d, padding=d // 2, groups=m, bias=False)

    def forward(self, x):
        y = self.primary(x)
        return torch.cat((y, self.cheap(y)), dim=1)[:, : self.cout]


@register_model(family="operator_pair", default_resolution=28)
def ghost_conv_stack(*, s: int = 2, c: int = 128, k: int = 1, d: int = 3):
    """10 layers c -> c: ghost modules with ratio s, or ordinary k x k convolutions at s = 1."""
    if s < 1 or k < 1 or d < 1 or k % 2 == 0 or d % 2 == 0:
        raise ValueError(f"need s >= 1 and odd kernels k, d >= 1; got s={s}, k={k}, d={d}")
    layer = (lambda: nn.Conv2d(c, c, k, padding=k // 2, bias=False)) if s == 1 else (lambda: GhostConv(c, c, s, k, d))
    return _Input(*[layer() for _ in range(REPEATS)], in_channels=c)


@register_model(family="operator_pair", default_resolution=14, choices={"act": tuple(ACTIVATIONS)})
def activation_stack(*, act: str = "hswish", c: int = 672):
    """10 non-linearities on a c-channel map (MobileNetV3-Large's late stages: 14x14x672 by default)."""
    if act not in ACTIVATIONS:
        raise ValueError(f"act must be one of {', '.join(ACTIVATIONS)}; got {act!r}")
    return _Input(*[ACTIVATIONS[act]() for _ in range(REPEATS)], in_channels=c)


@register_model(family="operator_pair", default_resolution=28, choices={"prune": PRUNINGS})
def pruned_conv_stack(*, prune: str = "none", c: int = 256, amount: float = 0.9):
    """10 3x3 convs c -> c: unpruned, `unstructured` magnitude pruning of `amount` of each layer's weights
    (zeros in dense tensors), or `filters`: a narrower inner width keeping the same share of parameters."""
    from torch.nn.utils import prune as torch_prune

    if not 0 < amount < 1:
        raise ValueError(f"amount must be in (0, 1), got {amount}")
    # filters: the inner width whose stack keeps (1 - amount) of the parameters, first and last layers
    # included: w^2 + 2 c w = R (1 - amount) c^2 (R = 10 layers; w = c / 4 at amount 0.9)
    r, keep = REPEATS, 1 - amount
    inner = max(1, round(c * (-2 + math.sqrt(4 + 4 * (r - 2) * r * keep)) / (2 * (r - 2)))) if prune == "filters" else c
    widths = [c] + [inner] * (REPEATS - 1) + [c]
    layers = [nn.Conv2d(a, b, 3, padding=1, bias=False) for a, b in zip(widths, widths[1:])]
    if prune == "unstructured":
        for layer in layers:
            torch_prune.l1_unstructured(layer, "weight", amount=amount)
            torch_prune.remove(layer, "weight")  # the zeros stay, in an ordinary dense weight
    return _Input(*layers, in_channels=c)
