"""MobileNetV2 forward latency at 224 through the four runners at 1 and 2 threads, as a Markdown table.

    benchsuite tune --device cpu-all --workload mobilenet_v2_runners --budget 40m   # alone on the machine
    python benchmarks/runner_table.py [--threads 1 2] [--out docs/runners.md]

Runs the built-in workload mobilenet_v2_runners on the device cpu-all through the suite itself (worker
processes, output checks, adaptive timing) and writes the table with the environment it was measured
on. TVM applies what `benchsuite tune` left in its database for each thread count and the table says
what that was (tuned or not, trials per task, the estimated forward time per trials-per-task).
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from benchsuite.host.execute import execute
from benchsuite.host.progress import Progress
from benchsuite.results.run import RunFolder, load_runs, read_meta
from benchsuite.spec import load_device, load_workload


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--processes", type=int, help="worker processes per group (default: the profile's)")
    ap.add_argument("--out", default="docs/runners.md")
    ap.add_argument("--results", default="results")
    ap.add_argument("--from-run", help="render the table from this finished run instead of measuring")
    a = ap.parse_args()
    device = load_device("cpu-all")
    if a.from_run:
        folder = RunFolder(Path(a.from_run))
    else:
        device = replace(device, threads=tuple(a.threads))
        folder = execute(device, load_workload("mobilenet_v2_runners"), results=Path(a.results), argv=sys.argv,
                         progress=Progress(), processes=a.processes).folder
    df = load_runs(folder.path)
    df = df[df.model == "mobilenet_v2"]
    env = read_meta(folder.path).environment
    lat = df[df.metric == "latency_forward"].set_index(["runner", "threads"])
    extra = df[df.metric.isin(["export_time", "compile_time", "tuning_time", "session_time", "output_error"])]
    lines = [f"MobileNetV2 1.0, 224x224, batch 1, float32, forward latency (median, 95% CI) on {env['cpu_model']} "
             f"({env['logical_cores']} logical cores), run `{folder.path.name}`.", "",
             "Made by: `benchsuite tune --device cpu-all --workload mobilenet_v2_runners` (see below), then "
             "`python benchmarks/runner_table.py`", "",
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
    tvm = df[(df.runner == "tvm") & (df.metric == "latency_forward")]
    if len(tvm) and "config.tuning" in tvm:
        lines += ["", "TVM tuning provenance (from the records):", ""]
        for _, r in tvm.iterrows():
            lines.append(f"- {int(r.threads)} thread(s): {r['config.tuning']}, {int(r['config.tasks_tuned'])} of "
                         f"{int(r['config.tasks'])} kernels in the database at {int(r['config.trials_per_task'])} "
                         f"trials per task (database `{Path(r['config.database']).name}`, id "
                         f"{r['config.database_id']})")
        conv = df[(df.runner == "tvm") & (df.metric == "tuned_kernel_time")]
        for _, r in conv.iterrows():
            curve = json.loads(r["config.convergence"])
            pts = ", ".join(f"{n}: {s * 1e3:.2f} ms" for n, s in curve)
            lines.append(f"- convergence at {int(r.threads)} thread(s), estimated forward (sum of the best kernel "
                         f"times x counts) by trials per task: {pts}")
    lines += ["", "Measured on a 2-core shared machine: compare within a column with care."]
    text = "\n".join(lines) + "\n"
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
