"""Regression detection: a candidate run against a baseline run (`compare`) or against the history (`regress`).

Cases are joined on (case_id, metric) for the timing metrics; their samples are found by each record's
SampleKey (results/run.py). The unit of replication is the process
(replicates.py): a shared machine shifts every case of a runner in a run together, by several per cent,
and samples of one process cannot show that.

- `compare A B`: when both runs measured the case in >= 3 processes, a Welch t-test on the log process
  medians (p < alpha) AND a median change beyond min_effect (default 5%). With fewer processes only the
  samples of one process are there: a Mann-Whitney test on them, which mistakes run noise for an effect,
  so only changes beyond a wider floor count (default 10%), and the output says so. Per runner the
  candidate's shift (the median log change of its cases) is reported apart and cases are judged beyond it;
  a case of a comparison group timed whole in >= 3 processes a side is tested on its place in the group
  (round by round, round_levels.py) and its change judged against the median of the other cases'
  changes; each such group's level is judged against the run's shift on its own (a group shift): a whole
  run, a whole group and one case are three findings.
- `regress`: the newest run against the run medians of up to `window` earlier comparable runs, in two
  levels (run_shift.py): per runner, the run's shift shared by all its cases against the earlier runs'
  shifts, and each case's residual beyond its run's shift against its own earlier residuals. Each is
  `slower` when it lies above the one-sided (1 - alpha) prediction limit (log scale, t distribution) AND
  beyond min_effect (default 5%); `faster` mirrored. With normal run-to-run noise the false-alarm rate is at
  most alpha per direction at each level: per runner and run for the shift, per case for the residuals (the
  A/A benchmark measures it). A runner with fewer than 3 cases is judged case by case on its medians; fewer
  than 3 earlier runs: the pooled comparison above, said so.

Runs from different machines or library versions are refused unless forced.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as sps

from ..errors import BenchsuiteError
from ..metrics import TIMING_METRICS
from ..replicates import pooled, prediction_outcome, processes
from .round_levels import case_levels, process_places
from .run import Run, sample_key
from .run_shift import MIN_CASES, judge_group, judge_residual, judge_shift, split

ALPHA = 0.01
MIN_EFFECT = 0.05             # with process replicates, or against the history's spread
MIN_EFFECT_ONE_PROCESS = 0.10  # when only one process's samples are there: run noise reaches ~6% here
MIN_PROCESSES = 3
MIN_HISTORY = 3


@dataclass
class CaseChange:
    case_id: str
    metric: str
    label: str
    base_median: float
    cand_median: float
    ratio: float
    p_value: float | None
    outcome: str   # slower / faster / not significant
    method: str = ""  # what the test stood on: process medians, one process's samples, history spread
    beyond_shift: float | None = None  # the change beyond its run's shift (regress, two levels), as a ratio


@dataclass
class RunShift:
    """A whole run's change for one runner: the median over its cases, judged against earlier runs' shifts."""
    runner: str
    ratio: float
    outcome: str          # slower / faster / not significant
    cases: int
    history: int          # earlier runs whose shifts it was judged against
    differences: list[str] = field(default_factory=list)  # what differs in the environment from the last run
    # the device ceilings measured in the same run against the earlier runs' (canaries of the machine's state):
    # what -> the candidate's ceiling over their geometric mean (below 1: the machine itself was slower)
    canaries: dict[str, float] = field(default_factory=dict)


@dataclass
class GroupShift:
    """The cases of one comparison group (measured in the same worker processes) moved together beyond their
    run's shift, judged against that group's earlier shifts."""
    runner: str
    label: str            # what the group's cases share (the knobs its rows differ by left out)
    ratio: float
    outcome: str          # slower / faster / not significant
    cases: int
    history: int
    p_value: float | None = None  # compare (one run a side): the t test over the group's process levels


@dataclass
class Comparison:
    base: str
    candidate: str
    changes: list[CaseChange] = field(default_factory=list)
    unmatched: int = 0
    code_changed: int = 0  # joined cases whose model or runner code differs between the two sides
    notes: list[str] = field(default_factory=list)
    shifts: list[RunShift] = field(default_factory=list)  # regress: the run-wide level, per runner
    group_shifts: list[GroupShift] = field(default_factory=list)  # groups beyond their run's shift

    @property
    def shifted(self) -> list:
        """Run and group shifts slower beyond the history of such shifts (a regression of a whole run, or of
        every case of one group)."""
        return [s for s in [*self.shifts, *self.group_shifts] if s.outcome == "slower"]

    @property
    def regressions(self) -> list[CaseChange]:
        return [c for c in self.changes if c.outcome == "slower"]

    @property
    def geomean_ratio(self) -> float:
        r = [c.ratio for c in self.changes]
        return float(math.exp(np.mean(np.log(r)))) if r else math.nan


def check_comparable(base_env: dict, cand_env: dict, force: bool) -> None:
    """Refuse to compare runs from different machines or library versions unless forced."""
    problems = []
    if base_env.get("machine_id") != cand_env.get("machine_id"):
        problems.append(f"machines differ ({base_env.get('cpu_model')} / {base_env.get('hostname')} vs "
                        f"{cand_env.get('cpu_model')} / {cand_env.get('hostname')})")
    bl, cl = base_env.get("libraries", {}), cand_env.get("libraries", {})
    diff = sorted(k for k in set(bl) | set(cl) if bl.get(k) != cl.get(k))
    if diff:
        problems.append("library versions differ: " + ", ".join(f"{k} {bl.get(k)} -> {cl.get(k)}" for k in diff))
    if problems and not force:
        raise BenchsuiteError("runs are not comparable: " + "; ".join(problems) + " (use --force to compare anyway)")


def env_differences(base_env: dict, cand_env: dict) -> list[str]:
    """What differs between two runs' environments (CPU, governor, libraries, commit, OS, host, malloc), as text."""
    out = []
    for key in ("cpu_model", "governor", "git_commit", "os", "python", "hostname", "logical_cores", "malloc"):
        if base_env.get(key) != cand_env.get(key):
            out.append(f"{key} {base_env.get(key)} -> {cand_env.get(key)}")
    bl, cl = base_env.get("libraries", {}), cand_env.get("libraries", {})
    out += [f"{k} {bl.get(k)} -> {cl.get(k)}" for k in sorted(set(bl) | set(cl)) if bl.get(k) != cl.get(k)]
    return out


