"""Fusion and layout rules of a runner that does not run every op as its own kernel, read from the graph
the runner itself executes (Runner.executed_ops: onnxruntime's optimised model), and a network's kernels
as that runner runs them.

Detection builds small models in the context a network gives an op (between two 1x1 convolutions, so that
a runner that changes the data layout keeps its own layout through them) and counts the ops the runner
executes:

- **fusion**: a consumer op (BatchNorm, an activation, add, multiply) after a producer convolution is fused
  when the runner executes no more compute ops with it than without it. Add and multiply take a second
  convolution's output as their other operand, as a residual or a gate does.
- **layout**: an op runs in the runner's own blocked layout (onnxruntime's NCHWc) when putting it between
  two 1x1 convolutions (a convolution: before one) adds no layout conversion (`Runner.layout_ops`); around
  any other op the runner converts back and forth, and those conversions are kernels of their own.
- **direct input**: whether the network's 3-channel image enters its first convolution without a
  conversion.
- **copied splits**: whether a channel split (torch's chunk, a view) runs as a kernel of its own (a Split
  that copies). Such a split is predicted as a `layout` kernel of its input: both read and write the tensor
  once, and the profile has no split of its own.

`network_kernels` walks a counted network (counting.py, in graph order) with the rules: a consumer whose
producer (or the kernel its producer was fused into) fuses it and feeds nothing else runs inside that
kernel (a binary op whose operands differ in shape, a squeeze-excite gate, is its own case for the
layout); each tensor crossing between the blocked and the plain layout gets one conversion kernel (kind
`layout`, its bytes read and written), the first time a consumer needs it. The rules are detected on this
host: a profile made on another machine gets its rules from the runner here, which is only right for the
same CPU, so latency_model.py refuses a fusing runner's predictor for a remote profile.
"""
from __future__ import annotations

from dataclasses import dataclass, field

PRODUCERS = ("conv_pointwise", "conv_full", "conv_depthwise", "conv_grouped")
UNARY = ("batchnorm", "relu", "relu6", "hswish", "hsigmoid", "sigmoid", "swish")
BINARY = ("add", "mul")
LAYOUT_KINDS = ("relu", "relu6", "hswish", "hsigmoid", "sigmoid", "swish", "batchnorm", "add", "mul", "concat",
                "shuffle", "avgpool_global", "maxpool", "avgpool", "mul_broadcast")
CHANNELS = 32  # the test models' width: a multiple of every blocked layout's block (8, 16)


@dataclass(frozen=True)
class FusionRules:
    """What detection found for one runner: fused (producer kind, consumer kind) pairs, the kinds that run
    in the runner's blocked layout (empty: the runner keeps one layout), and whether the image input enters
    the first convolution without a conversion."""
    runner: str
    fused: frozenset = field(default_factory=frozenset)
    blocked: frozenset = field(default_factory=frozenset)
    direct_input: bool = True
    copies_splits: bool = False

    def describe(self) -> str:
        pairs = ", ".join(f"{p}+{c}" for p, c in sorted(self.fused)) or "none"
        out = f"{self.runner} fuses {pairs}" + ("; copies channel splits" if self.copies_splits else "")
        if self.blocked:
            out += f"; blocked layout for {', '.join(sorted(self.blocked))}"
        return out


def _module(kind: str):
    from torch import nn

    from .models.kernels import ELEMENTWISE

    c = CHANNELS
    conv = {"conv_pointwise": lambda: nn.Conv2d(c, c, 1, bias=False),
            "conv_full": lambda: nn.Conv2d(c, c, 3, padding=1, bias=False),
            "conv_depthwise": lambda: nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False),
            "conv_grouped": lambda: nn.Conv2d(c, c, 1, groups=4, bias=False)}
    if kind in conv:
        return conv[kind]()
    if kind in ELEMENTWISE:
        return ELEMENTWISE[kind](c).eval()
    raise ValueError(kind)


