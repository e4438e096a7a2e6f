"""Analytic counts from a model's graph: multiply-adds, parameters, memory access cost (MAC).

The graph comes from torch.fx with shapes propagated on the meta device (no arithmetic is done,
so counting a 224x224 model takes a fraction of a second). Every node gets a rule; a node with
no rule raises UnknownOpError naming it, so nothing is ever counted as 0 by accident.

Conventions (those of the papers the suite compares against):
  madds            multiply-accumulates of convolutions and linear layers only (the papers' "FLOPs")
  elementwise_ops  other arithmetic: one per output element for activations, adds, multiplies,
                   two per element for inference BatchNorm (scale, shift), window size for pooling
  mac_bytes        ShuffleNet V2's memory access cost: bytes of tensor inputs + weights read + output
                   written, at the given dtype. Views (reshape, flatten, slicing, chunk) move no bytes.
  peak_activation_bytes  the most activation memory live at once when the graph runs in order
                   (liveness: a tensor lives from its producer to its last consumer; in-place ops
                   are counted as new tensors, an upper bound). peak_io_bytes is the MobileNetV2
                   paper's simpler measure: the largest inputs + output of any single op.
"""
from __future__ import annotations

import copy
import operator
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from .models.layers import ChannelShuffle, Replicate

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "int8_static": 1, "int8_dynamic": 4}
# Bytes of one weight where they differ from an activation's: dynamic int8 quantization stores int8 weights
# and keeps float32 activations between operators (quantizing them inside each operator, uncounted here).
WEIGHT_BYTES = {"int8_dynamic": 1}

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.Hardsigmoid, nn.SiLU, nn.Sigmoid, nn.GELU, nn.Tanh)
POOLS = (nn.AdaptiveAvgPool2d, nn.AvgPool2d, nn.MaxPool2d, nn.AdaptiveMaxPool2d)
VIEW_MODULES = (nn.Flatten, nn.Identity, nn.Dropout)  # Dropout is the identity at inference
LEAVES = (ChannelShuffle, Replicate, nn.BatchNorm2d)  # BatchNorm subclasses too

ACT_FUNCTIONS = {torch.relu, F.relu, F.relu6, F.hardswish, F.hardsigmoid, F.silu, torch.sigmoid, F.sigmoid}
ELEMENTWISE_FUNCTIONS = {operator.add, operator.mul, operator.sub, operator.truediv, torch.add, torch.mul}
VIEW_FUNCTIONS = {torch.flatten, torch.reshape}
ELEMENTWISE_METHODS = {"add", "mul", "sub", "div", "add_", "mul_"}
ACT_METHODS = {"relu", "relu_", "sigmoid", "clamp"}
VIEW_METHODS = {"view", "reshape", "flatten", "size", "contiguous", "transpose", "permute", "squeeze", "unsqueeze"}
SPLIT_METHODS = {"chunk", "split"}

# layer type -> category of ShuffleNet V2's runtime breakdown (its Figure 2)
CATEGORY = {"fully_connected": "conv", "batchnorm": "elemwise", "activation": "elemwise",
            "elementwise": "elemwise", "concat": "data", "split": "data", "data_movement": "data",
            "shuffle": "shuffle", "pooling": "other", "view": "other"}


class UnknownOpError(ValueError):
    pass


@dataclass
class LayerCount:
    name: str
    op: str
    layer_type: str
    out_shape: tuple
    madds: int = 0
    params: int = 0
    elementwise_ops: int = 0
    mac_bytes: int = 0
    in_shapes: tuple = ()   # the shapes of its tensor inputs
    attrs: dict = field(default_factory=dict)  # what shapes the op beyond its tensors: kernel, stride, groups
    inputs: tuple = ()      # the names of the layers (or the graph input) it reads, in order

    @property
    def category(self) -> str:
        return "conv" if self.layer_type.startswith("conv") else CATEGORY[self.layer_type]


@dataclass
class CountResult:
    model: str
    input_shape: tuple
    dtype: str
    layers: list[LayerCount] = field(default_factory=list)
    peak_activation_bytes: int = 0
    peak_io_bytes: int = 0

    def total(self, key: str) -> int:
        return sum(getattr(layer, key) for layer in self.layers)

    def totals(self) -> dict:
        return {"madds": self.total("madds"), "params": self.total("params"),
                "elementwise_ops": self.total("elementwise_ops"), "mac_bytes": self.total("mac_bytes"),
                "peak_activation_bytes": self.peak_activation_bytes, "peak_io_bytes": self.peak_io_bytes}

    def by(self, key: str = "layer_type") -> dict[str, dict]:
        """Sums per layer type (or category), in the style of MobileNetV1's Table 2."""
        out: dict[str, dict] = {}
        for layer in self.layers:
            k = getattr(layer, key)
            row = out.setdefault(k, {"layers": 0, "madds": 0, "params": 0, "elementwise_ops": 0, "mac_bytes": 0})
            row["layers"] += 1
            for f in ("madds", "params", "elementwise_ops", "mac_bytes"):
                row[f] += getattr(layer, f)
        return out

    def rows(self) -> list[dict]:
        return [{**asdict(layer), "category": layer.category} for layer in self.layers]


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m, qualname):
        return isinstance(m, LEAVES) or super().is_leaf_module(m, qualname)


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def _tensor_shapes(value) -> list[tuple]:
    """Shapes of the tensors in a node's tensor_meta (a TensorMetadata or a tuple of them)."""
    if value is None:
        return []
    if hasattr(value, "shape"):
        return [tuple(value.shape)]
    if isinstance(value, (tuple, list)):
        return [s for v in value for s in _tensor_shapes(v)]
    return []