CANARIES = {"ceiling_flops": "GEMM peak", "ceiling_bandwidth": "memory bandwidth"}  # higher is faster


def _canaries(cand: Run, earlier: list, runner: str) -> dict[str, float]:
    """The candidate's device ceilings (the runner's GEMM peak, the memory bandwidth) over the geometric mean
    of the earlier runs' same ceilings (same metric, runner and threads), where at least one earlier run has it."""
    def ceilings(run) -> dict:
        return {(r["metric"], r["runner"], r["threads"]): r["value"] for r in run.records
                if r["metric"] in CANARIES and r["status"] == "ok" and r.get("value") and r["runner"] in ("", runner)}
    past: dict[tuple, list] = {}
    for base in earlier:
        for k, v in ceilings(base).items():
            past.setdefault(k, []).append(math.log(v))
    return {f"{CANARIES[m]}{f' via {r}' if r else ''} t{t}": v / math.exp(float(np.mean(past[(m, r, t)])))
            for (m, r, t), v in sorted(ceilings(cand).items(), key=str) if (m, r, t) in past}


def _label(r: dict) -> str:
    knobs = ",".join(f"{k}={v}" for k, v in {**r["params"], **r["tags"]}.items())
    return f"{r['model']}({knobs}) b{r['batch_size']} r{r['resolution']} {r['runner']} t{r['threads']} {r['metric']}"


def _group_label(records: list[dict]) -> str:
    """A group named by what its cases share: the knobs its rows differ by left out."""
    r = records[0]
    knobs = {**r["params"], **r["tags"]}
    shared = ",".join(f"{k}={v}" for k, v in knobs.items() if all({**o["params"], **o["tags"]}.get(k) == v
                                                                  for o in records))
    models = "/".join(dict.fromkeys(o["model"] for o in records))
    return f"{models}({shared}) b{r['batch_size']} r{r['resolution']} t{r['threads']} {r['metric']}"