def _pair_model(producer: str, consumer: str | None):
    """post(consumer(producer(x))) or, for a binary consumer, post(producer(x) (+|*) other(x))."""
    import torch
    from torch import nn

    from .models.layers import ChannelShuffle

    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            width = 2 * CHANNELS if consumer == "concat" else CHANNELS
            self.producer, self.post = _module(producer), nn.Conv2d(width, CHANNELS, 1, bias=False)
            self.other = (nn.Conv2d(CHANNELS, CHANNELS, 1, bias=False)
                          if consumer in (*BINARY, "concat", "mul_broadcast") else None)
            self.consumer = (_module(consumer) if consumer in UNARY else
                             ChannelShuffle(2) if consumer == "shuffle" else
                             nn.AdaptiveAvgPool2d(1) if consumer == "avgpool_global" else
                             nn.MaxPool2d(3, 1, 1) if consumer == "maxpool" else
                             nn.AvgPool2d(3, 1, 1) if consumer == "avgpool" else None)

        def forward(self, x):
            y = self.producer(x)
            if consumer == "split":  # two halves, put back together
                y = torch.cat(y.chunk(2, 1), 1)
            elif consumer == "add":
                y = y + self.other(x)
            elif consumer == "mul":
                y = y * self.other(x)
            elif consumer == "mul_broadcast":  # a squeeze-excite gate: a 1x1 map times every pixel
                y = y * self.other(x.mean((2, 3), keepdim=True))
            elif consumer == "concat":
                y = torch.cat((y, self.other(x)), 1)
            elif self.consumer is not None:
                y = self.consumer(y)
            return self.post(y)

    return Pair().eval()


def detect(runner_name: str, options: dict, threads: int = 1, ops_of=None) -> FusionRules:
    """The rules of runner `runner_name` (with its resolved `options`), read from the graphs it executes
    for the test models; `ops_of(model, example) -> list[str]` stands in for the runner (tests)."""
    import torch

    from .errors import BenchsuiteError
    from .runners import get_runner

    runner = get_runner(runner_name)
    layout_ops = set(runner.layout_ops)
    if ops_of is None:
        def ops_of(model, example):
            return runner.executed_ops(model, example, options, threads)
    x = torch.randn(1, CHANNELS, 16, 16)
    torch.manual_seed(0)

    def split(model, example=x):
        ops = ops_of(model, example)
        if ops is None:
            raise BenchsuiteError(f"runner '{runner_name}' cannot show the graph it executes: its fusion rules "
                                  "cannot be read (a predictor needs them)")
        return sum(o not in layout_ops for o in ops), sum(o in layout_ops for o in ops)

    fused = set()
    for producer in PRODUCERS:
        base, _ = split(_pair_model(producer, None))
        for consumer in (*UNARY, *BINARY):
            compute, _ = split(_pair_model(producer, consumer))
            if compute <= base + (consumer in BINARY):  # the other operand's conv is one op of its own
                fused.add((producer, consumer))
    blocked = set()
    if layout_ops:
        _, base_layout = split(_pair_model("conv_pointwise", None))
        for kind in PRODUCERS:  # a convolution the blocked layout lacks is converted around
            if split(_pair_model(kind, None))[1] <= base_layout:
                blocked.add(kind)
        for kind in LAYOUT_KINDS:
            _, n = split(_pair_model("conv_pointwise", kind))
            if n <= base_layout:
                blocked.add(kind)
        from torch import nn

        stem = nn.Sequential(nn.Conv2d(3, CHANNELS, 3, 2, 1, bias=False), nn.Conv2d(CHANNELS, CHANNELS, 1, bias=False))
        _, stem_layout = split(stem.eval(), torch.randn(1, 3, 32, 32))
        direct = stem_layout < base_layout
    else:
        direct = True
    base, _ = split(_pair_model("conv_pointwise", None))
    copies = split(_pair_model("conv_pointwise", "split"))[0] > base + 1  # the concat is one op of its own
    return FusionRules(runner_name, frozenset(fused), frozenset(blocked), direct, copies)


