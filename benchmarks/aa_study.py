"""A/A study: independent runs of the same code, compared as a nightly would compare them.

    python benchmarks/aa_study.py --runs 21 --workload guideline1 [--processes 1] [--full] [--load neighbour]

Runs `benchsuite run` N times in a row (`--quick` unless `--full`: the profile's own settings, sequential
looks included), whatever else loads the machine staying, plus with `--load neighbour` a designed neighbour:
one process that alternates 1 s of single-threaded 512x512 float64 matrix products with 1 s of sleep (a
nightly box's neighbour on one of the two cores, duty 50%). It then prints:
- `compare` on consecutive pairs (run i vs i+1): the share of case comparisons flagged (slower or faster),
  with the run's shift taken out (as `compare` judges) and one by one (as it judged before);
- `regress` as the nightly uses it: each run from the (window+1)-th on against the runs before it, at each
  level: run shifts flagged (per runner and run), group shifts flagged (per comparison group) and cases
  flagged beyond both; with each case judged by its place in its group round by round (as `regress` judges,
  results/round_levels.py) and by its median (as it judged before); and whether the device ceilings
  measured in each run (unless --no-ceilings) move with its run shift;
- detection: the newest run made 10% slower as a whole (samples and medians scaled: a real measured noise
  floor under a known effect): is it reported as a run shift, and how many cases are flagged one by one;
  and one case made 10% slower: the share of trials in which that case is flagged;
- verdicts: per group, the share of runs agreeing with the majority verdict, whether any group both holds
  and is violated, the share of group verdicts decided, with the default margin and with margin 0;
- the time each run took.
Existing runs in --out are re-used (--analyse-only skips running).
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from benchsuite.results.compare import compare
from benchsuite.results.run import Run, run_folders
from benchsuite.results.compare import regress as regress_history
from benchsuite.results.verdicts import for_runs


NEIGHBOUR = ("import time, numpy as np\n"
             "a = np.random.default_rng(0).random((512, 512))\n"
             "while True:\n"
             "    t = time.monotonic()\n"
             "    while time.monotonic() - t < 1.0:\n"
             "        a = a @ a; a /= np.abs(a).max()\n"
             "    time.sleep(1.0)\n")


def _run_once(args, out: Path) -> None:
    cmd = [sys.executable, "-m", "benchsuite", "run", "--device", args.device, "--workload", args.workload,
           "--out", str(out), "--no-progress"] + (["--no-ceilings"] if args.no_ceilings else [])
    cmd += [] if args.full else ["--quick", "--processes", str(args.processes)]
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)


def _neighbour():
    env = {**__import__("os").environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", NEIGHBOUR], env=env, stdout=subprocess.DEVNULL)


def _one_slower(run: Run, key: tuple, factor: float) -> Run:
    """The run with one case (case_id, metric) made `factor` slower, records and samples."""
    recs = [dict(r, value=r["value"] * factor) if (r["case_id"], r["metric"]) == key and r.get("value") is not None
            else r for r in run.records]
    return Run(run.name + "-one-slow", run.meta, recs,
               {k: ([_scale(x, factor) for x in v] if (k.case_id, k.metric) == key else v)
                for k, v in run.samples.items()})


def _slowed(run: Run, factor: float) -> Run:
    recs = [dict(r, value=r["value"] * factor) if r.get("value") is not None and r["metric"].startswith("latency")
            else r for r in run.records]
    scale = lambda s: [_scale(x, factor) for x in s]  # noqa: E731
    return Run(run.name + "-slow", run.meta, recs, {k: scale(v) for k, v in run.samples.items()})


def _scale(x, factor):
    return [v * factor for v in x] if isinstance(x, list) else x * factor


class _History:
    """The slice of a history the regress rule reads: runs in order, each loadable by id. `medians_only`:
    without their samples, so that regress judges the cases' medians (the rule before round-by-round
    places, results/round_levels.py)."""

    def __init__(self, runs: list[Run], medians_only: bool = False):
        self.loaded = {r.name: r for r in runs}
        self.order = [r.name for r in runs]
        self.medians_only = medians_only

    def runs(self, workload=None, device=None):
        return [{"run_id": n, "status": "complete"} for n in self.order]

    def meta(self, run_id):
        run = self.loaded[run_id]
        return {**(run.meta.raw if run.meta else {}), "run_id": run_id, "environment": run.environment}

    def records(self, run_id):
        return self.loaded[run_id].records

    def samples(self, run_id):
        return {} if self.medians_only else self.loaded[run_id].samples


def _flagged(cmp) -> tuple[int, int, int]:
    return (sum(c.outcome != "not significant" for c in cmp.changes),
            sum(c.outcome == "slower" for c in cmp.changes), len(cmp.changes))


def _sums(cmps, slower: bool = False) -> tuple[int, int]:
    """(cases flagged, cases compared) over comparisons: slower only, or either way."""
    return (sum(c.outcome == "slower" if slower else c.outcome != "not significant" for x in cmps for c in x.changes),
            sum(len(x.changes) for x in cmps))


def _shift_sums(cmps, slower: bool) -> tuple[int, int]:
    return (sum(s.outcome == "slower" if slower else s.outcome != "not significant" for x in cmps for s in x.shifts),
            sum(len(x.shifts) for x in cmps))


def _group_sums(cmps, slower: bool) -> tuple[int, int]:
    return (sum(g.outcome == "slower" if slower else g.outcome != "not significant"
                for x in cmps for g in x.group_shifts), sum(len(x.group_shifts) for x in cmps))


def _table(rows) -> None:
    print(f"    {'comparison':46s} {'trials':>6s} {'flagged':>8s} {'of':>6s} {'share':>7s}")
    for name, n, flagged, cases in rows:
        print(f"    {name:46s} {n:6d} {flagged:8d} {cases:6d} {flagged / max(cases, 1):7.1%}")


def _canary_agreement(cmps) -> None:
    """Do the device ceilings measured in a run move with its run shift? Per runner and canary, the
    correlation over the A/A trials of the log run shift with the log of the ceiling's slowdown."""
    pairs: dict[tuple, list] = {}
    for c in cmps:
        for s in c.shifts:
            for what, r in s.canaries.items():
                pairs.setdefault((s.runner, what), []).append((math.log(s.ratio), -math.log(r)))
    for (runner, what), xy in sorted(pairs.items()):
        if len(xy) >= 3:
            x, y = np.array(xy).T
            corr = float(np.corrcoef(x, y)[0, 1]) if x.std() and y.std() else float("nan")
            print(f"    canary {what} against {runner}'s run shift over {len(xy)} runs: correlation {corr:+.2f} "
                  f"(shift sd {x.std(ddof=1):.1%}, ceiling sd {y.std(ddof=1):.1%})")


