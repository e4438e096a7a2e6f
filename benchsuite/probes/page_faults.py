"""Page faults per inference forward: how often the process touches memory the kernel must map first.

Counted by the operating system (getrusage of the worker process: minor plus major faults) over forwards
after two warm ones, so it is measured, not modeled. On CPU a forward that faults pays the kernel's page
zeroing inside its latency: glibc's malloc returns large blocks to the system and maps them afresh, so a
network that allocates many mid-sized activations (torch eager, batch 1) can fault thousands of times per
forward, where a single kernel timed alone reuses its one block and faults never. That difference is time
a kernel profile cannot see (found by latency_model's evaluation: MobileNetV2 at 224, torch eager, 1
thread, on a 2-core AMD EPYC VM: 2600-3500 faults per forward, and 4-16% slower than with
MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ and MALLOC_TOP_PAD_ raised and no faults, in three
interleaved pairs). The record's message names the malloc settings the worker ran with (a device
profile's [transport] env sets them).
"""
from __future__ import annotations

from ..env import malloc_settings
from ..metrics import Metric
from . import Probe

FORWARDS = 10


def _faults() -> int | None:
    try:
        import resource
    except ImportError:  # not a POSIX system
        return None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_minflt + usage.ru_majflt


class PageFaultsProbe(Probe):
    name = "page_faults"
    metrics = (Metric("page_faults_forward", "count", "probe",
                      "page faults of the worker process per inference forward (minor + major, getrusage)"),)

    def measure(self, prepared, case, device) -> list[dict]:
        if "page_faults_forward" not in case.metrics:
            return []
        timed = prepared.timed.get("latency_forward")
        if timed is None:
            return [{"metric": "page_faults_forward", "status": "unsupported",
                     "message": prepared.unsupported.get("latency_forward", "no forward pass")}]
        if prepared.runs_on:
            return [{"metric": "page_faults_forward", "status": "unsupported",
                     "message": f"the model runs on {prepared.runs_on}, not in this worker's process"}]
        if _faults() is None:
            return [{"metric": "page_faults_forward", "status": "unsupported",
                     "message": "getrusage is not available on this system: page faults cannot be counted"}]

        def call():
            if timed.setup:
                timed.setup()
            timed.run()

        call()
        call()
        before = _faults()
        for _ in range(FORWARDS):
            call()
        per = (_faults() - before) / FORWARDS
        return [{"metric": "page_faults_forward", "value": per, "n": FORWARDS,
                 "message": f"whole worker process over {FORWARDS} forwards after 2 warm ones; {malloc_settings()}"}]
