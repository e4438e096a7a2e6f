"""ShuffleNet V1 (Zhang et al. 2018; the authors' ShuffleNet-Series structure) and ShuffleNet V2
(Ma et al. 2018; torchvision's structure)."""
from __future__ import annotations

import torch
from torch import nn

from .layers import ChannelShuffle, Classifier, Net, conv_bn
from .registry import register_model

# ---------------------------------------------------------------- V2

V2_CHANNELS = {0.5: (24, 48, 96, 192, 1024), 1.0: (24, 116, 232, 464, 1024),
               1.5: (24, 176, 352, 704, 1024), 2.0: (24, 244, 488, 976, 2048)}


class _V2Unit(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        half = cout // 2
        self.stride = stride
        if stride > 1:
            self.branch1 = nn.Sequential(conv_bn(cin, cin, 3, stride, groups=cin, act=None), conv_bn(cin, half, 1))
        self.branch2 = nn.Sequential(conv_bn(cin if stride > 1 else half, half, 1),
                                     conv_bn(half, half, 3, stride, groups=half, act=None), conv_bn(half, half, 1))
        self.shuffle = ChannelShuffle(2)

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return self.shuffle(out)


@register_model(family="shufflenet_v2", choices={"width": tuple(V2_CHANNELS)})
def shufflenet_v2(*, width: float = 1.0, classes: int = 1000):
    """ShuffleNet V2: channel split, two branches, concat, channel shuffle (widths 0.5/1/1.5/2)."""
    if width not in V2_CHANNELS:
        raise ValueError(f"ShuffleNet V2 width {width} not defined (valid: {', '.join(map(str, V2_CHANNELS))})")
    ch = V2_CHANNELS[width]
    layers = [conv_bn(3, ch[0], 3, 2), nn.MaxPool2d(3, 2, 1)]
    cin = ch[0]
    for repeats, cout in zip((4, 8, 4), ch[1:4]):
        layers += [_V2Unit(cin, cout, 2)] + [_V2Unit(cout, cout, 1) for _ in range(repeats - 1)]
        cin = cout
    layers.append(conv_bn(cin, ch[4], 1))
    return Net(*layers, Classifier(ch[4], classes))


# ---------------------------------------------------------------- V1

# stage widths at scale 1.0 by groups (paper Table 1)
V1_WIDTHS = {1: 144, 2: 200, 3: 240, 4: 272, 8: 384}
V1_SCALES = (0.25, 0.5, 1.0, 1.5, 2.0)


class _V1Unit(nn.Module):
    def __init__(self, cin: int, cout: int, groups: int, stride: int, first_group: bool):
        super().__init__()
        self.stride = stride
        branch_out = cout - cin if stride == 2 else cout
        mid = cout // 4
        self.branch = nn.Sequential(
            conv_bn(cin, mid, 1, groups=1 if first_group else groups), ChannelShuffle(groups),
            conv_bn(mid, mid, 3, stride, groups=mid, act=None), conv_bn(mid, branch_out, 1, groups=groups, act=None))
        if stride == 2:
            self.pool = nn.AvgPool2d(3, 2, 1)

    def forward(self, x):
        y = self.branch(x)
        if self.stride == 2:
            return torch.cat((self.pool(x), torch.relu(y)), dim=1)
        return torch.relu(x + y)


def _v1_width(groups: int, scale: float) -> int:
    # a multiple of 4 * groups, so the bottleneck (width / 4) splits evenly into groups
    q = 4 * groups
    return max(q, int(round(V1_WIDTHS[groups] * scale / q)) * q)


def _v1_stem(groups: int, scale: float) -> int:
    """The stem's channels as in the authors' models (megvii-model/ShuffleNet-Series, ShuffleNetV1):
    48 at 2x, 24 at 1x and 1.5x, and at 0.5x 12 (g = 3) or 16 (g = 8); other group counts at 0.5x take
    12 (half of 24). The authors publish no 0.25x model: it keeps the 0.5x stem."""
    if scale == 2.0:
        return 48
    if scale >= 1.0:
        return 24
    return 16 if groups == 8 else 12


@register_model(family="shufflenet_v1", choices={"groups": tuple(V1_WIDTHS), "scale": V1_SCALES})
def shufflenet_v1(*, groups: int = 3, scale: float = 1.0, classes: int = 1000):
    """ShuffleNet V1: pointwise group convs with channel shuffle (groups 1/2/3/4/8, scale 0.25-2)."""
    if groups not in V1_WIDTHS:
        raise ValueError(f"ShuffleNet V1 groups {groups} not defined (valid: {', '.join(map(str, V1_WIDTHS))})")
    if scale not in V1_SCALES:
        raise ValueError(f"ShuffleNet V1 scale {scale} not defined (valid: {', '.join(map(str, V1_SCALES))})")
    stem = _v1_stem(groups, scale)
    layers = [conv_bn(3, stem, 3, 2), nn.MaxPool2d(3, 2, 1)]
    cin, width = stem, _v1_width(groups, scale)
    for stage, repeats in enumerate((4, 8, 4)):
        cout = width * 2 ** stage
        for i in range(repeats):
            layers.append(_V1Unit(cin, cout, groups, 2 if i == 0 else 1, first_group=stage == 0 and i == 0))
            cin = cout
    return Net(*layers, Classifier(cin, classes, bias=False))
