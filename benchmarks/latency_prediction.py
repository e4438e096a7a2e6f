"""How well a kernel-sum prediction (latency_model.py) and its two baselines predict whole networks.

    benchsuite run --device cpu --workload kernels --runner torch_eager --processes 1     # the profile
    python benchmarks/latency_prediction.py --profile results/<profiling run> [--measured results/<run>]

Fits on the profiling run's kernel records only, then measures (or reads, with --measured) the 40 zoo
configurations of benchmarks/latency_zoo.toml through the suite and prints, per runner, the share of
configurations predicted within +-5% and +-10% of the measured median by the predictor, by FLOPs only and
by the roofline, with every configuration's numbers, per family. The kernel grid is generic (no family's
layers shaped it), so every family is held out.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchsuite import latency_model as lm
from benchsuite.errors import BenchsuiteError
from benchsuite.guideline_costs import SHORT, explain
from benchsuite.host.execute import execute
from benchsuite.host.progress import Progress
from benchsuite.models import get_model_entry
from benchsuite.results.run import load_runs, read_meta
from benchsuite.spec import load_device, load_workload

HERE = Path(__file__).parent


def _knobs(row, columns) -> dict:
    out = {}
    for c in columns:
        v = row[c]
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        out[c[len("params."):]] = int(v) if isinstance(v, float) and v.is_integer() and c != "params.width" else v
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", required=True, help="the kernel profiling run folder")
    ap.add_argument("--measured", help="a finished run of benchmarks/latency_zoo.toml (default: measure it now)")
    ap.add_argument("--runner", default="torch_eager")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--results", default="results")
    ap.add_argument("--fractions", default="0.25,0.5",
                    help="also fit on these shares of the profiled kernels (seeded draws of whole kernels): what a "
                    "shorter profile would have given, as minutes of this one")
    ap.add_argument("--bandwidth", type=float, help="B/s for the roofline when the profile run has no bandwidth "
                    "ceiling (measured apart: say so)")
    a = ap.parse_args()
    t0 = time.monotonic()
    pred = lm.for_run(Path(a.profile), a.runner, 1, refit=True)
    fit_s = time.monotonic() - t0
    if a.bandwidth and pred.bandwidth is None:
        pred.bandwidth = a.bandwidth
        print(f"roofline bandwidth {a.bandwidth:.3g} B/s given on the command line (the profile run has none)")
    if a.measured:
        measured = Path(a.measured)
    else:
        device = replace(load_device(a.device), threads=(1,))
        measured = execute(device, load_workload(str(HERE / "latency_zoo.toml")), runners=[a.runner],
                           results=Path(a.results), argv=sys.argv, progress=Progress(),
                           processes=a.processes, ceilings=False).folder.path
    every = load_runs(measured)
    faults = every[(every.metric == "page_faults_forward") & (every.status == "ok")].set_index("case_id").value
    df = every[(every.metric == "latency_forward") & (every.status == "ok") & (every.runner == a.runner)
               & (every.threads == 1)]
    df = df[[get_model_entry(m).family != "calibration" for m in df.model]]  # the run's drift canary: no network
    rows = _rows(pred, df, faults, a.runner)
    env, penv = read_meta(measured).environment, read_meta(Path(a.profile)).environment
    print(f"profile run {Path(a.profile).name} ({pred.meta['n_kernels']} kernels, fit {fit_s:.1f} s), measured run "
          f"{measured.name}; CPU {env.get('cpu_model')} (profile: {penv.get('cpu_model')}); runner {a.runner}, "
          f"1 thread; {len(rows)} configurations")
    if pred.rules is not None:
        print(f"fusion rules read from the runner's executed graphs: {pred.rules.describe()}; executor overhead "
              f"{1e6 * pred.run_overhead_s:.1f} us a run and {1e6 * pred.node_overhead_s:.1f} us a kernel")
    print("\nper kind, cross-validated on the profiled kernels: share within +-10%, 5th-95th percentile error")
    for kind, f in sorted(pred.fits.items()):
        print(f"  {kind:16s} n={f.n:4d}  within 10%: {f.within_10:6.1%}  [{f.low:+.1%}, {f.high:+.1%}]")
    print("\n| configuration | measured ms | predicted ms [interval] | FLOPs only ms | roofline ms | page faults |")
    print("|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: r["config"]):
        roof = "-" if r["roofline"] is None else f"{1e3 * r['roofline']:.2f}"
        fl = "-" if r["faults"] is None else f"{r['faults']:.0f}"
        print(f"| {r['config']} | {1e3 * r['measured']:.2f} | {1e3 * r['predicted']:.2f} "
              f"[{1e3 * r['low']:.2f}, {1e3 * r['high']:.2f}] | {1e3 * r['flops_only']:.2f} | {roof} | {fl} |")
    print("\n| predictor | within 5% | within 10% | median abs error | interval covers |")
    print("|---|---|---|---|---|")
    for name in ("predicted", "flops_only", "roofline"):
        err = np.array([r[name] / r["measured"] - 1 for r in rows if r[name] is not None])
        if not len(err):
            print(f"| {name} | unsupported (no ceilings in the profile run) | | | |")
            continue
        cover = (f"{np.mean([r['low'] <= r['measured'] <= r['high'] for r in rows]):.0%}"
                 if name == "predicted" else "-")
        print(f"| {name} | {np.mean(np.abs(err) <= 0.05):.0%} | {np.mean(np.abs(err) <= 0.10):.0%} | "
              f"{np.median(np.abs(err)):.1%} | {cover} |")
    print("\nper family (predictor): share within 10%, median signed error")
    for fam in sorted({r["family"] for r in rows}):
        err = np.array([r["predicted"] / r["measured"] - 1 for r in rows if r["family"] == fam])
        print(f"  {fam:14s} n={len(err):2d}  within 10%: {np.mean(np.abs(err) <= 0.10):4.0%}  "
              f"median {np.median(err):+.1%}")
    cols = list(SHORT)
    print("\nwhere the measured time goes (guideline_costs.py; % of measured; `unexplained` = measured - predicted)")
    print("| configuration | " + " | ".join(SHORT[c] for c in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for r in sorted(rows, key=lambda r: r["config"]):
        print(f"| {r['config']} | " + " | ".join(f"{100 * r['parts'][c] / r['measured']:.1f}" for c in cols) + " |")
    _smaller_profiles(a, pred, df, faults, len(df) - len(rows))
    return 0


def _rows(pred, df, faults, runner, missed=None) -> list[dict]:
    """One row per measured configuration: measured, predicted (interval), the baselines and the split;
    a configuration the profile cannot predict is printed, or counted into `missed` when one is given."""
    params = [c for c in df.columns if c.startswith("params.")]
    rows = []
    for _, r in df.iterrows():
        knobs = _knobs(r, params)
        kernels = lm.model_kernels(r["model"], f"{int(r['height'])}x{int(r['width'])}", 1, "float32", runner,
                                   pred.rules, **knobs)
        try:
            p = pred.predict(kernels)
        except BenchsuiteError as e:  # one configuration the profile cannot predict: said, not fatal
            if missed is None:
                print(f"not predicted: {r['model']} {knobs or ''} r{r['resolution']}: {e}")
            else:
                missed.append(str(e))
            continue
        rows.append({"family": get_model_entry(r["model"]).family, "config": f"{r['model']} {knobs or ''} "
                     f"r{r['resolution']}", "measured": r["value"], "predicted": p["seconds"], "low": p["low"],
                     "high": p["high"], "flops_only": p["flops_only"], "roofline": p["roofline"],
                     "parts": explain(pred, kernels, float(r["value"]), p), "faults": faults.get(r["case_id"])})
    return rows


def _smaller_profiles(a, pred, df, faults, full_missed: int) -> None:
    """Fit on seeded draws of a share of the profiled kernels and say how the zoo's accuracy falls."""
    from benchsuite.records import to_frame
    from benchsuite.results.run import Run

    prof = to_frame(Run.load(Path(a.profile)).records)
    timed = prof[(prof.metric == "latency_forward") & (prof.status == "ok") & (prof.runner == a.runner)
                 & prof.model.str.startswith("kernel_")]
    ids = sorted(timed.case_id.unique())
    op = timed["params.op"] if "params.op" in timed else [""] * len(timed)
    strata: dict = {}
    for case, model, o in zip(timed.case_id, timed.model, op):
        strata.setdefault((model, str(o)), []).append(case)
    print(f"\nsmaller profiles (draws of whole kernels of the {len(ids)} profiled, stratified by kernel model and "
          "op, 3 seeds each; the time a profile takes is about proportional to its kernels)")
    print("| share of kernels | kernels | within 10% (each seed) | median abs error |")
    print("|---|---|---|---|")
    for f in [float(v) for v in a.fractions.split(",") if v]:
        within, med = [], []
        for seed in range(3):
            rng, keep = np.random.default_rng(seed), set()
            for _, cases in strata.items():  # each kernel model and op drawn alike, at least 5 of it
                keep |= set(rng.choice(cases, size=min(len(cases), max(5, round(f * len(cases)))), replace=False))
            missed: list[str] = []
            try:
                sub = lm.build(Path(a.profile), a.runner, 1, cases=keep, rules=pred.rules, save=False)
                rows = _rows(sub, df, faults, a.runner, missed)
            except BenchsuiteError as e:  # a draw without some kind cannot fit: say so
                missed.append(str(e))
            if len(missed) > full_missed:  # more configurations than the whole profile leaves unpredicted
                within.append(f"fails ({len(missed)} not predicted: {missed[0][:50]})")
                continue
            err = np.array([r["predicted"] / r["measured"] - 1 for r in rows])
            within.append(f"{np.mean(np.abs(err) <= 0.10):.0%}")
            med.append(np.median(np.abs(err)))
        print(f"| {f:.0%} | {round(f * len(ids))} | {', '.join(within)} | "
              f"{'-' if not med else f'{np.mean(med):.1%}'} |")


if __name__ == "__main__":
    sys.exit(main())
