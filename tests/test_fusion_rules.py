"""Fusion and layout rules read from the graph a runner executes (fusion_rules.py): detection on a toy runner
whose fusion and layout are known, a network's kernels under rules (what is fused, where conversions go and
what they move), and a profiled one-op run split into the op, its conversions and the per-run overhead."""
import pandas as pd
import pytest
import torch
from torch import nn

from benchsuite import latency_model as lm
from benchsuite.counting import count_model
from benchsuite.fusion_rules import FusionRules, detect, network_kernels

FUSES = {"BatchNorm2d", "ReLU", "ReLU6"}  # the toy folds these into a dense (not grouped) conv before them
PLAIN = {"AdaptiveAvgPool2d", "ChannelShuffle", "mean", "mul_broadcast"}  # ops its blocked layout lacks


def _toy_ops(model, example):
    """What a toy runner executes: every counted op, with BatchNorm/ReLU/ReLU6 after a conv of groups 1
    gone into it, the rest of the ops in a blocked layout but the PLAIN ones, which it converts around."""
    counts = count_model(model, tuple(example.shape))
    layers = {lc.name: lc for lc in counts.layers}
    host, ops, blocked, converted = {}, [], {}, set()
    for lc in counts.layers:
        if lc.layer_type in ("view", "split"):
            continue
        src = layers.get(lc.inputs[0]) if lc.inputs else None
        h = host.get(src.name) if src is not None else None
        if lc.op in FUSES and h is not None and h.layer_type.startswith("conv") and h.attrs["groups"] == 1:
            host[lc.name] = h
            blocked[lc.name] = True
            continue
        host[lc.name] = lc
        op = "mul_broadcast" if lc.op == "mul" and len({tuple(s) for s in lc.in_shapes}) > 1 else lc.op
        want = op not in PLAIN
        for n in lc.inputs:
            if n in layers and blocked.get(n, False) != want and n not in converted:
                converted.add(n)
                ops.append("ReorderOutput" if not want else "ReorderInput")
            elif n not in layers and want and n not in converted and not (lc.op == "Conv2d" and example.shape[1] == 3):
                converted.add(n)
                ops.append("ReorderInput")
        blocked[lc.name] = want
        ops.append(lc.op)
    if blocked.get(counts.layers[-1].name):
        ops.append("ReorderOutput")
    return ops


def test_detection_reads_the_toy_runners_fusion_and_layout():
    rules = detect("onnxruntime", {}, ops_of=_toy_ops)  # onnxruntime's layout_ops name the toy's conversions
    dense = ("conv_pointwise", "conv_full", "conv_depthwise")  # depthwise: groups = channels, not 1
    want = {(p, c) for p in ("conv_pointwise", "conv_full") for c in ("batchnorm", "relu", "relu6")}
    assert rules.fused == want
    assert ("conv_depthwise", "relu") not in rules.fused and ("conv_pointwise", "add") not in rules.fused
    assert {"avgpool_global", "shuffle", "mul_broadcast"}.isdisjoint(rules.blocked)
    assert {"add", "mul", "concat", "hswish", *dense, "conv_grouped"} <= rules.blocked
    assert rules.direct_input and not rules.copies_splits  # the toy's chunk is a view, as in torch


def test_detection_sees_a_runner_that_copies_its_splits():
    def copying(model, example):
        ops = _toy_ops(model, example)
        counts = count_model(model, tuple(example.shape))
        return ops + ["Split"] * sum(lc.layer_type == "split" for lc in counts.layers)

    assert detect("onnxruntime", {}, ops_of=copying).copies_splits


def test_detection_refuses_a_runner_that_cannot_show_its_graph():
    from benchsuite.errors import BenchsuiteError

    with pytest.raises(BenchsuiteError, match="runner 'fake' cannot show the graph it executes"):
        detect("fake", {})


