"""Building blocks shared by the architectures. Data-movement ops (channel shuffle, replication)
are modules of their own so the counter sees them as what they are."""
from __future__ import annotations

import torch
from torch import nn


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round channels to a multiple of `divisor`, never more than 10% down (the MobileNet rule)."""
    new_v = max(min_value or divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def conv_bn(cin: int, cout: int, k: int = 1, stride: int = 1, groups: int = 1, act: type | None = nn.ReLU):
    """Conv (no bias) -> BatchNorm -> optional activation."""
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act(inplace=True) if act in (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.SiLU) else act())
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    """x * gate(fc2(act(fc1(avgpool(x))))), the fc layers as 1x1 convs with bias."""

    def __init__(self, channels: int, squeeze: int, act=nn.ReLU, gate=nn.Hardsigmoid):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.act = act(inplace=True)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.gate = gate()

    def forward(self, x):
        return x * self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))


class ChannelShuffle(nn.Module):
    """Interleave the channels of `groups` groups (ShuffleNet)."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        b, c, h, w = x.shape
        return x.view(b, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class Replicate(nn.Module):
    """Concatenate the input with itself to `factor` times its channels (fractional allowed):
    the parameter-free stand-in for MobileNetV2's 1x1 expansion."""

    def __init__(self, channels: int, factor: float):
        super().__init__()
        self.out_channels = int(round(channels * factor))
        self.full, self.rest = divmod(self.out_channels, channels)

    def forward(self, x):
        parts = [x] * self.full + ([x[:, : self.rest]] if self.rest else [])
        return torch.cat(parts, dim=1)


class Classifier(nn.Sequential):
    """Global average pool -> flatten -> (dropout) -> linear."""

    def __init__(self, cin: int, classes: int, dropout: float = 0.0, bias: bool = True):
        layers = [nn.AdaptiveAvgPool2d(1), nn.Flatten(1)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(cin, classes, bias=bias))
        super().__init__(*layers)


class Net(nn.Sequential):
    """A Sequential that records the input channels it expects."""

    def __init__(self, *layers, in_channels: int = 3):
        super().__init__(*layers)
        self.in_channels = in_channels
