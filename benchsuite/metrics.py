"""The metrics a record can carry: name -> unit and what produces it.

The core's metrics are listed here; a plugin declares the metrics only it records in its class's
`metrics` (a probe's, a runner's one-shot ones), and `all_metrics` finds them through the entry points."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str          # SI, or 'count' for pure numbers
    produced_by: str   # 'timing' (a runner times it), 'probe', 'counter', 'runner' (one-shot)
    description: str


_ALL = [
    Metric("latency_forward", "s", "timing", "inference forward (eval mode, no autograd)"),
    Metric("latency_forward_train", "s", "timing", "forward in train mode with autograd recording"),
    Metric("latency_backward", "s", "timing", "backward pass alone; the forward feeding it is untimed"),
    Metric("energy_forward_modeled", "J", "counter", "per-op energy (Horowitz 2014) x counted ops and memory access"),
    Metric("achieved_flops", "FLOP/s", "derived", "2 x counted multiply-adds / measured median forward latency"),
    Metric("achieved_bandwidth", "B/s", "derived", "analytic memory access / measured median forward latency"),
    Metric("arithmetic_intensity", "FLOP/B", "counter", "2 x multiply-adds / analytic memory access"),
    Metric("ceiling_flops", "FLOP/s", "derived", "peak FLOP/s through the runner: a 1024^3 GEMM (gemm_probe)"),
    Metric("ceiling_bandwidth", "B/s", "derived", "sustainable memory bandwidth: b = a + 1 over 128 MiB arrays"),
    Metric("export_time", "s", "runner", "exporting the model from torch (ONNX, torch.export)"),
    Metric("session_time", "s", "runner", "creating the runtime's session (graph optimisation included)"),
    Metric("quantization_time", "s", "runner", "post-training int8 quantization (calibration included)"),
    Metric("model_size", "B", "runner", "the serialized model on disk as the runtime loads it (weights included)"),
    Metric("compile_time", "s", "runner", "compiling the inference graph"),
    Metric("compile_time_train", "s", "runner", "compiling the training graphs (forward and backward)"),
    Metric("madds", "count", "counter", "multiply-accumulates of convolutions and linear layers"),
    Metric("params", "count", "counter", "learnable parameters"),
    Metric("memory_access", "B", "counter", "ShuffleNet V2 memory access cost: inputs + weights read, outputs written"),
    Metric("activation_memory_peak", "B", "counter", "most activation memory live at once, sequential execution"),
    Metric("output_error", "1", "check", "max |runner - torch eager| / max |torch eager| on the same input"),
]

METRICS: dict[str, Metric] = {m.name: m for m in _ALL}
TIMING_METRICS = tuple(m.name for m in _ALL if m.produced_by == "timing")
# Metrics a workload may ask for; one-shot runner metrics come along automatically.
COUNTER_METRICS = tuple(m.name for m in _ALL if m.produced_by == "counter")


@cache
def all_metrics() -> dict[str, Metric]:
    """The core's metrics and those the installed probes and runners declare (their class's `metrics`)."""
    from .plugins import Registry

    out = dict(METRICS)
    for group, kind in (("benchsuite.probes", "probe"), ("benchsuite.runners", "runner")):
        registry = Registry(group, kind)
        for name in registry.names():
            try:
                cls = registry.load(name)
            except Exception:  # noqa: BLE001 - a plugin that cannot import declares nothing here
                continue
            for m in getattr(cls, "metrics", ()):
                out.setdefault(m.name, m)
    return out


def unit_of(metric: str) -> str:
    """The unit of a core or plugin-declared metric ("" for one nobody declares)."""
    m = METRICS.get(metric) or all_metrics().get(metric)
    return m.unit if m else ""


def selectable_metrics() -> tuple[str, ...]:
    """The metrics a workload may ask for: timings and what probes measure (one-shot runner metrics come
    along by themselves; energy_*_above_idle with the energy metric they belong to)."""
    return tuple(m.name for m in all_metrics().values()
                 if m.produced_by in ("timing", "probe") and not m.name.endswith("_above_idle"))
