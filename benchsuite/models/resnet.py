"""ResNet-50 (He et al. 2016), torchvision's structure (stride on the 3x3, "v1.5")."""
from __future__ import annotations

from torch import nn

from .layers import Classifier, Net, conv_bn
from .registry import register_model


class Bottleneck(nn.Module):
    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        cout = width * 4
        self.block = nn.Sequential(conv_bn(cin, width, 1), conv_bn(width, width, 3, stride),
                                   conv_bn(width, cout, 1, act=None))
        self.downsample = conv_bn(cin, cout, 1, stride, act=None) if stride != 1 or cin != cout else None
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.block(x) + identity)


@register_model(family="resnet")
def resnet50(*, classes: int = 1000):
    """ResNet-50: bottleneck residual units, the heavy baseline."""
    layers = [conv_bn(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            layers.append(Bottleneck(cin, width, stride if i == 0 else 1))
            cin = width * 4
    return Net(*layers, Classifier(cin, classes))
