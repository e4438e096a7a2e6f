"""A/A study: independent runs of the same code, compared as a nightly would compare them.

    python benchmarks/aa_study.py --runs 21 --workload guideline1 [--processes 1] [--out /tmp/aa]

Runs `benchsuite run --quick` N times in a row (whatever else loads the machine stays: that is the
point), then prints:
- `compare` on consecutive pairs (run i vs i+1): the share of case comparisons flagged (slower or faster);
- `regress` as the nightly uses it: each run from the (window+1)-th on against the runs before it;
- detection: the same comparisons with the candidate's timings made 10% slower (samples and medians
  scaled: a real measured noise floor under a known effect), the share of cases flagged slower;
- verdict stability: per group verdict, the share of runs that agree with the majority verdict, with
  the default margin and with margin 0 (the rule before margins: any interval excluding 1 decided).
Existing runs in --out are re-used (--analyse-only skips running).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from benchsuite.results.compare import compare
from benchsuite.results.run import Run, run_folders
from benchsuite.results.compare import regress as regress_history
from benchsuite.results.verdicts import for_runs


def _run_once(args, out: Path) -> None:
    cmd = [sys.executable, "-m", "benchsuite", "run", "--device", args.device, "--workload", args.workload,
           "--quick", "--out", str(out), "--no-progress", "--no-ceilings", "--processes", str(args.processes)]
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)


def _slowed(run: Run, factor: float) -> Run:
    recs = [dict(r, value=r["value"] * factor) if r.get("value") is not None and r["metric"].startswith("latency")
            else r for r in run.records]
    scale = lambda s: [_scale(x, factor) for x in s]  # noqa: E731
    return Run(run.name + "-slow", run.meta, recs, {k: scale(v) for k, v in run.samples.items()})


def _scale(x, factor):
    return [v * factor for v in x] if isinstance(x, list) else x * factor


class _History:
    """The slice of a history the regress rule reads: runs in order, each loadable by id."""

    def __init__(self, runs: list[Run]):
        self.loaded = {r.name: r for r in runs}
        self.order = [r.name for r in runs]

    def runs(self, workload=None, device=None):
        return [{"run_id": n, "status": "complete"} for n in self.order]

    def meta(self, run_id):
        return {"environment": self.loaded[run_id].environment}

    def records(self, run_id):
        return self.loaded[run_id].records

    def samples(self, run_id):
        return self.loaded[run_id].samples


def _flagged(cmp) -> tuple[int, int, int]:
    return (sum(c.outcome != "not significant" for c in cmp.changes),
            sum(c.outcome == "slower" for c in cmp.changes), len(cmp.changes))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workload", default="guideline1")
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--window", type=int, default=10)
    ap.add_argument("--out", default="/tmp/benchsuite-aa")
    ap.add_argument("--analyse-only", action="store_true")
    args = ap.parse_args()
    out = Path(args.out) / f"{args.workload}-p{args.processes}"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    if not args.analyse_only:
        for i in range(args.runs):
            _run_once(args, out)
            print(f"run {i + 1}/{args.runs} done at {time.monotonic() - t0:.0f} s", file=sys.stderr)
    dirs = run_folders(out)
    runs = [Run.load(d) for d in dirs]
    print(f"{args.workload} quick, {len(runs)} runs, {args.processes} process(es) per group, device {args.device}")

    rows = []
    pairs = list(zip(runs, runs[1:]))
    aa = [_flagged(compare(a.records, a.samples, b.records, b.samples, a.name, b.name)) for a, b in pairs]
    det = [_flagged(compare(a.records, a.samples, s.records, s.samples, a.name, s.name))
           for a, b in pairs for s in [_slowed(b, 1.10)]]
    rows.append(("compare A/A (consecutive pairs)", len(pairs), sum(f for f, _, _ in aa), sum(n for _, _, n in aa)))
    rows.append(("compare, candidate 10% slower", len(pairs), sum(s for _, s, _ in det), sum(n for _, _, n in det)))
    reg, regdet = [], []
    for i in range(args.window, len(runs)):
        hist = _History(runs[i - args.window:i + 1])
        reg.append(_flagged(regress_history(hist, args.workload, args.device, args.window)))
        hist = _History(runs[i - args.window:i] + [_slowed(runs[i], 1.10)])
        regdet.append(_flagged(regress_history(hist, args.workload, args.device, args.window)))
    rows.append((f"regress A/A (window {args.window})", len(reg), sum(f for f, _, _ in reg), sum(n for _, _, n in reg)))
    rows.append(("regress, newest 10% slower", len(regdet), sum(s for _, s, _ in regdet),
                 sum(n for _, _, n in regdet)))
    print(f"{'comparison':40s} {'pairs':>5s} {'flagged':>8s} {'cases':>6s} {'share':>7s}")
    for name, n, flagged, cases in rows:
        print(f"{name:40s} {n:5d} {flagged:8d} {cases:6d} {flagged / max(cases, 1):7.1%}")

    for margin in (None, 0.0):
        per_group: dict[tuple, list[str]] = {}
        for d in dirs:
            for v in for_runs(d, margin=margin):
                key = (v.label, json.dumps({k: v.scope[k] for k in sorted(v.scope)}, default=str))
                per_group.setdefault(key, []).append(v.verdict)
        agree = sum(Counter(vs).most_common(1)[0][1] for vs in per_group.values())
        total = sum(len(vs) for vs in per_group.values())
        label = "default margin" if margin is None else "margin 0 (the old rule)"
        print(f"verdict stability, {label}: {agree}/{total} = {agree / max(total, 1):.1%} of group verdicts agree "
              f"with their group's majority over {len(dirs)} runs")
        for (study, scope), vs in sorted(per_group.items()):
            c = Counter(vs)
            s = json.loads(scope)
            print(f"    {study} {s.get('runner')} {s.get('metric')} {s.get('paper_set', '')}: {dict(c)}")
    print(f"({time.monotonic() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
