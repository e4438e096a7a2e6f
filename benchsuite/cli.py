"""Command line: parses arguments, calls the library, prints. Exit codes are in errors.py."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import __version__
from .errors import EXIT_BUG, EXIT_FAILURES, EXIT_INTERRUPTED, EXIT_OK, EXIT_REGRESSION, EXIT_USAGE, BenchsuiteError
from .dtypes import DTYPES

EPILOG = """exit codes:
  0    success: every case ok, skipped or unsupported
  1    the command ran but some cases ended as error records
  2    bad input (unknown device/workload/model/runner, malformed spec, bad option)
  3    compare/regress found a significant slowdown
  130  interrupted (Ctrl-C); records already finished are kept
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="benchsuite", description="Benchmark compact CNNs on your hardware.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"benchsuite {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", help="run a workload on a device", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--device", help="device name (see: benchsuite list devices) or path (default: the "
                                    "built-in defaults.toml's, the local CPU)")
    r.add_argument("--workload", help="workload name or path (default: the built-in defaults.toml's)")
    r.add_argument("--runner", action="append", help="run only this runner (repeatable; default: the device's)")
    r.add_argument("--filter", metavar="GLOB", help="only cases whose label matches, e.g. '*c1=128*'")
    r.add_argument("--quick", action="store_true", help="the workload's quick subset with lighter timing")
    r.add_argument("--runner-option", action="append", default=[], metavar="RUNNER.KEY=VALUE",
                   help="override a runner option of the device profile, e.g. torch_compile.mode=max-autotune")
    r.add_argument("--out", default="results", help="results folder (default: results)")
    r.add_argument("--history", help="history database (default: OUT/history.sqlite)")
    r.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    r.add_argument("--simulate-traffic", action="store_true",
                   help="add cachegrind-simulated memory traffic to every case (slow: ~1 min per case)")
    r.add_argument("--measure-traffic", action="store_true",
                   help="add measured DRAM traffic to every case: perf LLC misses on CPUs, Nsight Compute on "
                        "NVIDIA GPUs (unsupported, with the reason, where neither can read counters)")
    r.add_argument("--no-ceilings", action="store_true",
                   help="skip the roofline ceilings (memory bandwidth, GEMM FLOP/s per runner)")
    r.add_argument("--processes", type=_positive_int, metavar="N",
                   help="measure every comparison group in N worker processes, in rounds over the sweep: the "
                        "intervals then cover run-to-run variation (default: the device profile's timing, 1 for "
                        "--quick)")
    r.add_argument("--max-processes", type=_positive_int, metavar="N",
                   help="measure groups whose verdicts are still undecided in more processes, at declared looks "
                        "up to N (alpha spent over the looks; default: the profile's max_processes)")
    r.add_argument("--budget", type=_duration, metavar="TIME",
                   help="the run's time budget for those further processes, e.g. 10m (default: the profile's "
                        "run_budget_s)")
    r.add_argument("--margin", type=_fraction, metavar="M",
                   help="practical-equivalence margin of the verdicts' ratios (default: the workload's, 0.02)")

    t = sub.add_parser("tune", help="tune workloads' kernels for a device's tuning runners (before runs that "
                                    "use them)",
                       description="For each runner of the device that has a tuning step (benchsuite list "
                                   "runners): extracts the kernels of the workloads' cases, deduplicated across "
                                   "cases and workloads, and "
                                   "tunes each into the runner's database; resumes where a previous call stopped. "
                                   "Runs then apply the database and record what it held. Tune alone: other work "
                                   "on the machine skews the candidates' timings.")
    t.add_argument("--device", help="device name or path (default: the built-in defaults.toml's)")
    t.add_argument("--workload", action="append", metavar="WORKLOAD",
                   help="workload name or path (default: the built-in defaults.toml's); repeat it to tune several "
                        "workloads' kernels in one call, each distinct kernel once")
    t.add_argument("--quick", action="store_true", help="the workloads' quick subsets")
    t.add_argument("--filter", metavar="GLOB", help="only cases whose label matches")
    t.add_argument("--trials-per-task", type=_positive_int, metavar="K",
                   help="tuning trials per kernel (default: the runner's `trials` option; with --budget: "
                        "the most per kernel)")
    t.add_argument("--budget", type=_duration, metavar="TIME",
                   help="wall-clock budget, e.g. 30m, 1h, 900s: kernels are tuned breadth-first in doubling "
                        "steps (16, 32, 64, ... trials each) until it runs out")
    t.add_argument("--runner-option", action="append", default=[], metavar="RUNNER.KEY=VALUE",
                   help="override a runner option of the device profile, e.g. RUNNER.database_dir=DIR")
    t.add_argument("--plan", action="store_true",
                   help="tune nothing: per workload its kernels (distinct, and shared with the workloads before "
                        "it), what the database holds, and the time to the trials per kernel (or what --budget "
                        "reaches) at the rate this target's tuning log measured")

    ls = sub.add_parser("list", help="list devices, workloads, models or runners")
    ls.add_argument("what", choices=["devices", "workloads", "models", "runners"])
    ls.add_argument("pattern", nargs="?", default="*", help="wildcard for models (default: *)")

    sub.add_parser("env", help="print what a run records about this machine")

    ini = sub.add_parser("init", help="copy the built-in device profiles and workloads into a folder for editing")
    ini.add_argument("folder", nargs="?", default=".", help="where devices/ and workloads/ go (default: .)")

    v = sub.add_parser("verdict", help="check the published claims against the records of runs")
    v.add_argument("runs", nargs="+", metavar="RUN", help="run folders (or a folder of runs)")
    v.add_argument("--format", default="text", choices=["text", "json"])
    v.add_argument("--margin", type=_fraction, metavar="M",
                   help="practical-equivalence margin (default: what each run recorded, 0.02)")

    cmp = sub.add_parser("compare", help="compare two runs case by case; exit 3 on a regression")
    cmp.add_argument("base", help="run folder or run id (from the history database)")
    cmp.add_argument("candidate", help="run folder or run id")
    rg = sub.add_parser("regress", help="newest run of each workload/device vs the runs before it; "
                                        "exit 3 on a regression")
    rg.add_argument("--workload", help="only this workload (default: every workload in the history)")
    rg.add_argument("--device", help="only this device")
    rg.add_argument("--window", type=_positive_int, default=10,
                    help="how many earlier comparable runs give the run-to-run spread (default 10)")
    hi = sub.add_parser("history", help="the run archive (records kept where nothing evicts them) and the "
                                        "SQLite index rebuilt from it")
    hs = hi.add_subparsers(dest="action", required=True, metavar="ACTION")
    ha = hs.add_parser("archive", help="copy each run under --results that the archive lacks into "
                                       "ARCHIVE/<device>/<run_id>/ (never rewrites an archived run)")
    ha.add_argument("--results", default="results", help="folder of run folders (default results)")
    ha.add_argument("--to", required=True, metavar="ARCHIVE", help="the archive folder (e.g. a data branch checkout)")
    hr = hs.add_parser("rebuild", help="rebuild the SQLite index from archives and results folders")
    hr.add_argument("--from", dest="sources", action="append", required=True, metavar="FOLDER",
                    help="an archive or results folder (repeatable); a run id found twice is taken once")
    hr.add_argument("--history", default="results/history.sqlite", help="the index to write (replaced whole)")
    for p_ in (cmp, rg):
        p_.add_argument("--history", default="results/history.sqlite", help="history database")
        p_.add_argument("--force", action="store_true", help="compare across machines / library versions")
        p_.add_argument("--alpha", type=_fraction, default=0.01,
                        help="false-alarm rate per case and direction (default 0.01)")
        p_.add_argument("--min-effect", type=_fraction, default=None,
                        help="smallest median change that counts (default 0.05; 0.10 where a side has fewer than "
                             "3 processes, since one process cannot show run-to-run noise)")

    rp = sub.add_parser("report", help="render the HTML report (reports/index.html)")
    rp.add_argument("runs", nargs="*", metavar="RUN",
                    help="run folders (default: the newest run of each workload and device under results/)")
    rp.add_argument("--results", default="results", help="results folder (default: results)")
    rp.add_argument("--out", default="reports", help="output folder (default: reports)")

    c = sub.add_parser("count", help="analytic multiply-adds, parameters and memory access of a model")
    c.add_argument("--model", required=True, help="registered model name (see: benchsuite list models)")
    c.add_argument("--width", type=float, help="width multiplier (models with a 'width' knob)")
    c.add_argument("--resolution", type=_input_size, metavar="SIZE",
                   help="input size: 224, or HEIGHTxWIDTH such as 640x480 (default: the model's own)")
    c.add_argument("--batch", type=_positive_int, default=1)
    c.add_argument("--dtype", default="float32", choices=DTYPES)
    c.add_argument("--knob", action="append", default=[], metavar="K=V", help="any model knob, e.g. groups=8")
    c.add_argument("--by", default="total", choices=["total", "type", "category", "layer"])
    c.add_argument("--format", default="table", choices=["table", "csv", "json"])

    pf = sub.add_parser("profile", help="time the kernels networks are made of on a device and fit a latency "
                        "predictor per runner and thread count (what predict and the latency_explained study read)",
                        description="Runs the built-in kernel profiling workload (single kernels over a generic "
                                    "shape grid, one process, the device's timing and ceilings) into the results "
                                    "folder, then fits and saves a predictor beside the run for every runner that "
                                    "runs each op as its own kernel. Profile alone: other work skews the kernels.")
    pf.add_argument("--device", help="device name or path (default: the built-in defaults.toml's)")
    pf.add_argument("--runner", action="append", help="profile only this runner (repeatable; default: the device's)")
    pf.add_argument("--filter", metavar="GLOB", help="only kernels whose label matches (too few cannot be fitted)")
    pf.add_argument("--quick", action="store_true", help="a few kernels of each kind with lighter timing: proves "
                    "the path; too few to fit on")
    pf.add_argument("--out", default="results", help="results folder (default: results)")
    pf.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    pf.add_argument("--no-ceilings", action="store_true", help="skip the ceilings (the roofline baseline is then "
                    "unsupported)")
    pf.add_argument("--budget", type=_duration, metavar="TIME",
                    help="the profile's time budget, e.g. 30m: kernels are taken one model (kind) at a time in turn, "
                         "so that what the budget leaves measured spreads over every kind; the rest is recorded "
                         "as skipped")

    pr = sub.add_parser("predict", help="predict a model's forward latency from a kernel profiling run (the sum "
                        "of its kernels), beside the FLOPs-only and roofline baselines")
    pr.add_argument("--profile", required=True, metavar="RUN",
                    help="the run folder of a kernel profiling run (a run of the kernel-profiling workload)")
    pr.add_argument("--model", required=True, help="registered model name (see: benchsuite list models)")
    pr.add_argument("--runner", required=True, help="the runner whose kernels were profiled (see: benchsuite list "
                    "runners); it must run each op as its own kernel")
    pr.add_argument("--threads", type=_positive_int, default=1)
    pr.add_argument("--device", help="refuse a predictor fitted on another device than this one")
    pr.add_argument("--width", type=float, help="width multiplier (models with a 'width' knob)")
    pr.add_argument("--resolution", type=_input_size, metavar="SIZE", help="input size (default: the model's own)")
    pr.add_argument("--knob", action="append", default=[], metavar="K=V", help="any model knob, e.g. groups=8")
    pr.add_argument("--refit", action="store_true", help="fit again even if the run has a saved predictor")
    pr.add_argument("--by", default="kind", choices=["kind", "kernel"], help="the breakdown printed")
    pr.add_argument("--format", default="table", choices=["table", "csv", "json"])
    return p


