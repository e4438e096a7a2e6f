"""EfficientNet-B0 (Tan and Le 2019), torchvision's structure."""
from __future__ import annotations

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


@register_model(family="efficientnet")
def efficientnet_b0(*, classes: int = 1000):
    """EfficientNet-B0: MBConv blocks with squeeze-excite and SiLU."""
    layers = [conv_bn(3, 32, 3, 2, act=nn.SiLU)]
    for expand, k, stride, cin, cout, n in B0:
        for i in range(n):
            layers.append(MBConv(cin if i == 0 else cout, cout, expand, k, stride if i == 0 else 1))
    layers.append(conv_bn(320, 1280, 1, act=nn.SiLU))
    return Net(*layers, Classifier(1280, classes, dropout=0.2))
