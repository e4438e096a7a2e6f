"""MobileNetV1 (Howard et al. 2017) with width multiplier, and its Table 4 "full convolution" variant."""
from __future__ import annotations


from .layers import Classifier, Net, conv_bn
from .registry import register_model

# (output channels, stride) of the 13 depthwise-separable layers (paper Table 1)
_LAYERS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]


def _build(width: float, classes: int, separable: bool) -> Net:
    ch = lambda c: int(c * width)  # noqa: E731 - the paper's alpha * channels
    cin = ch(32)
    layers = [conv_bn(3, cin, 3, 2)]
    for cout, stride in _LAYERS:
        if separable:
            layers += [conv_bn(cin, cin, 3, stride, groups=cin), conv_bn(cin, ch(cout), 1)]
        else:
            layers.append(conv_bn(cin, ch(cout), 3, stride))
        cin = ch(cout)
    return Net(*layers, Classifier(cin, classes))


@register_model(family="mobilenet_v1")
def mobilenet_v1(*, width: float = 1.0, classes: int = 1000, separable: bool = True):
    """MobileNetV1: 3x3 conv then 13 depthwise-separable layers; width multiplier alpha. With
    separable = false every pair is one standard 3x3 conv (Table 4; mobilenet_v1_full_conv)."""
    return _build(width, classes, separable=separable)


@register_model(family="mobilenet_v1")
def mobilenet_v1_full_conv(*, width: float = 1.0, classes: int = 1000):
    """MobileNetV1 with every depthwise-separable pair replaced by a standard 3x3 conv (paper Table 4)."""
    return _build(width, classes, separable=False)