def classify(base, cand, alpha: float = ALPHA, min_effect: float | None = None) -> tuple[float, float, str, str]:
    """(candidate/base median ratio, p-value, outcome, method) from two sample sets (flat, or per process)."""
    gb, gc = processes(base), processes(cand)
    ratio = float(np.median(pooled(cand)) / np.median(pooled(base)))
    if len(gb) >= MIN_PROCESSES and len(gc) >= MIN_PROCESSES:
        mb, mc = np.log([np.median(g) for g in gb]), np.log([np.median(g) for g in gc])
        p = float(sps.ttest_ind(mc, mb, equal_var=False).pvalue)
        effect, method = MIN_EFFECT if min_effect is None else min_effect, "process medians"
    else:
        p = float(sps.mannwhitneyu(pooled(cand), pooled(base), alternative="two-sided").pvalue)
        effect, method = MIN_EFFECT_ONE_PROCESS if min_effect is None else min_effect, "one process"
    if not p < alpha:  # NaN (identical medians) included
        return ratio, p, "not significant", method
    if ratio > 1 + effect:
        return ratio, p, "slower", method
    if ratio < 1 / (1 + effect):
        return ratio, p, "faster", method
    return ratio, p, "not significant", method


def _scale(samples, factor: float):
    """Samples (flat, or per process) times a factor."""
    return [_scale(x, factor) if isinstance(x, (list, tuple, np.ndarray)) else x * factor for x in samples]


def _timed(records: list[dict]) -> dict:
    """The workload's timed cases. Device ceilings (cases tagged `calibration`: the GEMM probe's latency)
    are not among them: they are the canaries regress shows beside a run's shift, not cases to regress."""
    return {(r["case_id"], r["metric"]): r for r in records if r["status"] == "ok" and r["metric"] in TIMING_METRICS
            and "calibration" not in (r.get("tags") or {})}


def _code_changed(base: dict, cand: dict) -> int:
    return sum(1 for k in set(base) & set(cand) if base[k].get("fingerprint") and cand[k].get("fingerprint")
               and base[k]["fingerprint"] != cand[k]["fingerprint"])


def _pair_shifts(base: dict, base_samples: dict, cand: dict, cand_samples: dict, keys: list) -> dict[str, tuple]:
    """runner -> (log shift, cases) of the candidate against the base: the median over the runner's joined
    cases of the log change of their levels (round_levels.py), for runners with at least MIN_CASES of them."""
    lb = case_levels([base[k] for k in keys], base_samples)[0]
    lc = case_levels([cand[k] for k in keys], cand_samples)[0]
    by_runner: dict[str, list] = {}
    for k in keys:
        by_runner.setdefault(cand[k]["runner"], []).append(math.log(lc[k] / lb[k]))
    return {runner: (float(np.median(v)), len(v)) for runner, v in by_runner.items() if len(v) >= MIN_CASES}


def _in_group(base: dict, base_samples: dict, cand: dict, cand_samples: dict, keys: list) -> dict:
    """key -> (its places per process on the base side, on the candidate side, the other cases' changes of
    place) for the cases whose group (the same cases on both sides) was timed whole in MIN_PROCESSES or more
    processes a side. A case's place (round_levels.py) moves with round-by-round noise only (a between-process
    sd of 0.5-0.8% on this project's default runs, where a case's median moves 2-2.7% with its process's
    state)."""
    pb = process_places([base[k] for k in keys], base_samples)
    pc = process_places([cand[k] for k in keys], cand_samples)
    both = {k: (pb[k][1], pc[k][1]) for k in pb if k in pc and pb[k][0] == pc[k][0]
            and len(pb[k][1]) >= MIN_PROCESSES and len(pc[k][1]) >= MIN_PROCESSES}
    change = {k: float(np.mean(c) - np.mean(b)) for k, (b, c) in both.items()}
    return {k: (b, c, [change[j] for j in pb[k][0] if j != k and j in change]) for k, (b, c) in both.items()}


