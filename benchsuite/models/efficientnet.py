"""EfficientNet-B0 to B3 (Tan and Le 2019), torchvision's structure. B1-B3 scale B0 by the compound
coefficients of the paper's section 3.3 as its released models do: channels x width (rounded to multiples
of 8), layers per stage x depth (rounded up), each at its published resolution."""
from __future__ import annotations

import math

from torch import nn

from .layers import Classifier, Net, SqueezeExcite, conv_bn, make_divisible
from .registry import register_model

# expand ratio, kernel, stride, input, output, layers
B0 = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
      (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, expand: int, k: int, stride: int):
        super().__init__()
        exp = make_divisible(cin * expand)
        layers = [] if exp == cin else [conv_bn(cin, exp, 1, act=nn.SiLU)]
        layers += [conv_bn(exp, exp, k, stride, groups=exp, act=nn.SiLU),
                   SqueezeExcite(exp, max(1, cin // 4), act=nn.SiLU, gate=nn.Sigmoid),
                   conv_bn(exp, cout, 1, act=None)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return x + y if self.residual else y  # stochastic depth is the identity at inference


def _build(width: float, depth: float, dropout: float, classes: int) -> Net:
    ch = lambda c: make_divisible(c * width)  # noqa: E731
    layers = [conv_bn(3, ch(32), 3, 2, act=nn.SiLU)]
    for expand, k, stride, cin, cout, n in B0:
        for i in range(math.ceil(n * depth)):
            layers.append(MBConv(ch(cin) if i == 0 else ch(cout), ch(cout), expand, k, stride if i == 0 else 1))
    layers.append(conv_bn(ch(320), 4 * ch(320), 1, act=nn.SiLU))
    return Net(*layers, Classifier(4 * ch(320), classes, dropout=dropout))


@register_model(family="efficientnet")
def efficientnet_b0(*, classes: int = 1000):
    """EfficientNet-B0: MBConv blocks with squeeze-excite and SiLU."""
    return _build(1.0, 1.0, 0.2, classes)


@register_model(family="efficientnet", default_resolution=240)
def efficientnet_b1(*, classes: int = 1000):
    """EfficientNet-B1: B0 with depth x1.1 at 240x240."""
    return _build(1.0, 1.1, 0.2, classes)


@register_model(family="efficientnet", default_resolution=260)
def efficientnet_b2(*, classes: int = 1000):
    """EfficientNet-B2: width x1.1, depth x1.2 at 260x260."""
    return _build(1.1, 1.2, 0.3, classes)


@register_model(family="efficientnet", default_resolution=300)
def efficientnet_b3(*, classes: int = 1000):
    """EfficientNet-B3: width x1.2, depth x1.4 at 300x300."""
    return _build(1.2, 1.4, 0.3, classes)
