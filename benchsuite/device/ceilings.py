"""Device ceilings for the roofline: peak FLOP/s through each runner (a large GEMM, measured as a
normal case of the `gemm_probe` model) and sustainable memory bandwidth (STREAM-like add on
arrays far larger than the last-level cache, through torch with preallocated buffers)."""
from __future__ import annotations

import torch

from ..measure import Series, Timed, measure_interleaved, summarize
from ..models.calibration import gemm_probe
from ..records import make_record
from ..sweep import Case

GEMM = gemm_probe.__name__

BANDWIDTH_ELEMENTS = 1 << 25   # 32 Mi float32 = 128 MiB per array, two arrays: far beyond any LLC here


def gemm_cases(cases: list[Case]) -> list[Case]:
    """One GEMM case per (runner, threads, dtype) of a run."""
    seen = {(c.runner, c.threads, c.dtype, c.device, c.workload) for c in cases if c.model != GEMM}
    return [Case(wl, dev, runner, GEMM, (("n", 1024),), (("calibration", "ceiling"),), 1, 1024, dtype,
                 threads, ("latency_forward",)) for runner, threads, dtype, dev, wl in sorted(seen)]


def bandwidth_records(device: str, workload: str, threads: int, timing) -> list[dict]:
    """Memory bandwidth from b = a + 1 (read 4 B, write 4 B per element), median over samples."""
    # measured with torch ops on preallocated buffers, through no runner: the runner column stays empty; it
    # takes no input, and its resolution is 1 (an input size must be at least 1: 0 raised in the worker, and
    # runs went without this ceiling, said only in a progress line)
    case = Case(workload, device, "", "device_ceilings", (), (("calibration", "ceiling"),), 1, 1,
                "float32", threads, ("ceiling_bandwidth",))
    torch.set_num_threads(threads)
    try:
        a = torch.ones(BANDWIDTH_ELEMENTS)
        b = torch.empty_like(a)
    except RuntimeError as e:  # e.g. out of memory: the run goes on without this ceiling
        return [make_record(case, "ceiling_bandwidth", status="error", unit="B/s", message=f"{e}")]
    s = Series(("bandwidth", "copy"), Timed(run=lambda: torch.add(a, 1.0, out=b)))
    measure_interleaved([s], timing)
    if s.error:
        return [make_record(case, "ceiling_bandwidth", status="error", unit="B/s", message=s.error)]
    st = summarize(s.samples)
    moved = 2 * 4 * BANDWIDTH_ELEMENTS
    return [make_record(case, "ceiling_bandwidth", value=moved / st["value"], n=st["n"],
                        ci_low=moved / st["ci_high"], ci_high=moved / st["ci_low"], unit="B/s",
                        message=f"torch add-scalar over {moved // 2 // 2**20} MiB arrays, {threads} thread(s)")]