def _beyond_group(b, c, others: list, alpha: float, min_effect: float | None) -> tuple[float, float, str]:
    """(the case's change against the others of its group as a ratio, p-value, outcome): significant when its
    place moved (t test over processes, log scale; both sides' places have the same round-by-round noise, so
    their variances are pooled: Welch's degrees of freedom fall towards 2 with three processes a side), and
    beyond the floor when its change of place less the median of the other cases' is. A case alone slower by
    10% in a group of four moves its own place by 7.5% and the others' by -2.5%: it reads 10%, they read 0%
    (in a group of three they read -5%; in a group of two the pair mirror each other)."""
    p = float(sps.ttest_ind(c, b).pvalue)
    beyond = math.exp(float(np.mean(c) - np.mean(b)) - (float(np.median(others)) if others else 0.0))
    effect = MIN_EFFECT if min_effect is None else min_effect
    if not p < alpha:
        return beyond, p, "not significant"
    return beyond, p, "slower" if beyond > 1 + effect else "faster" if beyond < 1 / (1 + effect) else "not significant"


def _group_shifts(base: dict, base_samples: dict, cand: dict, cand_samples: dict, keys: list, shift_of: dict,
                  alpha: float, min_effect: float | None) -> list[GroupShift]:
    """Each comparison group's change beyond its runner's shift (one run a side: history 0): its level in each
    process (the mean log median of its cases there), candidate against base by Welch's t test, for groups of
    two or more cases timed whole in MIN_PROCESSES or more processes a side. A change of every case of one
    group moves no place: it shows here."""
    def levels(side: dict, samples: dict, members: list) -> list[float]:
        per_case = [processes(samples[sample_key(side[k])]) for k in members]
        shared = min(len(pp) for pp in per_case)
        return [float(np.mean([math.log(np.median(pp[p])) for pp in per_case])) for p in range(shared)]

    groups: dict[tuple, list] = {}
    for k in keys:
        if base[k].get("group_id") and base[k].get("group_id") == cand[k].get("group_id"):
            groups.setdefault((cand[k]["runner"], cand[k]["group_id"], k[1]), []).append(k)
    effect = MIN_EFFECT if min_effect is None else min_effect
    out = []
    for (runner, _, _), members in sorted(groups.items()):
        if len(members) < 2 or runner not in shift_of:
            continue
        lb, lc = levels(base, base_samples, members), levels(cand, cand_samples, members)
        if len(lb) < MIN_PROCESSES or len(lc) < MIN_PROCESSES:
            continue
        shift = shift_of[runner][0]
        p = float(sps.ttest_ind(np.subtract(lc, shift), lb, equal_var=False).pvalue)
        ratio = math.exp(float(np.mean(lc) - np.mean(lb)) - shift)
        outcome = "not significant" if not p < alpha else \
            "slower" if ratio > 1 + effect else "faster" if ratio < 1 / (1 + effect) else "not significant"
        out.append(GroupShift(runner, _group_label([cand[k] for k in members]), ratio, outcome, len(members), 0, p))
    return out


