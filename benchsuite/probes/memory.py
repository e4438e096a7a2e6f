"""Peak memory of one inference forward and of one training step (forward + backward).

On CPU the figure is the peak of the torch allocator's live bytes during the call, read from
the profiler's allocation events, above the level before the call: memory the backend
allocates outside torch (oneDNN scratch, other runtimes) is not in it, and the record says so.
On CUDA it is torch.cuda.max_memory_allocated above the level before the call.
"""
from __future__ import annotations

import torch

from ..metrics import Metric
from . import Probe

CPU_NOTE = "torch CPU allocator peak above the pre-call level; allocations outside torch are not counted"


def _cpu_peak(fn) -> int:
    from torch._C._profiler import _EventType
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = []
    stack = list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        node = stack.pop()
        if node.tag == _EventType.Allocation:
            f = node.extra_fields
            events.append((node.start_time_ns, f.total_allocated, f.alloc_size))
        stack.extend(node.children)
    if not events:
        return 0  # measured: the call allocated nothing through torch
    events.sort()
    before = events[0][1] - events[0][2]
    return max(e[1] for e in events) - before


def _cuda_peak(fn) -> int:
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - before


class PeakMemoryProbe(Probe):
    name = "peak_memory"
    metrics = (
        Metric("peak_memory_forward", "B", "probe",
               "peak memory above the pre-call level during one inference forward"),
        Metric("peak_memory_train", "B", "probe", "peak memory above the pre-call level during forward + backward"),
    )
    # which timed metric each memory metric watches
    _watches = {"peak_memory_forward": "latency_forward", "peak_memory_train": "latency_backward"}

    def measure(self, prepared, case, device) -> list[dict]:
        out = []
        for metric in (m.name for m in self.metrics):
            if metric not in case.metrics:
                continue
            timed = prepared.timed.get(self._watches[metric])
            if not prepared.torch_allocator:
                out.append({"metric": metric, "status": "unsupported",
                            "message": f"runner {case.runner} allocates outside torch; no allocator to read"})
                continue
            if timed is None:
                out.append({"metric": metric, "status": "unsupported",
                            "message": prepared.unsupported.get(self._watches[metric], "no such pass")})
                continue

            def call(t=timed):
                if t.setup:
                    t.setup()
                t.run()

            if device.kind == "gpu":
                out.append({"metric": metric, "value": _cuda_peak(call), "message": "torch CUDA allocator peak"})
            else:
                out.append({"metric": metric, "value": _cpu_peak(call), "message": CPU_NOTE})
        return out
