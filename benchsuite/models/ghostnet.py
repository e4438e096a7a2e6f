"""GhostNet (Han et al. 2020), the authors' structure: ghost modules make half the channels with
cheap depthwise convs."""
from __future__ import annotations

import math

import torch
from torch import nn

from .layers import Classifier, Net, SqueezeExcite, conv_bn, make_divisible
from .registry import register_model

# kernel, expanded, output, se ratio, stride; one list per stage
CFG = [[(3, 16, 16, 0, 1)], [(3, 48, 24, 0, 2)], [(3, 72, 24, 0, 1)], [(5, 72, 40, 0.25, 2)],
       [(5, 120, 40, 0.25, 1)], [(3, 240, 80, 0, 2)],
       [(3, 200, 80, 0, 1), (3, 184, 80, 0, 1), (3, 184, 80, 0, 1), (3, 480, 112, 0.25, 1), (3, 672, 112, 0.25, 1)],
       [(5, 672, 160, 0.25, 2)],
       [(5, 960, 160, 0, 1), (5, 960, 160, 0.25, 1), (5, 960, 160, 0, 1), (5, 960, 160, 0.25, 1)]]


class _HardSigmoidGate(nn.Module):
    def forward(self, x):
        return nn.functional.relu6(x + 3.0) / 6.0


class GhostModule(nn.Module):
    def __init__(self, cin: int, cout: int, relu: bool):
        super().__init__()
        self.cout = cout
        init = math.ceil(cout / 2)
        act = nn.ReLU if relu else None
        self.primary = conv_bn(cin, init, 1, act=act)
        self.cheap = conv_bn(init, init, 3, groups=init, act=act)

    def forward(self, x):
        x1 = self.primary(x)
        return torch.cat((x1, self.cheap(x1)), dim=1)[:, : self.cout]


class GhostBottleneck(nn.Module):
    def __init__(self, cin: int, mid: int, cout: int, k: int, stride: int, se_ratio: float):
        super().__init__()
        layers = [GhostModule(cin, mid, relu=True)]
        if stride > 1:
            layers.append(conv_bn(mid, mid, k, stride, groups=mid, act=None))
        if se_ratio:
            layers.append(SqueezeExcite(mid, make_divisible(mid * se_ratio, 4), gate=_HardSigmoidGate))
        layers.append(GhostModule(mid, cout, relu=False))
        self.block = nn.Sequential(*layers)
        self.shortcut = nn.Identity() if cin == cout and stride == 1 else nn.Sequential(
            conv_bn(cin, cin, k, stride, groups=cin, act=None), conv_bn(cin, cout, 1, act=None))

    def forward(self, x):
        return self.block(x) + self.shortcut(x)


@register_model(family="ghostnet")
def ghostnet(*, width: float = 1.0, classes: int = 1000):
    """GhostNet: ghost bottlenecks (cheap depthwise features), SE in some stages."""
    cin = make_divisible(16 * width, 4)
    layers = [conv_bn(3, cin, 3, 2)]
    exp = 16
    for stage in CFG:
        for k, exp, c, se, s in stage:
            cout = make_divisible(c * width, 4)
            layers.append(GhostBottleneck(cin, make_divisible(exp * width, 4), cout, k, s, se))
            cin = cout
    last = make_divisible(exp * width, 4)
    layers.append(conv_bn(cin, last, 1))
    head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(last, 1280, 1), nn.ReLU(inplace=True))
    return Net(*layers, head, Classifier(1280, classes, dropout=0.2))