def conv_type(m: nn.Conv2d) -> str:
    kh, kw = m.kernel_size
    k = f"{kh}x{kw}"
    if m.groups > 1 and m.groups == m.in_channels == m.out_channels:
        return f"conv_dw{k}"
    return f"conv{k}" + ("_group" if m.groups > 1 else "")


def _own_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters(recurse=False))


def count_model(model: nn.Module, input_shape: tuple, dtype: str = "float32", name: str = "") -> CountResult:
    """Count every op of `model` for one input of `input_shape` (N, C, H, W)."""
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"unknown dtype {dtype!r} (valid: {', '.join(DTYPE_BYTES)})")
    nbytes = DTYPE_BYTES[dtype]
    on_meta = all(p.is_meta for p in model.parameters())
    model = model if on_meta else copy.deepcopy(model)  # moving to meta must not touch the caller's model
    graph = _Tracer().trace(model)
    meta_model = fx.GraphModule(model, graph).to("meta")
    ShapeProp(meta_model).propagate(torch.empty(input_shape, device="meta"))
    modules = dict(meta_model.named_modules())
    result = CountResult(name or type(model).__name__, tuple(input_shape), dtype)

    out_shapes: dict[str, list[tuple]] = {}
    alias_of: dict[str, str] = {}   # view node -> the node whose memory it shares
    alloc: dict[str, int] = {}      # node -> bytes it allocates
    nodes = list(meta_model.graph.nodes)
    for node in nodes:
        shapes = _tensor_shapes(node.meta.get("tensor_meta"))
        out_shapes[node.name] = shapes
        if node.op in ("placeholder", "output", "get_attr"):
            alloc[node.name] = _numel(shapes[0]) * nbytes if node.op == "placeholder" else 0
            continue
        in_shapes = [s for a in node.all_input_nodes for s in out_shapes.get(a.name, [])]
        in_bytes = sum(_numel(s) for s in in_shapes) * nbytes
        out_numel = sum(_numel(s) for s in shapes)
        out_bytes = out_numel * nbytes
        lc = _count_node(node, modules, in_shapes, shapes, out_numel, in_bytes, out_bytes,
                         WEIGHT_BYTES.get(dtype, nbytes))
        result.layers.append(lc)
        if lc.layer_type in ("view", "split") and node.all_input_nodes:
            src = node.all_input_nodes[0].name
            alias_of[node.name] = alias_of.get(src, src)
            alloc[node.name] = 0
        else:
            alloc[node.name] = out_bytes

    counted = result.total("params")
    actual = sum(p.numel() for p in model.parameters())
    if counted != actual:
        raise UnknownOpError(f"{result.model}: {actual - counted} parameters are used outside the ops the "
                             "counter attributes them to")
    result.peak_activation_bytes, result.peak_io_bytes = _peaks(nodes, alloc, alias_of, out_shapes, nbytes)
    return result


