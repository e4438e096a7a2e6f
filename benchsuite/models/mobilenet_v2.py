"""MobileNetV2 (Sandler et al. 2018), torchvision's structure; its CIFAR configuration; and the
replication variants of "Reducing MobileNetV2 Parameter Count by 30%" (Dorsal Stream):

  a  the original inverted residual: 1x1 expansion -> depthwise 3x3 -> linear 1x1 (+BN)
  b  the 1x1 expansion replaced by replicating the input t times (fractional t allowed),
     then BatchNorm (random affine) and ReLU6 -> depthwise 3x3 -> linear 1x1 (+BN)
  c  as b without the BatchNorm after the last 1x1
  d  depthwise 3x3 first (on the input width), then replication (+BN, ReLU6), then the 1x1 (+BN)
"""
from __future__ import annotations

import torch
from torch import nn

from .layers import Classifier, Net, Replicate, conv_bn, make_divisible
from .registry import register_model

VARIANTS = ("a", "b", "c", "d")
IMAGENET = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
CIFAR = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 1), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


class _RandomAffineBN(nn.BatchNorm2d):
    """BatchNorm whose affine parameters start random, so replicated copies diverge."""

    def __init__(self, channels: int):
        super().__init__(channels)
        with torch.no_grad():
            self.weight.uniform_(0.5, 1.5)
            self.bias.uniform_(-0.5, 0.5)


def _replicate(cin: int, t: float) -> nn.Sequential:
    rep = Replicate(cin, t)
    return nn.Sequential(rep, _RandomAffineBN(rep.out_channels), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, t: float, variant: str, projection_shortcut: bool):
        super().__init__()
        hidden = int(round(cin * t))
        layers: list[nn.Module] = []
        if variant == "d" and t != 1:
            layers += [conv_bn(cin, cin, 3, stride, groups=cin, act=nn.ReLU6), _replicate(cin, t)]
        else:
            if t != 1:
                layers.append(conv_bn(cin, hidden, 1, act=nn.ReLU6) if variant == "a" else _replicate(cin, t))
            layers.append(conv_bn(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6))
        layers.append(nn.Conv2d(hidden, cout, 1, bias=False))
        if variant != "c":
            layers.append(nn.BatchNorm2d(cout))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout
        # the CIFAR reference code adds a 1x1 projection shortcut where widths differ at stride 1
        self.project = (conv_bn(cin, cout, 1, act=None)
                        if projection_shortcut and stride == 1 and cin != cout else None)

    def forward(self, x):
        y = self.block(x)
        if self.residual:
            return x + y
        if self.project is not None:
            return y + self.project(x)
        return y


def _check(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"unknown MobileNetV2 variant '{variant}' (valid: {', '.join(VARIANTS)})")


@register_model(family="mobilenet_v2", choices={"variant": VARIANTS})
def mobilenet_v2(*, width: float = 1.0, variant: str = "a", classes: int = 1000):
    """MobileNetV2 (torchvision structure); variant b/c/d replace the 1x1 expansion by replication."""
    _check(variant)
    cin = make_divisible(32 * width)
    last = make_divisible(1280 * max(1.0, width))
    layers = [conv_bn(3, cin, 3, 2, act=nn.ReLU6)]
    for t, c, n, s in IMAGENET:
        cout = make_divisible(c * width)
        for i in range(n):
            layers.append(InvertedResidual(cin, cout, s if i == 0 else 1, t, variant, projection_shortcut=False))
            cin = cout
    layers.append(conv_bn(cin, last, 1, act=nn.ReLU6))
    return Net(*layers, Classifier(last, classes, dropout=0.2))


@register_model(family="mobilenet_v2", default_resolution=32, choices={"variant": VARIANTS})
def mobilenet_v2_cifar(*, variant: str = "a", classes: int = 10):
    """MobileNetV2 for CIFAR (32x32, stride-1 stem) as in the replication post's reference code."""
    _check(variant)
    cin = 32
    layers = [conv_bn(3, cin, 3, 1)]
    for t, c, n, s in CIFAR:
        for i in range(n):
            layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t, variant, projection_shortcut=True))
            cin = c
    layers.append(conv_bn(cin, 1280, 1))
    return Net(*layers, Classifier(1280, classes))
