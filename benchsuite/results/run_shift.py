"""Two levels of run-to-run change: a shift shared by every case of a runner in a run, and each case's own
change beyond it.

On a shared machine whole runs move together (the machine's state, its neighbours, the environment): every
case of a runner in a run is slower or faster by about the same factor. Judged one by one against their own
history, the cases then report one machine-wide shift as many regressions. Here, for the cases of one runner:

- each case's log median is centred on the mean of its history's log medians;
- a run's **shift** is the median of those deviations over the run's cases (robust to a few cases that
  really changed);
- a case's **residual** is its deviation less its run's shift.

The candidate's shift is judged against the history of shifts, and each case's residual against the history
of its residuals, both with the history rule of `replicates.prediction_outcome` (a one-sided t prediction
limit on the log scale AND a minimum effect). Each level so keeps its own false-alarm rate, at most alpha per
direction: once per runner and run for the shift, once per case for the residuals. The unit of replication
is the run: the history's values are one per earlier run.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..replicates import prediction_outcome

MIN_CASES = 3  # fewer cases than this give no shift worth the name: the cases are judged on their own


@dataclass(frozen=True)
class Split:
    """The shifts and residuals of the history's runs and of the candidate, for one runner's cases."""
    history_shifts: list[float]            # log shift of each earlier run
    shift: float                           # log shift of the candidate
    history_residuals: dict[tuple, list]   # case key -> log residual in each earlier run that has it
    residuals: dict[tuple, float]          # case key -> the candidate's log residual


def split(history: list[dict[tuple, float]], candidate: dict[tuple, float]) -> Split | None:
    """history: one {case key: median} per earlier run; candidate: the new run's. Keys: the cases of one
    runner that the candidate has and that enough earlier runs have (the caller chooses them). None when
    fewer than MIN_CASES cases are shared."""
    keys = sorted(candidate)
    if len(keys) < MIN_CASES:
        return None
    logs = [{k: math.log(run[k]) for k in keys if k in run} for run in history]
    centre = {k: float(np.mean([run[k] for run in logs if k in run])) for k in keys}

    def shift_of(run: dict) -> float:
        return float(np.median([v - centre[k] for k, v in run.items()]))

    history_shifts = [shift_of(run) for run in logs if run]
    cand = {k: math.log(candidate[k]) for k in keys}
    shift = shift_of(cand)
    history_residuals = {k: [run[k] - centre[k] - s for run, s in zip((r for r in logs if r), history_shifts)
                             if k in run] for k in keys}
    return Split(history_shifts, shift, history_residuals, {k: cand[k] - centre[k] - shift for k in keys})


def judge_shift(s: Split, alpha: float, min_effect: float) -> tuple[str, float]:
    """(slower / faster / not significant, the candidate's shift as a ratio) against the history of shifts."""
    outcome, _ = prediction_outcome(np.exp(s.history_shifts), math.exp(s.shift), alpha, min_effect)
    return outcome, math.exp(s.shift)


def judge_residual(s: Split, key: tuple, alpha: float, min_effect: float) -> tuple[str, float]:
    """(outcome, the case's change beyond the run's shift as a ratio) against the history of its residuals."""
    outcome, ratio = prediction_outcome(np.exp(s.history_residuals[key]), math.exp(s.residuals[key]), alpha,
                                        min_effect)
    return outcome, ratio
