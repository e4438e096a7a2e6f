"""Which guideline costs what: a network's predicted forward time split in ShuffleNet V2's terms.

The prediction of latency_model.py is a sum over the kernels the runner runs. Each kernel's predicted time
is cut into parts, in this order, and the parts of every kernel are added up per category:

- `g4_elementwise`: the whole time of an element-wise kernel (the activations, add, multiply, BatchNorm,
  which runs as a per-channel scale and shift in an unfused runner), and what the element-wise ops a
  fusing runner runs inside a convolution add to it: G4, "element-wise operations are non-negligible".
- `g3_launches`: for every other kernel, the per-kernel floor, the time of the cheapest kernel the profile
  measured (what any kernel costs however little it does: dispatch, allocation, a pass over the cache).
  G3, "network fragmentation reduces the degree of parallelism", is paid per fragment: a network of many
  small kernels pays this floor many times; so does a node-profiled runner's executor overhead per kernel.
- `flops_at_best`: each convolution's or linear layer's multiply-adds at the device's best kernel speed
  (the fastest multiply-adds per second of any profiled convolution or linear kernel): the time FLOPs
  would predict on this device at its best.
- the rest of a convolution's time, beyond those two, is its excess, attributed by kind:
  `g1_unequal_widths` for a dense 1x1 convolution whose input and output channels differ: its predicted
  time less the prediction for the same kernel at equal widths with the same multiply-adds (c = sqrt(c1 c2),
  the memory access moved accordingly), at most its excess (G1, "equal channel width minimises memory
  access cost"); `g2_group_convs` the excess of a grouped (not depthwise) convolution (G2, "excessive group
  convolution increases memory access cost"); `depthwise_below_best` and `dense_below_best` what remains of
  depthwise and dense convolutions and linear layers (slower than the device's best kernel speed for
  reasons the guidelines do not name: shape, cache, the library's choice of algorithm).
- `data_movement`: pooling, concat, channel shuffle and a runner's layout conversions (onnxruntime's NCHWc
  reorders around the ops its blocked layout lacks) beyond their floor.
- `run_overhead`: the runtime's cost per run beyond its kernels and its per-kernel overhead (a
  node-profiled runner's; 0 otherwise), paid once per forward, whatever the network.

The categories add up to the prediction exactly. Given the measured time, `unexplained` is the measured
minus the predicted: what the kernel sum misses (kernels the counter does not see, Python overhead between
kernels, caches cold in the network that were warm in the profile), named as such and never spread over
the guidelines. Every part is `predicted` (from the profile's fits), not measured: a network's time is not
measured kernel by kernel here.
"""
from __future__ import annotations

import math
from dataclasses import replace

CATEGORIES = ("flops_at_best", "g1_unequal_widths", "g2_group_convs", "g3_launches", "g4_elementwise",
              "depthwise_below_best", "dense_below_best", "data_movement", "run_overhead")
LABELS = {"flops_at_best": "FLOPs at the best kernel speed", "g1_unequal_widths": "G1 unequal channel widths",
          "g2_group_convs": "G2 group convolutions", "g3_launches": "G3 fragments (per-kernel floor)",
          "g4_elementwise": "G4 element-wise ops", "depthwise_below_best": "depthwise convs below best speed",
          "dense_below_best": "dense convs below best speed", "data_movement": "pooling, concat, shuffle, layout",
          "run_overhead": "the runtime's per-run overhead",
          "unexplained": "measured minus predicted (unexplained)"}
SHORT = {"flops_at_best": "FLOPs", "g1_unequal_widths": "G1", "g2_group_convs": "G2", "g3_launches": "G3",
         "g4_elementwise": "G4", "depthwise_below_best": "dw", "dense_below_best": "dense", "data_movement": "data",
         "run_overhead": "run",
         "unexplained": "unexplained"}
ELEMENTWISE_KINDS = ("relu", "relu6", "hswish", "hsigmoid", "swish", "sigmoid", "add", "mul", "batchnorm")


def _is_elementwise(kind: str) -> bool:
    return kind in ELEMENTWISE_KINDS or kind.startswith(("activation ", "elementwise ", "fused "))


def equal_width(k):
    """The same 1x1 convolution's multiply-adds at equal input and output widths c = sqrt(cin cout): its
    input and output maps and its memory access change with c, its weights do not (c^2 = cin cout)."""
    c = math.sqrt(k.cin * k.cout)
    hw = k.out_elements / k.cout
    parts = (hw * k.stride ** 2 * k.cin, hw * k.cout, k.cin * k.cout)  # input, output, weights (elements)
    moved = (parts[0] * c / k.cin, parts[1] * c / k.cout, parts[2])
    return replace(k, cin=c, cout=c, out_elements=hw * c, mac_bytes=k.mac_bytes * sum(moved) / sum(parts))


def explain(predictor, kernels, measured: float | None = None, prediction: dict | None = None) -> dict[str, float]:
    """Seconds per category (CATEGORIES, plus `unexplained` when `measured` seconds are given) for a network
    made of `kernels` (`prediction`: predictor.predict(kernels), when the caller has it); the categories sum
    to the predicted total."""
    prediction = prediction or predictor.predict(kernels)
    out = dict.fromkeys(CATEGORIES, 0.0)
    out["run_overhead"] = prediction.get("run_overhead", 0.0)
    out["g3_launches"] = prediction.get("node_overhead", 0.0)
    floor, best = predictor.floor_s, predictor.best_seconds_per_madd
    for k, row in zip(kernels, prediction["per_kernel"]):
        t = row["seconds"]
        if _is_elementwise(k.kind):
            out["g4_elementwise"] += t
            continue
        launch = min(t, floor)
        out["g3_launches"] += launch
        rest = t - launch
        if not k.kind.startswith(("conv", "linear")):
            out["data_movement"] += rest
            continue
        at_best = min(rest, k.madds * best)
        out["flops_at_best"] += at_best
        excess = rest - at_best
        if k.kind == "conv_grouped":
            out["g2_group_convs"] += excess
        elif k.kind == "conv_depthwise":
            out["depthwise_below_best"] += excess
        else:
            g1 = 0.0
            if k.kind == "conv_pointwise" and k.cin != k.cout and k.cin and k.cout:
                g1 = min(excess, max(0.0, t - predictor.kernel_seconds(equal_width(k))))
            out["g1_unequal_widths"] += g1
            out["dense_below_best"] += excess - g1
    if measured is not None:
        out["unexplained"] = measured - prediction["seconds"]
    return out
