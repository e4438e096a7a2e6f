"""Share of inference runtime by layer type (MobileNetV1 Table 2's rows: 1x1 conv, 3x3 depthwise conv,
full 3x3 conv, fully connected, everything else), from the torch profiler.

Every Conv2d and Linear module is wrapped in a profiler range named after its layer type (the counter's
types, so time and multiply-adds are shared out alike); the rest of each forward's top-level op time is
`other` (BatchNorm, activations, pooling, ...). Each of several forwards is profiled on its own, so each
gives one set of shares: the record's value is their median and its interval their range (one process:
within-process variation only, which the message says). Runners without torch modules (onnxruntime, TVM)
record `unsupported`: their kernels are fused graph nodes, not these modules.
"""
from __future__ import annotations

import statistics

import torch

from ..counting import conv_type
from ..metrics import Metric
from . import Probe
from .breakdown import module_ranges

TYPES = ("conv1x1", "conv_dw3x3", "conv3x3", "fully_connected", "other")
PROFILED_CALLS = 7


def layer_type(m: torch.nn.Module) -> str | None:
    if isinstance(m, torch.nn.Conv2d):
        t = conv_type(m)
        return t if t in TYPES else "other"
    return "fully_connected" if isinstance(m, torch.nn.Linear) else None


def _mark_layers(model: torch.nn.Module) -> list:
    """Every Conv2d and Linear in a profiler range named layer::<its type>."""
    return module_ranges(model, lambda m: f"layer::{layer_type(m)}" if layer_type(m) else None)


def shares_of(roots) -> dict[str, float]:
    """Seconds per layer type from one forward's top-level profiler events."""
    out = dict.fromkeys(TYPES, 0.0)
    for ev in roots:
        kind = ev.name.split("::", 1)[1] if ev.name.startswith("layer::") else "other"
        out[kind] += ev.duration_time_ns / 1e9
    return out


class LayerTimeProbe(Probe):
    name = "layer_type_time"
    metrics = tuple(Metric(f"time_share_{t}", "1", "probe", f"share of inference runtime in {t} layers (torch "
                           "profiler, module ranges)") for t in TYPES)

    def measure(self, prepared, case, device) -> list[dict]:
        wanted = [d.name for d in self.metrics if d.name in case.metrics]
        model = prepared.modules.get("eval") if prepared.modules else None
        if model is None:
            return [{"metric": m, "status": "unsupported",
                     "message": f"runner {case.runner} runs fused graph nodes, not torch modules; per-layer-type "
                                "time is read from torch modules only"} for m in wanted]
        from torch.profiler import ProfilerActivity, profile

        timed = prepared.timed["latency_forward"]
        handles = _mark_layers(model)
        calls = []
        try:
            timed.run()
            for _ in range(PROFILED_CALLS):
                with profile(activities=[ProfilerActivity.CPU]) as prof:
                    timed.run()
                    timed.sync()
                secs = shares_of(prof.profiler.kineto_results.experimental_event_tree())
                total = sum(secs.values())
                calls.append({t: secs[t] / total for t in TYPES} | {"total": total})
        finally:
            for h in handles:
                h.remove()
        note = (f"median share over {PROFILED_CALLS} separately profiled forwards (median total "
                f"{statistics.median(c['total'] for c in calls) * 1e3:.3g} ms, profiler overhead included); "
                "interval: their range, within one process")
        return [{"metric": f"time_share_{t}", "value": statistics.median(c[t] for c in calls), "n": len(calls),
                 "ci_low": min(c[t] for c in calls), "ci_high": max(c[t] for c in calls), "message": note}
                for t in TYPES if f"time_share_{t}" in wanted]