def compare(base_records: list[dict], base_samples: dict, cand_records: list[dict], cand_samples: dict,
            base_name: str, cand_name: str, alpha: float = ALPHA, min_effect: float | None = None,
            shifts: bool = True) -> Comparison:
    """Samples are keyed by SampleKey (run_id, case_id, metric): flat lists, or per-process lists. With
    `shifts`, each runner's shift (the median change of its cases, MIN_CASES or more) is reported apart and
    each case is judged on its change beyond it: a whole run that moved reads as one shift, not as every
    case's regression. With one run a side the shift cannot be judged against the spread of runs: it counts
    as slower (or faster) when beyond the floor of the cases' method."""
    base, cand = _timed(base_records), _timed(cand_records)
    out = Comparison(base_name, cand_name, unmatched=len(set(base) ^ set(cand)))
    out.code_changed = _code_changed(base, cand)
    keys = []
    for key in sorted(set(base) & set(cand)):
        if not base_samples.get(sample_key(base[key])) or not cand_samples.get(sample_key(cand[key])):
            out.unmatched += 1
        else:
            keys.append(key)
    shift_of = _pair_shifts(base, base_samples, cand, cand_samples, keys) if shifts else {}
    in_group = _in_group(base, base_samples, cand, cand_samples, keys) if shifts else {}
    for key in keys:
        b, c = base_samples[sample_key(base[key])], cand_samples[sample_key(cand[key])]
        shift, _ = shift_of.get(cand[key]["runner"], (None, 0))
        if shift is None:
            ratio, p, outcome, method = classify(b, c, alpha, min_effect)
            beyond = None
        elif key in in_group:
            ratio = float(np.median(pooled(c)) / np.median(pooled(b)))
            beyond, p, outcome = _beyond_group(*in_group[key], alpha, min_effect)
            method = "its place in its group against the others', process by process"
        else:
            factor = math.exp(shift)
            beyond, p, outcome, method = classify(b, _scale(c, 1 / factor), alpha, min_effect)
            ratio = beyond * factor
            method += ", beyond the run's shift"
        out.changes.append(CaseChange(key[0], key[1], _label(cand[key]), float(np.median(pooled(b))),
                                      float(np.median(pooled(c))), ratio, p, outcome, method, beyond))
    out.group_shifts = _group_shifts(base, base_samples, cand, cand_samples, keys, shift_of, alpha, min_effect)
    for runner, (shift, n) in sorted(shift_of.items()):
        methods = [c.method for c in out.changes if cand[(c.case_id, c.metric)]["runner"] == runner]
        one = sum(m.startswith("one process") for m in methods) * 2 > len(methods)
        floor = min_effect if min_effect is not None else (MIN_EFFECT_ONE_PROCESS if one else MIN_EFFECT)
        ratio = math.exp(shift)
        outcome = "slower" if ratio > 1 + floor else "faster" if ratio < 1 / (1 + floor) else "not significant"
        out.shifts.append(RunShift(runner, ratio, outcome, n, 0))
    single = sum(c.method.startswith("one process") for c in out.changes)
    if single:
        floor = MIN_EFFECT_ONE_PROCESS if min_effect is None else min_effect
        out.notes.append(
            f"{single} of {len(out.changes)} cases were measured in fewer than {MIN_PROCESSES} processes on a side: "
            "their samples cannot separate run-to-run noise from an effect, so only changes beyond "
            f"x{1 + floor:.2f} count (run with --processes {MIN_PROCESSES} or more to test on process medians)")
    return out


