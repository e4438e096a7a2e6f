"""The metrics a record can carry: name -> unit and what produces it."""
from __future__ import annotations

from dataclasses import dataclass


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
    Metric("peak_memory_forward", "B", "probe", "peak memory above the pre-call level during one inference forward"),
    Metric("peak_memory_train", "B", "probe", "peak memory above the pre-call level during forward + backward"),
    Metric("energy_forward", "J", "probe", "energy per inference forward, from the device's meter"),
    Metric("energy_forward_above_idle", "J", "probe", "energy per inference forward above idle power"),
    Metric("energy_backward", "J", "probe", "energy per backward pass (training step minus its forward)"),
    Metric("energy_backward_above_idle", "J", "probe", "energy per backward pass above idle power"),
    Metric("energy_forward_modeled", "J", "counter", "per-op energy (Horowitz 2014) x counted ops and memory access"),
    Metric("achieved_flops", "FLOP/s", "derived", "2 x counted multiply-adds / measured median forward latency"),
    Metric("achieved_bandwidth", "B/s", "derived", "analytic memory access / measured median forward latency"),
    Metric("arithmetic_intensity", "FLOP/B", "counter", "2 x multiply-adds / analytic memory access"),
    Metric("ceiling_flops", "FLOP/s", "derived", "peak FLOP/s through the runner: a 1024^3 GEMM (gemm_probe)"),
    Metric("ceiling_bandwidth", "B/s", "derived", "sustainable memory bandwidth: b = a + 1 over 128 MiB arrays"),
    Metric("traffic_forward_measured", "B", "probe", "DRAM bytes per inference: perf LLC misses (CPU), ncu (GPU)"),
    Metric("traffic_forward_simulated", "B", "probe", "LLC traffic per inference simulated by cachegrind"),
    Metric("export_time", "s", "runner", "exporting the model from torch (ONNX, torch.export)"),
    Metric("session_time", "s", "runner", "creating the runtime's session (graph optimisation included)"),
    Metric("quantization_time", "s", "runner", "post-training int8 quantization (calibration included)"),
    Metric("model_size", "B", "runner", "the serialized model on disk as the runtime loads it (weights included)"),
    Metric("compile_time", "s", "runner", "compiling the inference graph"),
    Metric("compile_time_train", "s", "runner", "compiling the training graphs (forward and backward)"),
    Metric("tuning_time", "s", "runner", "auto-tuning schedules (TVM MetaSchedule)"),
    Metric("tuned_kernel_time", "s", "runner",
           "sum of a case's TVM kernels' best tuned times x their counts (from MetaSchedule's measurements)"),
    Metric("upload_time", "s", "runner", "getting the compiled model onto a remote board (RPC)"),
    Metric("madds", "count", "counter", "multiply-accumulates of convolutions and linear layers"),
    Metric("params", "count", "counter", "learnable parameters"),
    Metric("memory_access", "B", "counter", "ShuffleNet V2 memory access cost: inputs + weights read, outputs written"),
    Metric("activation_memory_peak", "B", "counter", "most activation memory live at once, sequential execution"),
    *[Metric(f"runtime_share_{c}", "1", "probe", f"share of inference runtime in {c} ops (torch profiler)")
      for c in ("conv", "data", "elemwise", "shuffle", "other")],
    *[Metric(f"time_share_{t}", "1", "probe", f"share of inference runtime in {t} layers (torch profiler, "
             "module ranges)") for t in ("conv1x1", "conv_dw3x3", "conv3x3", "fully_connected", "other")],
    Metric("output_error", "1", "check", "max |runner - torch eager| / max |torch eager| on the same input"),
]

METRICS: dict[str, Metric] = {m.name: m for m in _ALL}
TIMING_METRICS = tuple(m.name for m in _ALL if m.produced_by == "timing")
# Metrics a workload may ask for; one-shot runner metrics come along automatically.
COUNTER_METRICS = tuple(m.name for m in _ALL if m.produced_by == "counter")
SELECTABLE_METRICS = tuple(m.name for m in _ALL if m.produced_by in ("timing", "probe"))
# energy_*_above_idle come with the energy metric they belong to
SELECTABLE_METRICS = tuple(m for m in SELECTABLE_METRICS if not m.endswith("_above_idle"))
