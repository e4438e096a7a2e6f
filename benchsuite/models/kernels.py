"""Single kernels, the units a latency predictor is fitted on (workload `kernels`, latency_model.py).

Each model is one operation on one input, so that its measured time is that kernel's time as the runner
runs it at that shape: a convolution (any kernel size, stride, groups: depthwise and grouped included), a
fully connected layer, an element-wise op (BatchNorm, the activations, add, multiply), pooling, and the
data movers (concat, channel shuffle). The shapes come from the workload's generic grid, not from the
zoo's networks, so that a network's prediction is not fitted to that network's own layers.

A convolution may carry a chain of the ops a fusing runner runs inside it (`then`, e.g. "batchnorm+relu6":
BatchNorm, activations, and `add`, a residual of its own input): timed beside the same convolution alone,
the difference is what the fused ops cost (latency_model.py), where a runner that runs every op as its own
kernel just runs them one after the other.

`add`, `mul` and `concat` take the input twice (x + x, cat(x, x)): a network's two operands are
different tensors of the same shape, which moves the same bytes once the first read has missed the cache.
"""
from __future__ import annotations

import torch
from torch import nn

from .layers import ChannelShuffle
from .registry import register_model

ELEMENTWISE = {"batchnorm": lambda c: nn.BatchNorm2d(c), "relu": lambda c: nn.ReLU(),
               "relu6": lambda c: nn.ReLU6(), "hswish": lambda c: nn.Hardswish(),
               "hsigmoid": lambda c: nn.Hardsigmoid(), "swish": lambda c: nn.SiLU(),
               "sigmoid": lambda c: nn.Sigmoid()}
BINARY = ("add", "mul")
DATA = ("concat", "shuffle", "avgpool_global", "maxpool3x3s2", "avgpool3x3s2")


class _One(nn.Module):
    def __init__(self, op, in_channels: int):
        super().__init__()
        self.op, self.in_channels = op, in_channels

    def forward(self, x):
        return self.op(x)


class _Binary(nn.Module):
    def __init__(self, kind: str, in_channels: int):
        super().__init__()
        self.kind, self.in_channels = kind, in_channels

    def forward(self, x):
        return x + x if self.kind == "add" else x * x


class _Concat(nn.Module):
    def __init__(self, in_channels: int):
        super().__init__()
        self.in_channels = in_channels

    def forward(self, x):
        return torch.cat((x, x), dim=1)


FUSABLE = (*ELEMENTWISE, "add")


class _Chain(nn.Module):
    """A convolution, then the ops of `then` in order (add: plus the convolution's own input)."""

    def __init__(self, conv, then: list[str], in_channels: int):
        super().__init__()
        self.conv, self.then, self.in_channels = conv, then, in_channels
        self.ops = nn.ModuleList(nn.Identity() if t == "add" else ELEMENTWISE[t](conv.out_channels).eval()
                                 for t in then)

    def forward(self, x):
        y = self.conv(x)
        for t, op in zip(self.then, self.ops):
            y = y + x if t == "add" else op(y)
        return y


@register_model(family="kernel", default_resolution=56)
def kernel_conv(*, cin: int = 64, cout: int = 64, k: int = 1, stride: int = 1, groups: int = 1, then: str = ""):
    """One k x k convolution cin -> cout (padding k // 2, no bias): depthwise where groups = cin = cout;
    `then`: the ops after it, joined by "+" (batchnorm, the activations, add: its own input added back)."""
    if cin % groups or cout % groups or k % 2 == 0 or stride > 2:
        raise ValueError(f"need groups dividing cin and cout, an odd k and stride 1 or 2; got cin={cin}, "
                         f"cout={cout}, groups={groups}, k={k}, stride={stride}")
    chain = [t for t in str(then).split("+") if t]
    bad = [t for t in chain if t not in FUSABLE]
    if bad:
        raise ValueError(f"then: {', '.join(map(repr, bad))} is not an op a convolution is followed by here "
                         f"(valid, joined by '+': {', '.join(FUSABLE)})")
    if "add" in chain and (cin != cout or stride != 1):
        raise ValueError("then: add puts the convolution's input back, so it needs cin = cout and stride 1")
    conv = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False)
    return _Chain(conv, chain, cin) if chain else _One(conv, cin)


@register_model(family="kernel", default_resolution=1)
def kernel_linear(*, cin: int = 1024, cout: int = 1000):
    """One fully connected layer cin -> cout on a flattened cin x 1 x 1 input."""
    return _One(nn.Sequential(nn.Flatten(), nn.Linear(cin, cout)), cin)


@register_model(family="kernel", default_resolution=56, choices={"op": (*ELEMENTWISE, *BINARY)})
def kernel_elementwise(*, op: str = "relu", c: int = 64):
    """One element-wise op on a c-channel map: BatchNorm (inference), an activation, add or multiply."""
    if op in BINARY:
        return _Binary(op, c)
    return _One(ELEMENTWISE[op](c).eval(), c)


@register_model(family="kernel", default_resolution=56, choices={"op": DATA})
def kernel_data(*, op: str = "concat", c: int = 64):
    """One data mover or pool on a c-channel map: concat of two, channel shuffle (2 groups), global average
    pooling, 3x3 stride-2 max or average pooling."""
    if op == "concat":
        return _Concat(c)
    if op == "shuffle":
        return _One(ChannelShuffle(2), c)
    if op == "avgpool_global":
        return _One(nn.AdaptiveAvgPool2d(1), c)
    if op == "avgpool3x3s2":
        return _One(nn.AvgPool2d(3, 2, 1), c)
    return _One(nn.MaxPool2d(3, 2, 1), c)