def _input_size(text: str):
    from .input_size import VALID, parse_input_size

    try:
        return parse_input_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{e}; valid: {VALID}") from None


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.02, got {text!r}") from None
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text!r}")
    return v


def _duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    try:
        v = float(number) * units[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a duration such as 30m, 1h or 900s, got {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"expected a positive duration, got {text!r}")
    return v


def _knob_value(text: str):
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _knobs(a) -> dict:
    knobs = {}
    for kv in a.knob:
        if "=" not in kv:
            raise BenchsuiteError(f"--knob expects K=V, got {kv!r}")
        k, v = kv.split("=", 1)
        knobs[k] = _knob_value(v)
    if a.width is not None:
        knobs["width"] = a.width
    return knobs


def cmd_count(a) -> int:
    from .counting import count_registered
    from .tables import print_table

    knobs = _knobs(a)
    try:
        result = count_registered(a.model, a.resolution, a.batch, a.dtype, **knobs)
    except (TypeError, ValueError) as e:
        raise BenchsuiteError(str(e)) from None
    if a.by == "layer":
        rows = [{k: r[k] for k in ("name", "op", "layer_type", "out_shape", "madds", "params", "elementwise_ops",
                                   "mac_bytes")} for r in result.rows()]
    elif a.by in ("type", "category"):
        groups = result.by("layer_type" if a.by == "type" else "category")
        tot = {k: max(result.total(k), 1) for k in ("madds", "params")}
        rows = [{a.by: k, **v, "madds_%": round(100 * v["madds"] / tot["madds"], 2),
                 "params_%": round(100 * v["params"] / tot["params"], 2)}
                for k, v in sorted(groups.items(), key=lambda kv: -kv[1]["madds"])]
    else:
        rows = [{"model": a.model, "input": "x".join(map(str, result.input_shape)), "dtype": a.dtype,
                 **result.totals()}]
    print_table(rows, a.format)
    return EXIT_OK


def cmd_verdict(a) -> int:
    from .latency_model import Explainer
    from .results.verdicts import for_runs, format_verdicts

    try:
        verdicts = for_runs(*a.runs, margin=a.margin, explainer=Explainer)
    except FileNotFoundError as e:
        raise BenchsuiteError(str(e)) from None
    if a.format == "json":
        print(json.dumps([v.to_dict() for v in verdicts], indent=2, default=str))
    else:
        print(format_verdicts(verdicts) or "no verdicts: these runs hold no records a claim applies to")
    return EXIT_OK


def cmd_compare(a) -> int:
    from .results.compare import check_comparable, compare, env_differences, format_comparison
    from .results.run import Run
    from .results.store import History

    hist = History(Path(a.history)) if Path(a.history).exists() else None
    base, cand = Run.load(a.base, hist), Run.load(a.candidate, hist)
    check_comparable(base.environment, cand.environment, a.force)
    result = compare(base.records, base.samples, cand.records, cand.samples, base.name, cand.name,
                     a.alpha, a.min_effect)
    for shift in result.shifts:
        shift.differences = env_differences(base.environment, cand.environment)
    print(format_comparison(result))
    return EXIT_REGRESSION if result.regressions or result.shifted else EXIT_OK


def cmd_regress(a) -> int:
    from .results.compare import format_comparison, regress
    from .results.store import History

    if not Path(a.history).exists():
        raise BenchsuiteError(f"no history database at {a.history} (run 'benchsuite run' first)")
    hist = History(Path(a.history))
    pairs = sorted({(r["workload"], r["device"]) for r in hist.runs(a.workload, a.device)})
    if not pairs:
        raise BenchsuiteError(f"no runs in {a.history}" + (f" for workload {a.workload}" if a.workload else ""))
    regressed = False
    for workload, device in pairs:
        result = regress(hist, workload, device, a.window, a.force, a.alpha, a.min_effect)
        print(f"== {workload} on {device}")
        if result is None:
            print("   no earlier comparable run: nothing to compare yet")
            continue
        print(format_comparison(result))
        regressed |= bool(result.regressions or result.shifted)
    return EXIT_REGRESSION if regressed else EXIT_OK


def cmd_history(a) -> int:
    from .results.archive import archive_runs, rebuild_index

    if a.action == "archive":
        if not Path(a.results).is_dir():
            raise BenchsuiteError(f"no results folder {a.results}: nothing to archive")
        _writable_folder(a.to, "--to")
        added = archive_runs(Path(a.results), Path(a.to))
        print(f"archived {len(added)} run(s) into {a.to}" + (f": {', '.join(added)}" if added else ""))
        return EXIT_OK
    for source in a.sources:
        if not Path(source).is_dir():
            raise BenchsuiteError(f"--from {source}: no such folder")
    if Path(a.history).is_dir():
        raise BenchsuiteError(f"--history {a.history}: is a folder, not a history database file")
    n = rebuild_index([Path(p) for p in a.sources], Path(a.history))
    print(f"rebuilt {a.history}: {n} run(s) from {', '.join(a.sources)}")
    return EXIT_OK


def latest_runs(results: Path) -> list[Path]:
    """The newest run folder of each (workload, device) under a results folder or a run archive."""
    from .results.run import read_meta, run_folders

    newest: dict[tuple, tuple] = {}
    for d in run_folders(results):
        try:
            meta = read_meta(d)
        except (OSError, ValueError, KeyError):
            continue
        key = (meta.workload, meta.device)
        if key not in newest or (meta.started or "") >= newest[key][0]:
            newest[key] = (meta.started or "", d)
    return [d for _, d in newest.values()]


def cmd_report(a) -> int:
    from .report import build_report
    from .results.store import HISTORY_FILE, History

    _writable_folder(a.out, "--out")
    if not a.runs and not Path(a.results).is_dir():
        raise BenchsuiteError(f"no results folder {a.results}: run 'benchsuite run' (or 'make run') first, "
                              "or name run folders")
    runs = [Path(r) for r in a.runs] or latest_runs(Path(a.results))
    if not runs:
        raise BenchsuiteError(f"no runs under {a.results}: run 'benchsuite run' (or 'make run') first")
    hist_path = Path(a.results) / HISTORY_FILE
    try:
        out = build_report(runs, Path(a.out), History(hist_path) if hist_path.exists() else None)
    except FileNotFoundError as e:
        raise BenchsuiteError(str(e)) from None
    print(f"report: {out}")
    return EXIT_OK


def override_runner_options(device, items: list[str]):
    """Apply --runner-option RUNNER.KEY=VALUE overrides to a device profile."""
    from dataclasses import replace

    from .runners import get_runner, option_problem

    opts = {k: dict(v) for k, v in device.runner_options.items()}
    for item in items:
        name, _, value = item.partition("=")
        runner, _, key = name.partition(".")
        if not key or not _:
            raise BenchsuiteError(f"--runner-option expects RUNNER.KEY=VALUE, got {item!r}")
        problem = option_problem(get_runner(runner), key, _knob_value(value))  # the same check as a profile's
        if problem:
            raise BenchsuiteError(f"--runner-option {item}: not valid for {runner}.{key} (valid: {problem})")
        opts.setdefault(runner, {})[key] = _knob_value(value)
    return replace(device, runner_options=opts)


def cmd_run(a) -> int:
    from .host.execute import execute
    from .host.progress import Progress
    from .spec import load_device, load_workload

    from .catalog import defaults

    device = load_device(a.device or defaults()["device"])
    workload = load_workload(a.workload or defaults()["workload"])
    device = override_runner_options(device, a.runner_option)
    _writable_folder(a.out, "--out")
    outcome = execute(device, workload, runners=a.runner, quick=a.quick, filter_glob=a.filter,
                      results=Path(a.out), history=Path(a.history) if a.history else None, argv=sys.argv,
                      progress=Progress(enabled=not a.no_progress), ceilings=not a.no_ceilings,
                      extra_metrics=("traffic_forward_simulated",) * a.simulate_traffic
                      + ("traffic_forward_measured",) * a.measure_traffic, processes=a.processes, margin=a.margin,
                      max_processes=a.max_processes, budget_s=a.budget)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(outcome.statuses.items()))
    duration = outcome.run.meta.duration_s
    print(f"run {outcome.folder.path.name}: {outcome.status} in {duration} s; records: {counts}")
    spent = outcome.run.meta.raw.get("time_spent") or {}
    if duration and spent:  # where the time went (host/time_spent.py)
        print("time spent: " + ", ".join(f"{k} {v / duration:.0%}" for k, v in spent.items() if v >= 0.005 * duration))
    print(f"records: {outcome.folder.records_path}")
    if outcome.verdicts:
        from .results.verdicts import format_verdicts

        print("\nverdicts:\n" + format_verdicts(outcome.verdicts))
    if outcome.status == "interrupted":
        return EXIT_INTERRUPTED
    return EXIT_FAILURES if outcome.statuses.get("error") else EXIT_OK