def _regress_rows(runs: list[Run], args, medians_only: bool) -> list[tuple]:
    """regress as the nightly uses it, each run from the (window+1)-th on against the runs before it: A/A at
    each level, the newest run 10% slower as a whole, and one case 10% slower (a few cases in turn)."""
    w = args.window
    reg, regdet, shift_aa, shift_det, one = [], [], [0, 0], [0, 0], [0, 0]
    group_aa, group_det = [0, 0], [0, 0]
    for i in range(w, len(runs)):
        r = regress_history(_History(runs[i - w:i + 1], medians_only), args.workload, args.device, w)
        reg.append(r)
        shift_aa[0] += sum(s.outcome != "not significant" for s in r.shifts)
        shift_aa[1] += len(r.shifts)
        group_aa[0] += sum(g.outcome != "not significant" for g in r.group_shifts)
        group_aa[1] += len(r.group_shifts)
        r = regress_history(_History(runs[i - w:i] + [_slowed(runs[i], 1.10)], medians_only), args.workload,
                            args.device, w)
        regdet.append(r)
        shift_det[0] += sum(s.outcome == "slower" for s in r.shifts)
        shift_det[1] += len(r.shifts)
        group_det[0] += sum(g.outcome == "slower" for g in r.group_shifts)
        group_det[1] += len(r.group_shifts)
        timed = [(c.case_id, c.metric) for c in r.changes]
        for key in timed[:: max(1, len(timed) // 4)]:  # a few cases in turn, one slowed at a time
            got = regress_history(_History(runs[i - w:i] + [_one_slower(runs[i], key, 1.10)], medians_only),
                                  args.workload, args.device, w)
            one[0] += any((c.case_id, c.metric) == key and c.outcome == "slower" for c in got.changes)
            one[1] += 1
    if not medians_only:
        _canary_agreement(reg)
    return [(f"A/A cases (window {w})", len(reg), *_sums(reg)),
            ("A/A run shifts", len(reg), *shift_aa),
            ("A/A group shifts", len(reg), *group_aa),
            ("newest run 10% slower: cases flagged", len(regdet), *_sums(regdet, slower=True)),
            ("newest run 10% slower: run shifts flagged", len(regdet), *shift_det),
            ("newest run 10% slower: group shifts flagged", len(regdet), *group_det),
            ("one case 10% slower: detected", one[1], *one)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workload", default="guideline1")
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--window", type=int, default=10)
    ap.add_argument("--out", default="/tmp/benchsuite-aa")
    ap.add_argument("--analyse-only", action="store_true")
    ap.add_argument("--full", action="store_true", help="the profile's own settings instead of --quick")
    ap.add_argument("--load", choices=["none", "neighbour"], default="none")
    ap.add_argument("--no-ceilings", action="store_true", help="skip the device ceilings (regress's canaries)")
    args = ap.parse_args()
    out = Path(args.out) / f"{args.workload}-{'full' if args.full else f'p{args.processes}'}-{args.load}"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    if not args.analyse_only:
        load = _neighbour() if args.load == "neighbour" else None
        try:
            for i in range(args.runs):
                _run_once(args, out)
                print(f"run {i + 1}/{args.runs} done at {time.monotonic() - t0:.0f} s", file=sys.stderr)
        finally:
            if load is not None:
                load.kill()
    runs = [run for run in map(Run.load, run_folders(out)) if run.meta and run.meta.status == "complete"]
    dirs = [run.path for run in runs]
    cpu = runs[0].environment.get("cpu_model") if runs else "?"
    print(f"{args.workload} {'full' if args.full else 'quick'}, {len(runs)} runs, device {args.device} ({cpu}), "
          f"load: {args.load}")
    durations = [r.meta.duration_s for r in runs if r.meta and r.meta.duration_s]
    if durations:
        print(f"run time: median {sorted(durations)[len(durations) // 2]:.0f} s, max {max(durations):.0f} s")
        spent = Counter()  # where it went, over all runs (run.json time_spent)
        for r in runs:
            spent.update((r.meta.raw if r.meta else {}).get("time_spent") or {})
        if spent:
            total = sum(spent.values())
            print("  time spent: " + ", ".join(f"{k} {v / total:.0%}" for k, v in spent.most_common()))
    for r in runs:  # how each group of a sequential run stopped (decided, last look, a budget)
        groups = ((r.meta.raw if r.meta else {}).get("sequential") or {}).get("groups") or {}
        if groups:
            print(f"  {r.name}: {r.meta.duration_s:.0f} s; groups stopped: "
                  f"{dict(Counter(g['stopped'] for g in groups.values()))}; processes: "
                  f"{dict(sorted(Counter(g['processes'] for g in groups.values()).items()))}")

    pairs = list(zip(runs, runs[1:]))
    for shifts in (True, False):
        aa = [compare(a.records, a.samples, b.records, b.samples, a.name, b.name, shifts=shifts) for a, b in pairs]
        det = [compare(a.records, a.samples, s.records, s.samples, a.name, s.name, shifts=shifts)
               for a, b in pairs for s in [_slowed(b, 1.10)]]
        one = [0, 0]
        for (a, b), cmp in zip(pairs, aa):
            keys = [(c.case_id, c.metric) for c in cmp.changes]  # the cases compare judges (no device ceiling)
            for key in keys[:: max(1, len(keys) * len(pairs) // 150)]:  # every case, or 150-300 trials when more
                s = _one_slower(b, key, 1.10)
                got = compare(a.records, a.samples, s.records, s.samples, a.name, s.name, shifts=shifts)
                one[0] += any((c.case_id, c.metric) == key and c.outcome == "slower" for c in got.changes)
                one[1] += 1
        rule = "cases beyond the run's shift" if shifts else "cases one by one (no shift level)"
        print(f"compare, {rule}:")
        _table([("A/A (consecutive pairs): cases", len(pairs), *_sums(aa)),
                ("A/A: run shifts flagged", len(pairs), *_shift_sums(aa, False)),
                ("A/A: group shifts flagged", len(pairs), *_group_sums(aa, False)),
                ("candidate 10% slower: cases flagged", len(pairs), *_sums(det, slower=True)),
                ("candidate 10% slower: read as a run shift", len(pairs), *_shift_sums(det, True)),
                ("candidate 10% slower: group shifts flagged", len(pairs), *_group_sums(det, True)),
                ("one case 10% slower: detected", one[1], one[0], one[1])])
    for medians_only in (False, True):
        rows = _regress_rows(runs, args, medians_only)
        print("regress, " + ("cases judged by their medians (the rule before round-by-round places)" if medians_only
                             else "cases judged by their places in their groups, round by round") + ":")
        _table(rows)

    for margin in (None, 0.0):
        per_group: dict[tuple, list[str]] = {}
        for d in dirs:
            for v in for_runs(d, margin=margin):
                key = (v.label, json.dumps({k: v.scope[k] for k in sorted(v.scope)}, default=str))
                per_group.setdefault(key, []).append(v.verdict)
        agree = sum(Counter(vs).most_common(1)[0][1] for vs in per_group.values())
        total = sum(len(vs) for vs in per_group.values())
        decided = sum(v != "inconclusive" for vs in per_group.values() for v in vs)
        both = sum({"holds", "violated"} <= set(vs) for vs in per_group.values())
        label = "default margin" if margin is None else "margin 0 (the old rule)"
        print(f"verdicts, {label}: {agree}/{total} = {agree / max(total, 1):.1%} agree with their group's majority "
              f"over {len(dirs)} runs; decided {decided / max(total, 1):.1%}; groups both holds and violated: {both}")
        for (study, scope), vs in sorted(per_group.items()):
            c = Counter(vs)
            s = json.loads(scope)
            knobs = " ".join(f"{k}={v}" for k, v in s.items() if k not in ("device", "runner", "metric", "threads",
                                                                           "dtype", "batch_size", "resolution"))
            print(f"    {study} {s.get('runner')} {s.get('metric')} {knobs}: {dict(c)}")
    print(f"({time.monotonic() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
