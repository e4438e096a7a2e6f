"""MobileNetV3 Large and Small (Howard et al. 2019), torchvision's structure."""
from __future__ import annotations

from torch import nn

from .layers import Net, SqueezeExcite, conv_bn, make_divisible
from .registry import register_model

RE, HS = nn.ReLU, nn.Hardswish
# input, kernel, expanded, output, squeeze-excite, activation, stride
LARGE = [(16, 3, 16, 16, False, RE, 1), (16, 3, 64, 24, False, RE, 2), (24, 3, 72, 24, False, RE, 1),
         (24, 5, 72, 40, True, RE, 2), (40, 5, 120, 40, True, RE, 1), (40, 5, 120, 40, True, RE, 1),
         (40, 3, 240, 80, False, HS, 2), (80, 3, 200, 80, False, HS, 1), (80, 3, 184, 80, False, HS, 1),
         (80, 3, 184, 80, False, HS, 1), (80, 3, 480, 112, True, HS, 1), (112, 3, 672, 112, True, HS, 1),
         (112, 5, 672, 160, True, HS, 2), (160, 5, 960, 160, True, HS, 1), (160, 5, 960, 160, True, HS, 1)]
SMALL = [(16, 3, 16, 16, True, RE, 2), (16, 3, 72, 24, False, RE, 2), (24, 3, 88, 24, False, RE, 1),
         (24, 5, 96, 40, True, HS, 2), (40, 5, 240, 40, True, HS, 1), (40, 5, 240, 40, True, HS, 1),
         (40, 5, 120, 48, True, HS, 1), (48, 5, 144, 48, True, HS, 1), (48, 5, 288, 96, True, HS, 2),
         (96, 5, 576, 96, True, HS, 1), (96, 5, 576, 96, True, HS, 1)]


class _Block(nn.Module):
    def __init__(self, cin, k, exp, cout, se, act, stride, gate=nn.Hardsigmoid):
        super().__init__()
        layers = [] if exp == cin else [conv_bn(cin, exp, 1, act=act)]
        layers.append(conv_bn(exp, exp, k, stride, groups=exp, act=act))
        if se:
            layers.append(SqueezeExcite(exp, make_divisible(exp // 4, 8), gate=gate))
        layers.append(conv_bn(exp, cout, 1, act=None))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return x + y if self.residual else y


# activation knob -> (what replaces hard-swish, what replaces the squeeze-excite's hard-sigmoid gate)
ACTIVATION = {"hswish": (nn.Hardswish, nn.Hardsigmoid), "swish": (nn.SiLU, nn.Sigmoid),
              "relu": (nn.ReLU, nn.Hardsigmoid)}


def _build(cfg, last_channel: int, width: float, classes: int, activation: str = "hswish") -> Net:
    if activation not in ACTIVATION:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATION)}; got {activation!r}")
    hs, gate = ACTIVATION[activation]
    ch = lambda c: make_divisible(c * width)  # noqa: E731
    layers = [conv_bn(3, ch(16), 3, 2, act=hs)]
    for cin, k, exp, cout, se, act, s in cfg:
        layers.append(_Block(ch(cin), k, ch(exp), ch(cout), se, hs if act is HS else act, s, gate))
    last_in = ch(cfg[-1][3])
    layers.append(conv_bn(last_in, 6 * last_in, 1, act=hs))
    head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(6 * last_in, last_channel),
                         hs(inplace=True), nn.Dropout(0.2), nn.Linear(last_channel, classes))
    return Net(*layers, head)


@register_model(family="mobilenet_v3", choices={"activation": tuple(ACTIVATION)})
def mobilenet_v3_large(*, width: float = 1.0, classes: int = 1000, activation: str = "hswish"):
    """MobileNetV3-Large: inverted residuals with squeeze-excite and hard-swish. `activation` = swish puts
    swish where hard-swish is and sigmoid as the squeeze-excite gate (the paper's section 5.2 alternative);
    relu puts ReLU everywhere."""
    return _build(LARGE, make_divisible(1280 * width), width, classes, activation)


@register_model(family="mobilenet_v3")
def mobilenet_v3_small(*, width: float = 1.0, classes: int = 1000):
    """MobileNetV3-Small."""
    return _build(SMALL, make_divisible(1024 * width), width, classes)