def cmd_tune(a) -> int:
    from .catalog import defaults
    from .spec import load_device, load_workload
    from .host.tune import tune_workload

    device = override_runner_options(load_device(a.device or defaults()["device"]), a.runner_option)
    workloads = [load_workload(w) for w in (a.workload or [defaults()["workload"]])]

    def say(text):
        print(text, file=sys.stderr, flush=True)

    try:
        outcome = tune_workload(device, workloads, quick=a.quick, filter_glob=a.filter,
                                trials_per_task=a.trials_per_task, budget_s=a.budget, say=say, plan_only=a.plan)
    except KeyboardInterrupt:
        print("benchsuite: tuning interrupted; the trials finished so far are kept, and the same command "
              "resumes from them", file=sys.stderr)
        return EXIT_INTERRUPTED
    for tuned in outcome:
        print(tuned.summary)
        if a.plan:
            continue
        why = "; the time budget ran out (the same command resumes)" if tuned.stopped_by_budget else ""
        print(f"tuned {tuned.trials_given} trials in {tuned.seconds:.0f} s{why}")
    return EXIT_OK


def cmd_list(a) -> int:
    from . import catalog
    from .models import get_model_entry, list_models
    from .runners import get_runner, runner_names

    if a.what in ("devices", "workloads"):
        found = catalog.entries(a.what)
        if not found:
            print(f"no {a.what} found; looked in: {catalog.where_looked(a.what)}")
        for name, e in found.items():
            over = f"  (overrides {', '.join(e.shadows)})" if e.shadows else ""
            print(f"{name:24s} {e.layer:16s} {e.path}{over}")
    elif a.what == "models":
        names = list_models(a.pattern)
        if not names:
            raise BenchsuiteError(f"no model matches '{a.pattern}' (valid: {', '.join(list_models())})")
        for name in names:
            e = get_model_entry(name)
            knobs = ", ".join(f"{k}={v}" for k, v in e.knobs.items())
            print(f"{name:32s} [{e.family}] {e.description}  knobs: {knobs or '-'}")
    else:
        for name in runner_names():
            ok, why = get_runner(name).availability()
            print(f"{name:16s} {'available' if ok else 'unavailable: ' + why}")
    return EXIT_OK


