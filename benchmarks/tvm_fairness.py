"""TVM against onnxruntime, case by case, with what TVM's numbers stand on.

    benchsuite tune --device cpu-all --workload guideline1 --quick --budget 30m     # alone on the machine
    benchsuite run --device cpu-all --workload guideline1 --quick --runner onnxruntime --runner tvm
    python benchmarks/tvm_fairness.py RUN_FOLDER

Prints per case: onnxruntime's and TVM's median forward latency, their ratio, TVM's tuning state and
trials per task, and the convergence of TVM's estimated forward time (sum of its kernels' best tuned
times x counts) by trials per task, with the gain of the last doubling of trials.
"""
from __future__ import annotations

import json
import sys

from benchsuite.results.run import load_runs


def main(argv) -> int:
    df = load_runs(*argv)
    lat = df[(df.metric == "latency_forward") & (df.status == "ok")]
    knob_cols = sorted(c for c in df.columns if c.startswith(("params.", "tags.")))

    def label(r):
        return ",".join(f"{c.split('.', 1)[1]}={r[c]}" for c in knob_cols if r[c] == r[c])

    ort = {(r.model, label(r), r.threads): r.value for _, r in lat[lat.runner == "onnxruntime"].iterrows()}
    conv = {r.case_id: json.loads(r["config.convergence"]) for _, r in df[df.metric == "tuned_kernel_time"].iterrows()}
    print(f"{'case':58s} {'ort ms':>8s} {'tvm ms':>8s} {'tvm/ort':>7s}  tuning        convergence (trials: ms)")
    ratios = []
    for _, r in lat[lat.runner == "tvm"].iterrows():
        key = (r.model, label(r), r.threads)
        o = ort.get(key)
        ratio = r.value / o if o else float("nan")
        if r.get("tags.calibration") != "ceiling":  # the device ceiling is no case of the workload
            ratios.append(ratio)
        curve = conv.get(r.case_id, [])
        pts = " ".join(f"{n}:{s * 1e3:.2f}" for n, s in curve)
        state = f"{r['config.tuning']} {int(r['config.trials_per_task'])}/task"
        print(f"{r.model + '(' + label(r) + ') t' + str(r.threads):58s} {o * 1e3 if o else float('nan'):8.3f} "
              f"{r.value * 1e3:8.3f} {ratio:7.2f}  {state:13s} {pts}")
    if ratios:
        import numpy as np

        print(f"geometric mean tvm/ort: {float(np.exp(np.mean(np.log(ratios)))):.2f}, max {max(ratios):.2f}, over "
              f"{len(ratios)} cases of the workload (the device ceiling left out)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