def network_kernels(counts, rules: FusionRules | None, kernel_of, layout_of) -> tuple[list, list]:
    """The kernels a runner with `rules` runs for counted network `counts`, and the chains fused into them:
    `kernel_of(layer)` gives the kernel of a counted layer (None for a view), `layout_of(name, elements,
    bytes moved)` a conversion's; fused consumers are dropped from the kernels and listed, in order, per
    kernel they run in: [(that kernel, [consumer kinds])]."""
    from .counting import DTYPE_BYTES

    layers = {lc.name: lc for lc in counts.layers}
    readers: dict[str, int] = {}
    for lc in counts.layers:
        for name in lc.inputs:
            readers[name] = readers.get(name, 0) + 1
    host: dict[str, str] = {}        # a layer -> the kernel it runs in (itself, or the one it was fused into)
    blocked: dict[str, bool] = {}    # a tensor (layer name) -> whether it is in the blocked layout
    converted: set[str] = set()      # tensors already converted to the other layout
    source: dict[str, str] = {}      # a view -> the tensor whose memory it is
    kind_of: dict[str, str] = {}
    nbytes = DTYPE_BYTES[counts.dtype]
    out = []
    chains: dict[str, list[str]] = {}
    made: dict[str, object] = {}

    def tensor_bytes(name: str) -> tuple[int, int]:
        lc = layers.get(name)
        shapes = [counts.input_shape] if lc is None else (
            [lc.out_shape] if lc.out_shape and isinstance(lc.out_shape[0], int) else list(lc.out_shape))
        numel = sum(_numel(s) for s in shapes)
        return numel, numel * nbytes

    def convert(name: str, why: str):
        if name in converted:
            return
        converted.add(name)
        numel, b = tensor_bytes(name)
        out.append(layout_of(f"{why}({name})", numel, 2 * b))

    for lc in counts.layers:
        kernel = kernel_of(lc)
        if kernel is None and rules is not None and rules.copies_splits and lc.layer_type == "split":
            src = source.get(lc.inputs[0], lc.inputs[0])
            if blocked.get(src, False) and rules.blocked:
                convert(src, "reorder_output")  # the split itself runs in the plain layout
            numel, b = tensor_bytes(src)
            out.append(layout_of(f"split({lc.name})", numel, 2 * b))
            host[lc.name] = lc.name
            kind_of[lc.name] = "split"
            blocked[lc.name] = False
            continue
        if kernel is None:  # a view: the same memory, so the same layout
            src = source.get(lc.inputs[0], lc.inputs[0]) if lc.inputs else lc.name
            source[lc.name] = src
            blocked[lc.name] = blocked.get(src, False)
            continue
        kind = kernel.kind
        kind_of[lc.name] = kind
        shapes = {tuple(sh) for sh in lc.in_shapes}
        layout_kind = f"{kind}_broadcast" if kind in BINARY and len(shapes) > 1 else kind
        ins = [source.get(n, n) for n in lc.inputs]
        if rules is not None:
            fused_into = None
            for n in lc.inputs:
                h = host.get(n)
                if h is not None and readers.get(n, 0) == 1 and (kind_of[h], kind) in rules.fused:
                    fused_into = h
                    break
            if fused_into is not None:
                host[lc.name] = fused_into
                chains.setdefault(fused_into, []).append(kind)
                blocked[lc.name] = blocked.get(fused_into, False)
                continue
            if rules.blocked:
                want = layout_kind in rules.blocked
                for n in ins:
                    is_blocked = blocked.get(n, False)
                    if n not in layers:  # the network's input
                        if want and not (rules.direct_input and kind.startswith("conv")):
                            convert(n, "reorder_input")
                    elif want and not is_blocked:
                        convert(n, "reorder_input")
                    elif not want and is_blocked:
                        convert(n, "reorder_output")
                blocked[lc.name] = want
        host[lc.name] = lc.name
        made[lc.name] = kernel
        out.append(kernel)
    if rules is not None and counts.layers and blocked.get(counts.layers[-1].name, False):
        convert(counts.layers[-1].name, "reorder_output")
    return out, [(made[h], chain) for h, chain in chains.items()]


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n