def cmd_profile(a) -> int:
    from . import latency_model as lm
    from .catalog import defaults
    from .host.execute import execute
    from .host.progress import Progress
    from .spec import load_device, load_workload

    device = _with_node_profiles(load_device(a.device or defaults()["device"]))
    workload = load_workload(defaults()["profile_workload"])
    _writable_folder(a.out, "--out")
    outcome = execute(device, workload, runners=a.runner, quick=a.quick, filter_glob=a.filter, results=Path(a.out),
                      argv=sys.argv, progress=Progress(enabled=not a.no_progress), processes=1,
                      ceilings=not a.no_ceilings, deadline_s=a.budget)
    run = outcome.folder.path
    ok = [r for r in outcome.run.records if r["metric"] == "latency_forward" and r["status"] == "ok"]
    skipped = sum(r["metric"] == "latency_forward" and r["status"] == "skipped" for r in outcome.run.records)
    cut = f"; {skipped} not measured within the budget (recorded as skipped)" if skipped else ""
    print(f"profile {run.name}: {len(ok)} kernels timed in {outcome.run.meta.duration_s} s{cut}")
    for runner, threads in sorted({(r["runner"], r["threads"]) for r in ok}):
        try:
            pred = lm.build(run, runner, threads)
        except BenchsuiteError as e:
            print(f"{runner}, {threads} thread(s): no predictor: {e}")
            continue
        kinds = ", ".join(f"{k} {100 * f.within_10:.0f}%" for k, f in pred.fits.items())
        print(f"{runner}, {threads} thread(s): predictor {lm.predictor_path(run, runner, threads).name}; "
              f"cross-validated share of kernels within ±10% per kind: {kinds}")
        if pred.rules is not None:
            print(f"  fusion rules read from its executed graphs: {pred.rules.describe()}; executor overhead "
                  f"{1e6 * pred.run_overhead_s:.1f} us a run and {1e6 * pred.node_overhead_s:.1f} us a kernel")
    return EXIT_FAILURES if outcome.statuses.get("error") else EXIT_OK


