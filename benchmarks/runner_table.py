"""MobileNetV2 forward latency at 224 through the four runners at 1 and 2 threads, as a Markdown table.

    python benchmarks/runner_table.py [--trials N] [--out docs/runners.md]

Runs the built-in workload mobilenet_v2_runners on the device cpu-all with threads 1 and 2 through the
suite itself (worker processes, output checks, adaptive timing) and writes the table with the
environment it was measured on. TVM is tuned with MetaSchedule (--trials, global for the model).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from benchsuite.execute import execute
from benchsuite.progress import Progress
from benchsuite.records import load_runs
from benchsuite.spec import load_device, load_workload
from benchsuite.store import RunFolder


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=64)
    ap.add_argument("--out", default="docs/runners.md")
    ap.add_argument("--results", default="results")
    ap.add_argument("--from-run", help="render the table from this finished run instead of measuring")
    a = ap.parse_args()
    device = load_device("cpu-all")
    if a.from_run:
        folder = RunFolder(Path(a.from_run))
    else:
        opts = {**device.runner_options, "tvm": {**device.runner_options.get("tvm", {}), "trials": a.trials}}
        device = replace(device, threads=(1, 2), runner_options=opts)
        folder = execute(device, load_workload("mobilenet_v2_runners"), results=Path(a.results), argv=sys.argv,
                         progress=Progress()).folder
    df = load_runs(folder.path)
    df = df[df.model == "mobilenet_v2"]
    env = folder.meta()["environment"]
    tvm_trials = df[(df.runner == "tvm") & (df.metric == "latency_forward")].get("config.trials")
    trials = int(tvm_trials.iloc[0]) if tvm_trials is not None and len(tvm_trials) else a.trials
    lat = df[df.metric == "latency_forward"].set_index(["runner", "threads"])
    extra = df[df.metric.isin(["export_time", "compile_time", "tuning_time", "session_time", "output_error"])]
    lines = [f"MobileNetV2 1.0, 224x224, batch 1, float32, forward latency (median, 95% CI) on {env['cpu_model']} "
             f"({env['logical_cores']} logical cores), run `{folder.path.name}`.", "",
             f"Made by: `python benchmarks/runner_table.py --trials {trials}`", "",
             "| runner | 1 thread (ms) | 2 threads (ms) | one-off costs (1 thread) | output error |",
             "|---|---|---|---|---|"]
    for runner in device.runners:
        cells = []
        for t in (1, 2):
            if (runner, t) not in lat.index:
                cells.append("-")
                continue
            r = lat.loc[(runner, t)]
            cells.append(f"{r.value * 1e3:.2f} [{r.ci_low * 1e3:.2f}, {r.ci_high * 1e3:.2f}]" if r.status == "ok"
                         else f"{r.status}: {r.message[:60]}")
        costs = extra[(extra.runner == runner) & (extra.threads == 1) & (extra.metric != "output_error")]
        cost = ", ".join(f"{m.replace('_time', '')} {v:.1f} s" for m, v in zip(costs.metric, costs.value)) or "-"
        err = extra[(extra.runner == runner) & (extra.threads == 1) & (extra.metric == "output_error")].value
        lines.append(f"| {runner} | {cells[0]} | {cells[1]} | {cost} | {err.iloc[0]:.1e} |" if len(err) else
                     f"| {runner} | {cells[0]} | {cells[1]} | {cost} | reference |")
    tvm_cfg = df[(df.runner == "tvm") & (df.metric == "latency_forward")]
    if len(tvm_cfg) and "config.trials" in tvm_cfg:
        lines += ["", f"TVM: MetaSchedule with {int(tvm_cfg['config.trials'].iloc[0])} trials for the whole model "
                  "(about 50 tasks share them, so many kernels keep default schedules). Measured on a 2-core "
                  "machine that was also running other work: compare within a column with care."]
    text = "\n".join(lines) + "\n"
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
