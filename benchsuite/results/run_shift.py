"""Levels of run-to-run change: a shift shared by every case of a runner in a run, a shift shared by the
cases of one comparison group beyond it, and each case's own change beyond both.

On a shared machine whole runs move together (the machine's state, its neighbours, the environment): every
case of a runner in a run is slower or faster by about the same factor. Judged one by one against their own
history, the cases then report one machine-wide shift as many regressions. Here, for the cases of one runner:

- each case's log median is centred on the mean of its history's log medians;
- a run's **shift** is the median of those deviations over the run's cases (robust to a few cases that
  really changed);
- a **group's shift** is the median of its cases' deviations beyond the run's shift, for groups of at least
  MIN_GROUP cases: a group's cases are measured interleaved in the same worker processes, at one time of
  the run, so what the machine did then moves them together (with one process per group, as in a quick
  nightly, that is most of a case's run-to-run noise);
- a case's **residual** is its deviation less its run's shift and its group's.

The candidate's shift is judged against the history of shifts, each group's shift against the history of
that group's shifts, and each case's residual against the history of its residuals, all with the history
rule of `replicates.prediction_outcome` (a one-sided t prediction limit on the log scale AND a minimum
effect). Each level so keeps its own false-alarm rate, at most alpha per direction: once per runner and run
for the shift, once per group, once per case. The unit of replication is the run: the history's values are
one per earlier run. The price of the group level: a change shared by half or more of a group's cases
is read as the group's shift (and reported as such), not as each case's.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..replicates import prediction_outcome

MIN_CASES = 3  # fewer cases than this give no shift worth the name: the cases are judged on their own
MIN_GROUP = 3  # a group's shift needs this many of its cases in a run (the median of 2 is their mean)


@dataclass(frozen=True)
class Split:
    """The shifts and residuals of the history's runs and of the candidate, for one runner's cases."""
    history_shifts: list[float]            # log shift of each earlier run
    shift: float                           # log shift of the candidate
    history_residuals: dict[tuple, list]   # case key -> log residual in each earlier run that has it
    residuals: dict[tuple, float]          # case key -> the candidate's log residual
    history_group_shifts: dict = field(default_factory=dict)  # group -> its log shift in each earlier run
    group_shifts: dict = field(default_factory=dict)          # group -> the candidate's log group shift


def split(history: list[dict[tuple, float]], candidate: dict[tuple, float],
          groups: dict[tuple, object] | None = None) -> Split | None:
    """history: one {case key: median} per earlier run; candidate: the new run's. Keys: the cases of one
    runner that the candidate has and that enough earlier runs have (the caller chooses them); `groups`:
    case key -> the comparison group it was measured in (none: no group level). None when fewer than
    MIN_CASES cases are shared."""
    keys = sorted(candidate)
    if len(keys) < MIN_CASES:
        return None
    groups = groups or {}
    logs = [{k: math.log(run[k]) for k in keys if k in run} for run in history]
    centre = {k: float(np.mean([run[k] for run in logs if k in run])) for k in keys}

    def levels(run: dict) -> tuple[float, dict, dict]:
        """(run shift, group -> group shift, case -> residual) of one run's log medians."""
        dev = {k: v - centre[k] for k, v in run.items()}
        shift = float(np.median(list(dev.values())))
        members: dict = {}
        for k in dev:
            if groups.get(k) is not None:
                members.setdefault(groups[k], []).append(k)
        gshift = {g: float(np.median([dev[k] - shift for k in ks])) for g, ks in members.items()
                  if len(ks) >= MIN_GROUP}
        return shift, gshift, {k: d - shift - gshift.get(groups.get(k), 0.0) for k, d in dev.items()}

    past = [levels(run) for run in logs if run]
    shift, gshift, residuals = levels({k: math.log(candidate[k]) for k in keys})
    return Split([p[0] for p in past], shift,
                 {k: [p[2][k] for p in past if k in p[2]] for k in keys}, residuals,
                 {g: [p[1][g] for p in past if g in p[1]] for g in gshift}, gshift)


def judge_shift(s: Split, alpha: float, min_effect: float) -> tuple[str, float]:
    """(slower / faster / not significant, the candidate's shift as a ratio) against the history of shifts."""
    outcome, _ = prediction_outcome(np.exp(s.history_shifts), math.exp(s.shift), alpha, min_effect)
    return outcome, math.exp(s.shift)


def judge_residual(s: Split, key: tuple, alpha: float, min_effect: float) -> tuple[str, float]:
    """(outcome, the case's change beyond the run's shift as a ratio) against the history of its residuals."""
    outcome, ratio = prediction_outcome(np.exp(s.history_residuals[key]), math.exp(s.residuals[key]), alpha,
                                        min_effect)
    return outcome, ratio


def judge_group(s: Split, group, alpha: float, min_effect: float) -> tuple[str, float] | None:
    """(outcome, the group's shift beyond the run's as a ratio) against the history of that group's shifts;
    None when the history has fewer than 3 of them."""
    past = s.history_group_shifts.get(group, [])
    if group not in s.group_shifts or len(past) < 3:
        return None
    outcome, _ = prediction_outcome(np.exp(past), math.exp(s.group_shifts[group]), alpha, min_effect)
    return outcome, math.exp(s.group_shifts[group])