def _with_node_profiles(device):
    """The device with every runner that can profile its graph's nodes (a `node_profile` option) doing so:
    a profiled kernel's own time is then its share of the runner's run (latency_model.kernel_table)."""
    from dataclasses import replace

    from .runners import get_runner

    opts = {k: dict(v) for k, v in device.runner_options.items()}
    for name in device.runners:
        if "node_profile" in get_runner(name).options:
            opts.setdefault(name, {})["node_profile"] = True
    return replace(device, runner_options=opts)


def cmd_predict(a) -> int:
    from . import latency_model as lm
    from .guideline_costs import LABELS, explain
    from .tables import print_table

    pred = lm.for_run(Path(a.profile), a.runner, a.threads, a.device, a.refit)
    try:
        kernels = lm.model_kernels(a.model, a.resolution, 1, "float32", a.runner, pred.rules, **_knobs(a))
    except (TypeError, ValueError) as e:
        raise BenchsuiteError(str(e)) from None
    p = pred.predict(kernels)
    ms = lambda v: "unsupported" if v is None else f"{1e3 * v:.3f} ms"  # noqa: E731
    print(f"{a.model} {_knobs(a) or ''} predicted (sum of {len(kernels)} kernels, {a.runner}, {a.threads} "
          f"thread(s), fitted on run {pred.meta['run_id']}, {pred.meta['cpu_model']}): {ms(p['seconds'])} "
          f"[{ms(p['low'])}, {ms(p['high'])}]")
    print(f"  baselines: FLOPs only {ms(p['flops_only'])}; roofline "
          f"{ms(p['roofline']) if p['roofline'] is not None else 'unsupported (the run measured no ceilings)'}")
    print("  the interval: the kinds' cross-validated 5th-95th percentile errors, taken as fully correlated")
    parts = explain(pred, kernels, prediction=p)
    print("  where the predicted time goes (benchsuite/guideline_costs.py): " + "; ".join(
        f"{LABELS[c]} {100 * v / p['seconds']:.1f}%" for c, v in parts.items() if v > 0))
    if a.by == "kind":
        rows = [{"kind": k, "ms": round(1e3 * v, 4), "share_%": round(100 * v / p["seconds"], 1),
                 "cv_within_10%": round(100 * pred.fits[k].within_10, 1), "profiled": pred.fits[k].n}
                for k, v in p["by_kind"].items()]
    else:
        rows = [{"kernel": r["name"], "kind": r["kind"], "ms": round(1e3 * r["seconds"], 4), "madds": r["madds"],
                 "mac_bytes": r["mac_bytes"]} for r in p["per_kernel"]]
    print_table(rows, a.format)
    return EXIT_OK


