"""Share of inference runtime by operator category, from the torch profiler (ShuffleNet V2 Fig. 2).

Categories: conv (convolutions and linear layers), data (concat, split, copies), elemwise
(BatchNorm, activations, adds, multiplies), shuffle (channel shuffle), other (pooling, views).
Times are self-contained top-level ATen ops over several profiled forwards; the profiler's own
overhead weighs more on small ops, which the record's message says.
"""
from __future__ import annotations

import torch

from ..models.layers import ChannelShuffle
from ..metrics import Metric
from . import Probe

CATEGORIES = ("conv", "data", "elemwise", "shuffle", "other")
_OPS = {
    "conv": {"conv2d", "convolution", "_convolution", "linear", "addmm", "matmul", "mm", "mkldnn_convolution"},
    "elemwise": {"batch_norm", "relu", "relu_", "hardtanh", "hardtanh_", "hardswish", "hardswish_", "hardsigmoid",
                 "hardsigmoid_", "silu", "silu_", "sigmoid", "sigmoid_", "add", "add_", "mul", "mul_", "clamp",
                 "clamp_", "div", "sub", "relu6"},
    "data": {"cat", "chunk", "split", "slice", "narrow", "contiguous", "clone", "copy_", "repeat", "index_select"},
}
PROFILED_CALLS = 5


def category_of(op_name: str) -> str:
    op = op_name.split("::")[-1]
    for cat, ops in _OPS.items():
        if op in ops:
            return cat
    return "other"


def module_ranges(model: torch.nn.Module, label_of) -> list:
    """Wrap every module that label_of(module) names in a profiler range of that name (so the profiler's
    top-level events attribute its ops to it); returns the hook handles to remove."""
    handles = []
    for m in model.modules():
        label = label_of(m)
        if label is None:
            continue

        def pre(mod, args, label=label):
            mod._benchsuite_range = torch.autograd.profiler.record_function(label)
            mod._benchsuite_range.__enter__()

        def post(mod, args, out):
            mod._benchsuite_range.__exit__(None, None, None)

        handles += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
    return handles


def _mark_shuffles(model: torch.nn.Module):
    """Every ChannelShuffle in a profiler range named channel_shuffle."""
    return module_ranges(model, lambda m: "channel_shuffle" if isinstance(m, ChannelShuffle) else None)


def shares(roots) -> dict[str, float]:
    """Seconds per category from the profiler's top-level events."""
    out = dict.fromkeys(CATEGORIES, 0.0)
    for ev in roots:
        cat = "shuffle" if ev.name == "channel_shuffle" else category_of(ev.name)
        out[cat] += ev.duration_time_ns / 1e9
    return out


class OpBreakdownProbe(Probe):
    name = "op_breakdown"
    metrics = tuple(Metric(f"runtime_share_{c}", "1", "probe",
                           f"share of inference runtime in {c} ops (torch profiler)") for c in CATEGORIES)

    def measure(self, prepared, case, device) -> list[dict]:
        model = prepared.modules.get("eval") if prepared.modules else None
        if model is None:
            return [{"metric": m, "status": "unsupported",
                     "message": f"runner {case.runner} exposes no torch module to profile"}
                    for m in (d.name for d in self.metrics) if m in case.metrics]
        from torch.profiler import ProfilerActivity, profile

        timed = prepared.timed["latency_forward"]
        handles = _mark_shuffles(model)
        try:
            timed.run()
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(PROFILED_CALLS):
                    timed.run()
                timed.sync()
        finally:
            for h in handles:
                h.remove()
        secs = shares(prof.profiler.kineto_results.experimental_event_tree())
        total = sum(secs.values())
        note = (f"share of profiled top-level op time over {PROFILED_CALLS} forwards (total "
                f"{total / PROFILED_CALLS * 1e3:.3g} ms each, profiler overhead included)")
        return [{"metric": f"runtime_share_{c}", "value": secs[c] / total, "message": note}
                for c in CATEGORIES if f"runtime_share_{c}" in case.metrics]