def _count_node(node, modules, in_shapes, shapes, out_numel, in_bytes, out_bytes, wbytes) -> LayerCount:
    lc = LayerCount(node.name, "", "", shapes[0] if len(shapes) == 1 else tuple(shapes), in_shapes=tuple(in_shapes),
                    inputs=tuple(a.name for a in node.all_input_nodes))
    io = in_bytes + out_bytes
    if node.op == "call_module":
        m = modules[node.target]
        lc.op = type(m).__name__
        lc.params = _own_params(m)
        weight_bytes = lc.params * wbytes
        if isinstance(m, nn.Conv2d):
            kh, kw = m.kernel_size
            lc.layer_type = conv_type(m)
            lc.madds = out_numel * (m.in_channels // m.groups) * kh * kw
            lc.mac_bytes = io + weight_bytes
            lc.attrs = {"cin": m.in_channels, "cout": m.out_channels, "k": kh, "stride": m.stride[0],
                        "groups": m.groups}
        elif isinstance(m, nn.Linear):
            lc.layer_type, lc.madds, lc.mac_bytes = "fully_connected", out_numel * m.in_features, io + weight_bytes
            lc.attrs = {"cin": m.in_features, "cout": m.out_features}
        elif isinstance(m, nn.BatchNorm2d):
            lc.layer_type, lc.elementwise_ops, lc.mac_bytes = "batchnorm", 2 * out_numel, io + weight_bytes
        elif isinstance(m, ACTIVATIONS):
            lc.layer_type, lc.elementwise_ops, lc.mac_bytes = "activation", out_numel, io
        elif isinstance(m, POOLS):
            window = _numel(in_shapes[0]) // max(out_numel, 1)
            if isinstance(m, (nn.AvgPool2d, nn.MaxPool2d)):
                k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
                window = k * k
                lc.attrs = {"k": k, "stride": m.stride if isinstance(m.stride, int) else m.stride[0]}
            lc.layer_type, lc.elementwise_ops, lc.mac_bytes = "pooling", out_numel * window, io
        elif isinstance(m, ChannelShuffle):
            lc.layer_type, lc.mac_bytes = "shuffle", io
        elif isinstance(m, Replicate):
            lc.layer_type, lc.mac_bytes = "data_movement", io
        elif isinstance(m, VIEW_MODULES):
            lc.layer_type = "view"
        else:
            raise UnknownOpError(f"no counting rule for module {type(m).__name__} (node '{node.name}', "
                                 f"'{node.target}'); add one in benchsuite/counting.py")
        return lc
    target = node.target
    lc.op = getattr(target, "__name__", str(target))
    if node.op == "call_function":
        if target in ELEMENTWISE_FUNCTIONS:
            lc.layer_type, lc.elementwise_ops, lc.mac_bytes = "elementwise", out_numel, io
        elif target in ACT_FUNCTIONS:
            lc.layer_type, lc.elementwise_ops, lc.mac_bytes = "activation", out_numel, io
        elif target is torch.cat:
            lc.layer_type, lc.mac_bytes = "concat", io
        elif target in VIEW_FUNCTIONS or target is operator.getitem:
            lc.layer_type = "view"
        else:
            raise UnknownOpError(f"no counting rule for function {lc.op} (node '{node.name}'); "
                                 "add one in benchsuite/counting.py")
    elif node.op == "call_method":
        if target in ELEMENTWISE_METHODS:
            lc.layer_type, lc.elementwise_ops, lc.mac_bytes = "elementwise", out_numel, io
        elif target in ACT_METHODS:
            lc.layer_type, lc.elementwise_ops, lc.mac_bytes = "activation", out_numel, io
        elif target == "mean":
            lc.layer_type, lc.elementwise_ops, lc.mac_bytes = "pooling", _numel(in_shapes[0]), io
        elif target in SPLIT_METHODS:
            lc.layer_type = "split"
        elif target in VIEW_METHODS:
            lc.layer_type = "view"
        else:
            raise UnknownOpError(f"no counting rule for method .{target}() (node '{node.name}'); "
                                 "add one in benchsuite/counting.py")
    else:
        raise UnknownOpError(f"no counting rule for graph node kind {node.op} (node '{node.name}')")
    return lc


def _peaks(nodes, alloc, alias_of, out_shapes, nbytes) -> tuple[int, int]:
    index = {n.name: i for i, n in enumerate(nodes)}
    base = lambda name: alias_of.get(name, name)  # noqa: E731
    last_use = {n.name: index[n.name] for n in nodes}
    for n in nodes:
        for a in n.all_input_nodes:
            b = base(a.name)
            last_use[b] = max(last_use[b], index[n.name])
    peak = live = 0
    frees: dict[int, int] = {}
    for i, n in enumerate(nodes):
        live += alloc[n.name]
        peak = max(peak, live)
        if alloc[n.name]:
            frees[last_use[n.name]] = frees.get(last_use[n.name], 0) + alloc[n.name]
        live -= frees.pop(i, 0)
    io = 0
    for n in nodes:
        if n.op in ("call_module", "call_function", "call_method") and alloc[n.name]:
            ins = sum(_numel(s) for a in n.all_input_nodes for s in out_shapes.get(a.name, []))
            io = max(io, (ins + sum(_numel(s) for s in out_shapes[n.name])) * nbytes)
    return peak, io


def count_registered(name: str, resolution=None, batch_size: int = 1, dtype: str = "float32",
                     **knobs) -> CountResult:
    """Count a registered model at an input size (224, "640x480", an InputSize; default: the model's own)."""
    from .input_size import parse_input_size
    from .models import create_model, get_model_entry

    size = parse_input_size(resolution or get_model_entry(name).default_resolution)
    with torch.device("meta"):  # shapes only: no memory, no initialisation arithmetic
        model = create_model(name, **knobs)
    return count_model(model, (batch_size, model.in_channels, size.height, size.width), dtype, name=name)