class _Block(nn.Module):
    """conv-BN-ReLU, then a pointwise conv, a residual add, a squeeze-excite style gate and a global pool."""
    in_channels = 16

    def __init__(self):
        super().__init__()
        self.conv, self.bn, self.act = nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU()
        self.pw = nn.Conv2d(16, 16, 1, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        y = self.pw(self.act(self.bn(self.conv(x)))) + x
        return y * self.pool(y)


def test_a_networks_kernels_under_rules_drop_what_is_fused_and_add_each_conversion_once():
    counts = count_model(_Block(), (1, 16, 8, 8))
    plain = lm.kernels_of(counts, "torch_eager")
    assert [k.kind for k in plain] == ["conv_full", "batchnorm", "relu", "conv_pointwise", "add",
                                       "avgpool_global", "mul"]
    fuse = frozenset({("conv_full", "batchnorm"), ("conv_full", "relu"), ("conv_pointwise", "add")})
    rules = FusionRules("toy", fuse, frozenset({"conv_full", "conv_pointwise", "add", "mul"}), direct_input=False)
    kernels, chains = network_kernels(counts, rules, lm.layer_kernel, lm.layout_kernel)
    names = [(k.kind, k.name) for k in kernels]
    # the input is converted once (the conv and the residual add both read it), the sum leaves the blocked
    # layout once for the pool (the gate's multiply reads it too, blocked), the gate is the pool's plain
    # output, and the multiply's broadcast makes it plain: its other operand, the sum, is already converted
    assert [k for k, _ in names] == ["layout", "conv_full", "conv_pointwise", "layout", "avgpool_global", "mul"]
    reorder = kernels[0]
    assert reorder.mac_bytes == 2 * 16 * 8 * 8 * 4 and reorder.out_elements == 16 * 8 * 8 and reorder.madds == 0
    assert [(host.kind, chain) for host, chain in chains] == [("conv_full", ["batchnorm", "relu"]),
                                                              ("conv_pointwise", ["add"])]
    # the predictor's kernels: those, and a `fused` kernel per chain, priced per element of its host's output
    assert [k.kind for k in lm.kernels_of(counts, "onnxruntime", rules)][-2:] == [
        "fused conv_full:batchnorm+relu", "fused conv_pointwise:add"]
    # the same rules, no blocked layout: only fusion
    no_layout, _ = network_kernels(counts, FusionRules("toy", fuse), lm.layer_kernel, lm.layout_kernel)
    assert [k.kind for k in no_layout] == ["conv_full", "conv_pointwise", "avgpool_global", "mul"]
    # a split the runner copies is a layout-priced kernel of its input, run in the plain layout
    class _Split(nn.Module):
        in_channels = 16

        def __init__(self):
            super().__init__()
            self.pw = nn.Conv2d(16, 16, 1, bias=False)

        def forward(self, x):
            a, b = self.pw(x).chunk(2, 1)
            return torch.cat((b, a), 1)

    split_counts = count_model(_Split(), (1, 16, 8, 8))
    copies = FusionRules("toy", frozenset(), frozenset({"conv_pointwise"}), direct_input=False, copies_splits=True)
    names = [k.name.split("(")[0] for k in network_kernels(split_counts, copies, lm.layer_kernel,
                                                           lm.layout_kernel)[0]]
    assert names[:4] == ["reorder_input", "pw", "reorder_output", "split"]
    # a producer read twice is not fused into: the add's conv output feeds the pool and the gate
    reads_twice = FusionRules("toy", frozenset({("conv_pointwise", "avgpool_global")}))
    kinds = [k.kind for k in network_kernels(counts, reads_twice, lm.layer_kernel, lm.layout_kernel)[0]]
    assert "avgpool_global" in kinds


def test_a_node_profiled_kernel_is_its_op_node_plus_two_conversions_and_the_rest_is_executor_overhead():
    rec = {"model": "kernel_conv", "params.cin": 32, "params.cout": 64, "params.k": 1, "params.stride": 1,
           "params.groups": 1, "height": 28, "width": 28, "batch_size": 1, "dtype": "float32", "status": "ok"}
    rows = []
    # four one-op models: an op node, conversions around it where there are three nodes; the measured median
    # is the nodes plus 10 us a run and 4 us a node. c5 has no node profile: its median is the kernel's
    for case, (op, layout, nodes) in {"c1": (6e-4, 3e-4, 3), "c2": (5e-4, 2e-4, 3), "c3": (2e-4, 0, 1),
                                      "c4": (1e-4, 0, 1)}.items():
        rows += [{**rec, "case_id": case, "metric": "latency_forward", "value": op + layout + 10e-6 + 4e-6 * nodes},
                 {**rec, "case_id": case, "metric": "kernel_node_time", "value": op},
                 {**rec, "case_id": case, "metric": "layout_node_time", "value": layout},
                 {**rec, "case_id": case, "metric": "nodes_per_run", "value": nodes}]
    rows.append({**rec, "case_id": "c5", "metric": "latency_forward", "value": 2e-3})
    df = pd.DataFrame(rows)
    table = lm.kernel_table(df)
    (op, a), (ri, b), (ro, c) = table[:3]
    assert op.kind == "conv_pointwise" and a == pytest.approx(6e-4) and table[-1][1] == 2e-3
    assert (ri.kind, ro.kind) == ("layout", "layout") and b + c == pytest.approx(3e-4)
    assert b / c == pytest.approx(32 / 64)  # split by the tensors' sizes: 32 channels in, 64 out
    assert ri.mac_bytes == 2 * 32 * 28 * 28 * 4
    assert len(table) == 3 + 3 + 1 + 1 + 1  # c3, c4: no conversions; c5: its median
    per_run, per_node = lm.executor_overhead(df)
    assert per_run == pytest.approx(10e-6, abs=1e-9) and per_node == pytest.approx(4e-6, abs=1e-9)


def test_onnxruntime_shows_the_graph_it_runs_and_profiles_its_nodes():
    """The real runner: BatchNorm and ReLU folded into the conv it executes, and a node profile whose shares
    are fractions of a run (layout conversions apart where its CPU takes the blocked layout)."""
    pytest.importorskip("onnxruntime")
    from benchsuite.runners import get_runner, resolved_options

    runner = get_runner("onnxruntime")
    options = resolved_options(runner, {"node_profile": True, "node_profile_runs": 5})
    model = nn.Sequential(nn.Conv2d(16, 16, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()).eval()
    x = torch.randn(1, 16, 8, 8)
    ops = [o for o in runner.executed_ops(model, x, options, 1) if o not in runner.layout_ops]
    assert len(ops) == 1 and "Conv" in ops[0]
    times = runner._node_times(runner_bytes(model, x), options, 1, ["CPUExecutionProvider"], "input", x.numpy())
    got = {r["metric"]: r["value"] for r in times}
    assert set(got) == {"kernel_node_time", "layout_node_time", "nodes_per_run"}
    assert 0 < got["kernel_node_time"] < 0.1 and 0 <= got["layout_node_time"] < 0.1
    assert got["nodes_per_run"] in (1, 3)  # the conv alone, or with a reorder before and after


def runner_bytes(model, x):
    from benchsuite.runners.onnxruntime import export_onnx

    return export_onnx(model, x, "dynamo")


def test_a_fused_chain_costs_its_extra_node_time_per_element_and_an_unprofiled_one_is_named():
    """Chains timed beside their conv alone: the median extra per output element, at least 0; a chain never
    profiled costs the sum of its single ops, and one with an op never profiled is refused by name."""
    base = {"model": "kernel_conv", "params.cin": 64, "params.cout": 64, "params.k": 1, "params.stride": 1,
            "params.groups": 1, "batch_size": 1, "dtype": "float32", "status": "ok"}
    rows = []

    def case(cid, h, then, op):
        rec = {**base, "case_id": cid, "height": h, "width": h, "params.then": then}
        rows.extend([{**rec, "metric": "latency_forward", "value": op + 1e-5},
                     {**rec, "metric": "kernel_node_time", "value": op},
                     {**rec, "metric": "layout_node_time", "value": 0.0},
                     {**rec, "metric": "nodes_per_run", "value": 1}])

    for h in (8, 16, 32):  # 1 ns a conv output element for batchnorm+relu6, 0.2 ns for relu; BN folds free
        n = 64 * h * h
        case(f"a{h}", h, None, 1e-4 * h)
        case(f"b{h}", h, "batchnorm+relu6", 1e-4 * h + 1e-9 * n)
        case(f"c{h}", h, "relu", 1e-4 * h + 0.2e-9 * n)
        case(f"d{h}", h, "batchnorm", 1e-4 * h - 1e-7)  # noise below the conv alone: 0, not negative
    costs = lm.fused_chain_costs(pd.DataFrame(rows))
    assert costs["conv_pointwise:batchnorm+relu6"] == pytest.approx(1e-9) == costs["batchnorm+relu6"]
    assert costs["relu"] == pytest.approx(0.2e-9) and costs["batchnorm"] == 0.0
    costs["conv_depthwise:relu"] = 0.5e-9  # a depthwise conv's own cost for a chain comes first
    pred = lm.Predictor({}, {}, 1e-9, None, None, floor_s=1e-6, best_seconds_per_madd=1e-10, fused_cost=costs)
    k = lm.Kernel("fused(x)", "fused conv_full:batchnorm+relu", 0, 0, 1000)
    assert pred.kernel_seconds(k) == pytest.approx(0.2e-9 * 1000)  # never profiled: batchnorm + relu
    k = lm.Kernel("fused(x)", "fused conv_depthwise:batchnorm+relu", 0, 0, 1000)
    assert pred.kernel_seconds(k) == pytest.approx(0.5e-9 * 1000)
    from benchsuite.errors import BenchsuiteError

    with pytest.raises(BenchsuiteError, match="'fused conv_full:batchnorm\\+hswish'"):
        pred.predict([lm.Kernel("fused(y)", "fused conv_full:batchnorm+hswish", 0, 0, 1000)])