def cmd_env(a) -> int:
    from .env import environment

    print(json.dumps(environment(), indent=2))
    return EXIT_OK


def cmd_init(a) -> int:
    from .catalog import init

    written = init(Path(a.folder))
    print(f"copied {len(written)} files into {Path(a.folder) / 'devices'} and {Path(a.folder) / 'workloads'}; "
          "edit them there: files in the working folder override the built-ins of the same name")
    return EXIT_OK


COMMANDS = {"run": cmd_run, "tune": cmd_tune, "list": cmd_list, "env": cmd_env, "init": cmd_init, "count": cmd_count,
            "verdict": cmd_verdict, "compare": cmd_compare, "regress": cmd_regress, "report": cmd_report,
            "history": cmd_history, "predict": cmd_predict, "profile": cmd_profile}


def main(argv=None) -> int:
    """Every command goes through this boundary: expected failures (bad input, missing, unreadable or
    non-UTF-8 files, permissions, a full disk) are one line on stderr and exit 2; an unexpected exception
    is a bug: a short message names the log file that keeps its traceback, exit 70."""
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except BenchsuiteError as e:
        print(f"benchsuite: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("benchsuite: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except UnicodeDecodeError as e:
        print(f"benchsuite: error: a file is not UTF-8 text ({e.reason} at byte {e.start})", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        print(f"benchsuite: error: {_os_error(e)}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # noqa: BLE001 - the boundary: anything else is a bug, reported, not a traceback
        log = _bug_log(e)
        print(f"benchsuite: internal error: {type(e).__name__}: {e}\n"
              f"This is a bug in benchsuite {__version__}. The traceback is in {log}; please attach that file to "
              "a bug report. Records already written are kept.", file=sys.stderr)
        return EXIT_BUG


def _writable_folder(path: str, option: str) -> None:
    """Refuse, before any work, a results or report folder that cannot be one."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise BenchsuiteError(f"{option} {path}: exists and is not a folder (give a folder to write into)")
    existing = next((q for q in (p, *p.parents) if q.exists()), None)
    if existing is not None and not os.access(existing, os.W_OK):
        raise BenchsuiteError(f"{option} {path}: cannot write into {existing} (no permission)")


def _os_error(e: OSError) -> str:
    import errno

    if e.strerror is None:  # raised with a message of ours (a FileNotFoundError naming what is missing)
        return str(e)
    what = f"{e.filename}: " if e.filename else ""
    hint = {errno.ENOSPC: " (the disk is full: free space or give --out another disk)",
            errno.EACCES: " (no permission: choose a folder you can write, or fix its permissions)",
            errno.ENOTDIR: " (a file stands where a folder is needed)",
            errno.EROFS: " (a read-only file system)"}.get(e.errno, "")
    return f"{what}{e.strerror}{hint}"


def _bug_log(e: BaseException) -> Path:
    """The traceback of an unexpected exception, written where the user can find it (never the terminal)."""
    import time
    import traceback

    from platformdirs import user_log_dir

    text = (f"benchsuite {__version__}, {time.strftime('%Y-%m-%dT%H:%M:%S')}\nargv: {sys.argv}\n\n"
            + "".join(traceback.format_exception(e)))
    for folder in (Path(user_log_dir("benchsuite")), Path.cwd()):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"crash-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.log"
            path.write_text(text)
            return path
        except OSError:
            continue
    return Path("(unwritable: no log folder could be written)")