def format_comparison(cmp: Comparison) -> str:
    lines = [f"base {cmp.base} -> candidate {cmp.candidate}"]
    for s in cmp.shifts:
        what = {"slower": "slower", "faster": "faster"}.get(s.outcome)
        if not s.history:  # compare: one run a side
            moved = f"{abs(s.ratio - 1) * 100:.1f}% {'slower' if s.ratio > 1 else 'faster'}"
            why = ("what differs: " + ", ".join(s.differences)) if s.differences else \
                "the environment is the same (machine state or neighbours, or the code)"
            lines.append(f"  run shift: the candidate is x{s.ratio:.3f} ({moved}) over the {s.cases} cases of runner "
                         f"{s.runner}" + (f", beyond the floor: {why}" if what else ", within the floor")
                         + "; one run a side cannot tell the machine's state from a change (regress judges a "
                         "shift against the history's); cases are judged beyond it")
        elif what:
            why = ("; what differs from the last run: " + ", ".join(s.differences)) if s.differences else \
                "; the environment is the same as the last run's (machine state or neighbours)"
            lines.append(f"  run shift: this run is x{s.ratio:.3f} ({abs(s.ratio - 1) * 100:.1f}% {what}) on every "
                         f"case of runner {s.runner} ({s.cases} cases), beyond the spread of {s.history} earlier "
                         f"runs' shifts{why}")
        else:
            lines.append(f"  run shift: runner {s.runner} x{s.ratio:.3f} over {s.cases} cases, within the spread "
                         f"of {s.history} earlier runs' shifts")
        if s.canaries:
            lines.append("    device ceilings of this run against the earlier runs': " + ", ".join(
                f"{what} x{r:.3f}" for what, r in s.canaries.items()) + " (below 1: the machine itself was slower)")
    for g in cmp.group_shifts:
        if g.outcome in ("slower", "faster") and not g.history:  # compare: one run a side
            lines.append(f"  group shift: the {g.cases} cases of {g.label} ({g.runner}) are x{g.ratio:.3f} "
                         f"({abs(g.ratio - 1) * 100:.1f}% {g.outcome}) beyond the run's shift (t test over the "
                         "group's level in each process)")
        elif g.outcome in ("slower", "faster"):
            lines.append(f"  group shift: the {g.cases} cases of {g.label} ({g.runner}) are x{g.ratio:.3f} "
                         f"({abs(g.ratio - 1) * 100:.1f}% {g.outcome}) beyond the run's shift, beyond the spread of "
                         f"{g.history} earlier runs' shifts of that group")
    quiet = [g for g in cmp.group_shifts if g.outcome not in ("slower", "faster")]
    if quiet and quiet[0].history:
        lines.append(f"  group shifts: {len(quiet)} group(s) within the spread of their earlier shifts")
    elif quiet:  # compare: a group's level carries its processes' state, so say how far the farthest went
        far = max(quiet, key=lambda g: abs(math.log(g.ratio)))
        lines.append(f"  group shifts: {len(quiet)} group(s) not significantly beyond the run's shift (farthest: "
                     f"{far.label} ({far.runner}) x{far.ratio:.3f}, p={far.p_value:.2g}; a group's level moves with "
                     "its processes' state)")
    for c in cmp.changes:
        p = f"p={c.p_value:.2g}" if c.p_value is not None else "history"
        whose = ("the others of its group" if "in its group" in c.method else
                 "the run's shift and its group's" if "its group's" in c.method else "the run's shift")
        beyond = f" (x{c.beyond_shift:.3f} beyond {whose})" if c.beyond_shift is not None else ""
        lines.append(f"  {c.outcome:16s} x{c.ratio:.3f}  {p:9s} {c.base_median * 1e3:.4g} -> "
                     f"{c.cand_median * 1e3:.4g} ms  {c.label}{beyond}")
    n_slow = len(cmp.regressions)
    n_fast = sum(c.outcome == "faster" for c in cmp.changes)
    lines.append(f"{len(cmp.changes)} cases: {n_slow} slower, {n_fast} faster, "
                 f"{len(cmp.changes) - n_slow - n_fast} not significant; geometric mean ratio "
                 f"x{cmp.geomean_ratio:.3f}" + (f"; {cmp.unmatched} without a counterpart" if cmp.unmatched else ""))
    lines += [f"note: {n}" for n in cmp.notes]
    if cmp.code_changed:
        lines.append(f"warning: {cmp.code_changed} case(s) ran different model or runner code (their fingerprints "
                     "differ): a change there may be the code's, not the machine's")
    return "\n".join(lines)


