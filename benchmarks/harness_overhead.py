"""Does the harness measure what an independent timer measures, and what does it cost?

For the same model, threads and mode (torch eager inference, 1 thread) this prints:
  - the suite's median (measure.py: calibrated inner loop, adaptive stop),
  - torch.utils.benchmark's blocked_autorange median (independent),
  - a bare loop timing one call at a time with perf_counter (no harness at all),
and the suite's deviation from each. Goals: within 3% of torch.utils.benchmark; overhead
vs the bare loop at most 1% on workloads of 1 ms or more. The suite is timed twice: as the engine alone
and as a worker runs it, with its heartbeat (a thread writing a line every 2 s, and a count per sample)
going; the difference is the heartbeat's cost. The three are taken in alternation,
three rounds, so drift of the machine hits all three alike; the median of rounds is printed.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time

import torch
import torch.utils.benchmark as tbench

from benchsuite.measure import Series, measure_interleaved
from benchsuite.runners.base import resolved_options
from benchsuite.runners.torch_eager import TorchEagerRunner
from benchsuite.measure import Timing
from benchsuite.spec import load_device
from benchsuite.sweep import Case
from benchsuite.device.heartbeat import EVERY_S, Heartbeat
from benchsuite.device.preparation import build_case

CASES = [("g1 1:1 c=128 (gpu set)", {"c1": 128, "c2": 128, "multiplier": 1}),
         ("g1 1:1 c=32 (arm set)", {"c1": 32, "c2": 32, "multiplier": 1})]
TIMING = Timing(warmup_s=0.5, min_sample_s=0.05, target_precision=0.005, min_samples=20, max_time_s=6.0)


def suite_median(timed, heartbeat: bool = False) -> float:
    s = Series(("bench", "latency_forward"), timed)
    if not heartbeat:
        measure_interleaved([s], TIMING)
        return statistics.median(s.samples)
    with open(os.devnull, "w") as sink:  # the worker writes its beats to the host's pipe: a write per beat
        beat = Heartbeat(lambda m: sink.write(json.dumps(m) + "\n")).start()
        beat.step("measuring 1 series interleaved", TIMING.case_timeout_s)
        try:
            measure_interleaved([s], TIMING, tick=beat.tick)
        finally:
            beat.stop()
    return statistics.median(s.samples)


def heartbeat_cost() -> tuple[float, float]:
    """(seconds per tick, seconds per beat) measured directly: what the heartbeat adds to a sample (one tick,
    outside the timed region) and to every 2 s of a worker's time (one line written by its thread)."""
    with open(os.devnull, "w") as sink:
        beat = Heartbeat(lambda m: sink.write(json.dumps(m) + "\n"))
        n = 1_000_000
        t0 = time.perf_counter()
        for _ in range(n):
            beat.tick()
        per_tick = (time.perf_counter() - t0) / n
        msg = {"type": "heartbeat", "doing": "measuring 16 series interleaved, round 12", "for_s": 12.5, "work": 431}
        t0 = time.perf_counter()
        for _ in range(10_000):
            sink.write(json.dumps(msg) + "\n")
        per_beat = (time.perf_counter() - t0) / 10_000
    return per_tick, per_beat


def torch_benchmark_median(fn) -> float:
    return tbench.Timer(stmt="fn()", globals={"fn": fn}, num_threads=1).blocked_autorange(min_run_time=4).median


def bare_median(fn, seconds: float = 4.0) -> float:
    times, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    torch.set_num_threads(1)
    device = load_device("cpu")
    ok = True
    print(f"torch {torch.__version__}, 1 thread, inference forward, batch 1, 56x56")
    for name, knobs in CASES:
        case = Case("bench", "cpu", "torch_eager", "g1_block_stack", tuple(sorted(knobs.items())), (), 1, 56,
                    "float32", 1, ("latency_forward",))
        model, x = build_case(case)
        runner = TorchEagerRunner()
        prepared = runner.prepare(model, x, case, resolved_options(runner, {"channels_last": False}), device)
        timed = prepared.timed["latency_forward"]
        rounds = {"suite": [], "suite + heartbeat": [], "torch.utils.benchmark": [], "bare loop": []}
        for _ in range(3):
            rounds["suite"].append(suite_median(timed))
            rounds["suite + heartbeat"].append(suite_median(timed, heartbeat=True))
            rounds["torch.utils.benchmark"].append(torch_benchmark_median(timed.run))
            rounds["bare loop"].append(bare_median(timed.run))
        med = {k: statistics.median(v) for k, v in rounds.items()}
        vs_torch = med["suite + heartbeat"] / med["torch.utils.benchmark"] - 1
        overhead = med["suite + heartbeat"] / med["bare loop"] - 1
        beat_cost = med["suite + heartbeat"] / med["suite"] - 1
        print(f"\n{name}")
        for k, v in med.items():
            print(f"  {k:24s} median {v * 1e3:9.4f} ms   rounds: " + ", ".join(f"{t * 1e3:.4f}" for t in rounds[k]))
        print(f"  suite (with heartbeat) vs torch.utils.benchmark: {vs_torch:+.2%} (goal within +-3%)")
        print(f"  harness overhead vs bare loop:  {overhead:+.2%} (goal at most +1% for >= 1 ms)")
        print(f"  heartbeat's cost (suite + heartbeat vs suite): {beat_cost:+.2%}")
        ok &= abs(vs_torch) <= 0.03 and overhead <= 0.01
    per_tick, per_beat = heartbeat_cost()
    share = per_tick / TIMING.min_sample_s + per_beat / EVERY_S
    print(f"\nheartbeat, measured directly: {per_tick * 1e9:.0f} ns per tick (one per sample of >= "
          f"{TIMING.min_sample_s * 1e3:g} ms, outside the timed region), {per_beat * 1e6:.1f} us per beat (one per "
          f"{EVERY_S:g} s, on its own thread): at most {share:.5%} of a worker's time")
    print("\nall goals met" if ok else "\nGOAL MISSED (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
