"""TVM tuning throughput: where a round's time goes and what each set of MetaSchedule knobs buys.

For each variant of the search settings (benchsuite/runners/tvm/tuning.py SearchSettings) and seed, the
kernels of one G1 case are tuned from an empty database to TRIALS per task under MetaSchedule's profiler
(time per phase: evolutionary search, cost-model update, builder, runner), then the case's forward pass is
compiled with the schedules found (the runner's own prepare) and timed: median of 200 calls after 20 warm-up
calls, on the same thread count. A variant is worth keeping only if it gives more trials per minute and a
forward time no worse than MetaSchedule's defaults' within the seeds' spread. Run with nothing else on the machine.

    python benchmarks/tvm_trials_per_minute.py --trials 64 --seeds 2 --out /tmp/tpm.json
    python benchmarks/tvm_trials_per_minute.py --case depthwise --c 96 --only metaschedule --trials 64
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from benchsuite.device.preparation import build_case
from benchsuite.env import cpu_model
from benchsuite.runners.tvm import tuning as tt
from benchsuite.runners.tvm.runner import TVMRunner, host_target
from benchsuite.spec import load_device
from benchsuite.sweep import Case

METASCHEDULE = {"population": 512, "genetic_iters": 4, "number": 3, "repeat": 1, "min_repeat_ms": 100}
SHORT = {"number": 1, "repeat": 3, "min_repeat_ms": 20}
VARIANTS = {  # each a full set of the knobs that differ between MetaSchedule's defaults and benchsuite's
    "metaschedule (population 512, 4 generations; 3 calls x 100 ms)": METASCHEDULE,
    "lean search (population 256, 2 generations)": {**METASCHEDULE, "population": 256, "genetic_iters": 2},
    "short measurement (1 call x 3, 20 ms)": {**METASCHEDULE, **SHORT},
    "benchsuite (lean search + short measurement)": {"population": 256, "genetic_iters": 2, **SHORT},
    "leaner search (128, 1 generation) + short measurement": {"population": 128, "genetic_iters": 1, **SHORT},
    "random cost model": {**METASCHEDULE, "cost_model": "random"},
}


def forward_ms(case, root: Path) -> float:
    model, x = build_case(case)
    options = {**TVMRunner.options, "database_dir": str(root)}
    run = TVMRunner().prepare(model, x, case, options, load_device("cpu")).timed["latency_forward"].run
    for _ in range(20):
        run()
    times = []
    for _ in range(200):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def one(case, trials: int, settings: tt.SearchSettings) -> dict:
    import tvm
    from tvm.s_tir import meta_schedule as ms

    target_dict = host_target(case.threads)
    target = tvm.target.Target(target_dict)
    model, x = build_case(case)
    mod = tt.lowered(tt.relax_module(model, x)[0], target, True)
    tasks = tt.tasks_of(mod, target)
    with tempfile.TemporaryDirectory() as root:
        folder = tt.target_folder(root, target_dict)
        t0 = time.perf_counter()
        with ms.Profiler() as prof:
            given = tt.tune(tasks, target, folder, trials, threads=case.threads, settings=settings)
        wall = time.perf_counter() - t0
        phases = {k: float(v) for k, v in prof.get().items()}
        fwd = forward_ms(case, Path(root))
    n = sum(given.values())
    return {"tasks": len(tasks), "trials": n, "wall_s": wall, "trials_per_min": 60 * n / wall,
            "phases_s": phases, "forward_ms": fwd}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=64)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--c", type=int, default=128, help="channels: G1 block c1 = c2, or the depthwise conv's")
    ap.add_argument("--case", choices=("g1", "depthwise"), default="g1",
                    help="g1: G1's block stack at 56x56 (1x1 convs); depthwise: one 3x3 depthwise conv at 56x56")
    ap.add_argument("--only", help="run only the variants whose name starts with one of these (comma-separated)")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    if a.case == "g1":
        case = Case("guideline1", "cpu", "tvm", "g1_block_stack", (("c1", a.c), ("c2", a.c), ("multiplier", 1)),
                    (), 1, 56, "float32", 1, ("latency_forward",))
    else:
        case = Case("kernels", "cpu", "tvm", "kernel_conv", (("cin", a.c), ("cout", a.c), ("groups", a.c),
                                                              ("k", 3)), (), 1, 56, "float32", 1,
                    ("latency_forward",))
    print(f"CPU: {cpu_model()}; target {host_target(1)}; case {case.label}; {a.trials} trials per task")
    t0 = time.perf_counter()
    import tvm.s_tir.tensor_intrin  # noqa: F401 - what MetaSchedule's first tuning context imports
    print(f"process start-up: MetaSchedule's tensor intrinsics import in {time.perf_counter() - t0:.1f} s "
          "(once per tune call, before any trial; not in the figures below)")
    out = {}
    for name, knobs in VARIANTS.items():
        if a.only and not any(name.startswith(o) for o in a.only.split(",")):
            continue
        runs = [one(case, a.trials, tt.SearchSettings(**knobs, seed=seed)) for seed in range(1, a.seeds + 1)]
        out[name] = {"settings": knobs, "runs": runs}
        phases = {k: statistics.mean(r["phases_s"].get(k, 0) for r in runs) for k in runs[0]["phases_s"]}
        top = sorted(phases.items(), key=lambda kv: -kv[1])[:6]
        forward = " / ".join(f"{r['forward_ms']:.3f}" for r in runs)
        print(f"{name:44s} {statistics.mean(r['trials_per_min'] for r in runs):6.1f} trials/min  "
              f"forward {forward} ms  "
              f"({runs[0]['tasks']} tasks, {statistics.mean(r['wall_s'] for r in runs):.0f} s)")
        print("    " + "; ".join(f"{k} {v:.1f} s" for k, v in top))
        fwd = [r["forward_ms"] for r in runs]
        if len(fwd) > 1:
            print(f"    forward over {len(fwd)} seeds: median {statistics.median(fwd):.2f} ms, "
                  f"min {min(fwd):.2f}, max {max(fwd):.2f}")
        if a.out:
            a.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