def regress(history, workload: str, device: str, window: int = 5, force: bool = False,
            alpha: float = ALPHA, min_effect: float | None = None) -> Comparison | None:
    """The newest run of (workload, device) against the `window` comparable runs before it: per case, its
    median against the prediction interval of their medians (>= 3 of them), else against their pooled
    samples. None when there is no earlier comparable run."""
    runs = [r for r in history.runs(workload=workload, device=device) if r["status"] == "complete"]
    if len(runs) < 2:
        return None
    cand = Run.load(runs[-1]["run_id"], history)
    earlier, used = [], []
    for r in reversed(runs[:-1]):
        if len(used) == window:
            break
        base = Run.load(r["run_id"], history)
        try:
            check_comparable(base.environment, cand.environment, force)
        except BenchsuiteError:
            continue
        used.append(base.name)
        earlier.append(base)
    if not used:
        return None
    name = f"{len(used)} earlier runs ({used[-1]} .. {used[0]})"
    cand_timed = _timed(cand.records)
    medians: dict[tuple, list[float]] = {}
    for base in earlier:
        for key, rec in _timed(base.records).items():
            medians.setdefault(key, []).append(rec["value"])
    spread = {k for k, v in medians.items() if len(v) >= MIN_HISTORY and k in cand_timed}
    effect = MIN_EFFECT if min_effect is None else min_effect
    out = Comparison(name, cand.name, unmatched=len(set(medians) ^ set(cand_timed)))
    # each run's case levels: its group's level and its round-by-round place in the group (round_levels.py)
    per_run = [case_levels(list(_timed(base.records).values()), base.samples)[0] for base in earlier]
    cand_levels, placed = case_levels(list(cand_timed.values()), cand.samples)
    by_runner: dict[str, list] = {}
    for key in sorted(spread):
        by_runner.setdefault(cand_timed[key]["runner"], []).append(key)
    for runner, keys in sorted(by_runner.items()):
        group_of = {k: (cand_timed[k].get("group_id"), k[1]) if cand_timed[k].get("group_id") else None
                    for k in keys}
        parts = split([{k: run[k] for k in keys if k in run} for run in per_run],
                      {k: cand_levels[k] for k in keys}, group_of)
        if parts is not None:
            shift_outcome, shift_ratio = judge_shift(parts, alpha, effect)
            out.shifts.append(RunShift(runner, shift_ratio, shift_outcome, len(keys), len(parts.history_shifts),
                                       env_differences(earlier[0].environment, cand.environment),
                                       _canaries(cand, earlier, runner)))
            for group in sorted(parts.group_shifts, key=str):
                judged = judge_group(parts, group, alpha, effect)
                if judged is not None:
                    members = [cand_timed[k] for k in keys if group_of[k] == group]
                    out.group_shifts.append(GroupShift(runner, _group_label(members), judged[1], judged[0],
                                                       len(members), len(parts.history_group_shifts[group])))
        for key in keys:
            rec = cand_timed[key]
            gmean = float(np.exp(np.mean(np.log(medians[key]))))
            if parts is None:  # too few cases of this runner to tell a shift: the case on its own
                outcome, ratio = prediction_outcome(medians[key], rec["value"], alpha, effect)
                method, beyond = f"history of {len(medians[key])} run medians", None
            else:
                outcome, beyond = judge_residual(parts, key, alpha, effect)
                ratio = rec["value"] / gmean
                grouped = (" and its group's" + (" (its place in the group judged round by round)"
                                                 if key in placed else "")
                           if group_of[key] in parts.group_shifts else "")
                method = (f"beyond the run's shift{grouped}, against the history of "
                          f"{len(parts.history_residuals[key])} runs")
            out.changes.append(CaseChange(key[0], key[1], _label(rec), gmean, rec["value"], ratio, None, outcome,
                                          method, beyond))
    rest = set(medians) & set(cand_timed) - spread
    if rest:  # too short a history for a spread: the pooled samples, with the one-process floor
        pooled_records: dict = {}
        pooled_samples: dict = {}
        for base in earlier:
            for rec in base.records:
                key = (rec["case_id"], rec["metric"])
                if key in rest and base.samples_of(rec):
                    first = pooled_records.setdefault(key, rec)  # the pooled samples go under its key
                    pooled_samples.setdefault(sample_key(first), []).extend(processes(base.samples_of(rec)))
        fallback = compare(list(pooled_records.values()), pooled_samples,
                           [cand_timed[k] for k in rest], cand.samples, name, cand.name, alpha, min_effect,
                           shifts=False)
        out.changes += fallback.changes
        out.notes.append(f"{len(fallback.changes)} cases have fewer than {MIN_HISTORY} earlier runs: judged on "
                         "pooled samples instead of the spread of run medians")
        out.notes += fallback.notes
    out.code_changed = _code_changed({k: v for b in earlier for k, v in _timed(b.records).items()}, cand_timed)
    return out
