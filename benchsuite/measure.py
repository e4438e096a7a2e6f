"""Measurement engine: warm-up, calibration, adaptive interleaved repetition, statistics.

A *series* is one (case, metric) pair. A sample of a series is the mean time of `number`
back-to-back calls, `number` calibrated so a sample lasts at least `min_sample_s` (far above
timer resolution and loop overhead). Series of one comparison group are sampled round-robin,
in a fresh random order each round, so drift of a shared machine hits all of them alike. Sample i of
every series is taken in round i (a series that stops drops out; none skips a round): rows of a group
are judged round by round on that alignment (replicates.round_ratios).
Sampling stops when the 95% CI of the median is within `target_precision` of it, or at
`max_samples`, or when the series has used `max_time_s`. With `place_precision`, the series of one
comparison group and metric are judged by their places among each other instead (what the studies judge
rows by: replicates.round_ratios; what regress judges cases by: results/round_levels.py), and stop together
once every place is known to that precision: a shared machine's bursts widen every median's interval but
cancel from the places, so the series stop when what is asked of them is known, not at their time budget.
"""
from __future__ import annotations

import functools
import math
import random
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import special

clock = time.perf_counter


@dataclass(frozen=True)
class Timing:
    """How hard the measurement engine works for one (case, metric) series."""
    warmup_s: float = 0.2          # warm-up time before calibration
    min_sample_s: float = 0.02     # the inner loop is calibrated so one sample lasts at least this
    target_precision: float = 0.01  # stop when the 95% CI of the median is within +-1% of it
    min_samples: int = 10
    max_samples: int = 2000
    max_time_s: float = 10.0       # time budget per series; the CI is reported as reached
    case_timeout_s: float = 300.0  # a case whose work stands still this long is killed, recorded as an error
    prepare_timeout_s: float = 1800.0  # the same for one step of a start or a preparation (imports, exports,
    #                                    compiles, tunes: single calls that no heartbeat count can split)
    processes: int = 1             # worker processes per comparison group: the replicates of a run
    max_processes: int = 1         # above `processes`: measure undecided groups further, up to this (sequential.py)
    group_budget_s: float = 86400.0  # a group gets no further process once its processes would take longer
    run_budget_s: float = 86400.0    # no further process for any group once the run has taken this long
    # above 0: the series of one comparison group and metric stop together once every one's place among them
    # (its log sample less the round's mean over them) is known to +-this (95% CI of its median over the
    # rounds); 0: each series stops on its own median's precision (`target_precision`)
    place_precision: float = 0.0


@dataclass
class Timed:
    """What a runner hands the engine for one metric.

    `run` is the timed region. `setup`, if given, runs untimed before every call of `run`
    (e.g. the forward pass that feeds a timed backward). `sync` waits for asynchronous
    device work and is called before the clock is read. `block_timer`, if given, replaces the
    host clock: it times `number` calls itself (CUDA events, a remote board's own timer).
    """
    run: Callable[[], object]
    setup: Callable[[], object] | None = None
    sync: Callable[[], None] = lambda: None
    block_timer: Callable[["Timed", int], float] | None = None


def time_block(t: Timed, number: int) -> float:
    """Seconds per call, averaged over `number` calls."""
    if t.block_timer is not None:
        return t.block_timer(t, number)
    run, setup, sync = t.run, t.setup, t.sync
    if setup is None:
        sync()
        t0 = clock()
        for _ in range(number):
            run()
        sync()
        return (clock() - t0) / number
    total = 0.0
    for _ in range(number):
        setup()
        sync()
        t0 = clock()
        run()
        sync()
        total += clock() - t0
    return total / number


def calibrate(t: Timed, timing: Timing, tick: Callable[[], None] = lambda: None) -> int:
    """Warm up for `warmup_s` (at least 2 calls) and return the inner-loop count. `tick` is called after
    every call (the worker's heartbeat counts work with it)."""
    start = clock()
    calls, per_call = 0, 0.0
    while calls < 2 or clock() - start < timing.warmup_s:
        per_call = time_block(t, 1)
        calls += 1
        tick()
    # the last warm-up call is the best estimate of the steady state
    return max(1, math.ceil(timing.min_sample_s / max(per_call, 1e-9)))


# ---------------------------------------------------------------- statistics

@functools.lru_cache(maxsize=4096)
def _order_statistic(n: int, confidence: float) -> int:
    """[x_(j), x_(n-j+1)] (1-based) covers the median with probability 1 - 2 P(B <= j-1),
    B ~ Binomial(n, 1/2): the largest j that still reaches the confidence (kept: the engine asks after
    every sample)."""
    return int(np.sum(2 * special.bdtr(np.arange(n), n, 0.5) <= 1 - confidence))  # P(B <= k): binomial CDF


def median_ci(samples, confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free CI of the median from order statistics (binomial).

    With fewer than 6 samples no pair of order statistics reaches 95%: (min, max) is returned.
    """
    x = np.sort(np.asarray(samples, dtype=float))
    n = len(x)
    if n == 0:
        return (math.nan, math.nan)
    if n < 6:
        return (float(x[0]), float(x[-1]))
    j = _order_statistic(n, confidence)
    lo, hi = j - 1, n - j
    return (float(x[lo]), float(x[hi]))


def summarize(samples) -> dict:
    x = np.asarray(samples, dtype=float)
    lo, hi = median_ci(x)
    q1, q3 = np.percentile(x, [25, 75])
    return {"value": float(np.median(x)), "n": int(len(x)), "ci_low": lo, "ci_high": hi,
            "iqr": float(q3 - q1), "min": float(x.min()), "max": float(x.max())}


def relative_halfwidth(samples) -> float:
    lo, hi = median_ci(samples)
    med = float(np.median(samples))
    return (hi - lo) / 2 / med if med > 0 else math.inf


# ---------------------------------------------------------------- adaptive, interleaved

@dataclass
class Series:
    key: tuple            # (case_id, metric)
    timed: Timed
    number: int = 1
    samples: list[float] = field(default_factory=list)
    spent: float = 0.0
    done: bool = False
    reason: str = ""
    error: str = ""  # set if a call raised; the series stops and becomes an error record

    def update(self, timing: Timing, own_median: bool = True) -> None:
        """Done once its median is known to +-target_precision (unless `own_median` is False: a series
        judged by its place in its group stops with the group's), or at max_samples, or its time budget."""
        n = len(self.samples)
        if own_median and n >= timing.min_samples and relative_halfwidth(self.samples) <= timing.target_precision:
            self.done, self.reason = True, "converged"
        elif n >= timing.max_samples:
            self.done, self.reason = True, "max_samples"
        elif self.spent >= timing.max_time_s and n >= min(timing.min_samples, 3):
            self.done, self.reason = True, "time budget"


def place_halfwidths(samples: list[list[float]]) -> list[float]:
    """For series sampled in the same rounds: each one's place among them (its log sample less the round's
    mean log sample, over the rounds all of them have) and the half-width of the 95% CI of its median."""
    n = min(len(x) for x in samples)
    logs = np.log(np.array([x[:n] for x in samples], float))
    places = logs - logs.mean(axis=0)
    return [(hi - lo) / 2 for lo, hi in (median_ci(row) for row in places)]


def _stop_together(members: list[Series], timing: Timing) -> None:
    """A set of series judged by their places: once any of them stops (its time budget, max_samples; an
    error leaves the others going) the rest stop with it, so that every place stands on the same rounds;
    before that, all stop once every place is known to +-place_precision."""
    alive = [s for s in members if not s.error]
    if len(alive) < 2:
        return
    stopped = next((s for s in alive if s.done), None)
    if stopped is not None:
        for s in alive:
            if not s.done:
                s.done, s.reason = True, f"{stopped.reason} (a series of its group)"
        return
    if min(len(s.samples) for s in alive) >= timing.min_samples and \
            max(place_halfwidths([s.samples for s in alive])) <= timing.place_precision:
        for s in alive:
            s.done, s.reason = True, "place converged"


def measure_interleaved(series: list[Series], timing: Timing, *, seed: int = 0,
                        on_round: Callable[[int], None] | None = None,
                        tick: Callable[[], None] = lambda: None,
                        together: list[list[Series]] = ()) -> list[Series]:
    """Calibrate every series, then sample them round-robin until each is done; `tick()` after every
    warm-up call and every sample, outside the timed regions. `together`: sets of series (the rows of one
    comparison group, per metric) that, with `timing.place_precision` above 0, stop on the precision of their
    places among each other rather than each on its own median's (_stop_together)."""
    rng = random.Random(seed)
    sets = [list(m) for m in together if len(m) > 1] if timing.place_precision > 0 else []
    in_set = {id(s) for m in sets for s in m}
    for s in series:
        try:
            s.number = calibrate(s.timed, timing, tick)
        except Exception as e:  # noqa: BLE001
            s.done, s.reason, s.error = True, "error", f"{type(e).__name__}: {e}"
    active = [s for s in series if not s.done]
    rnd = 0
    while active:
        rng.shuffle(active)
        for s in active:
            t0 = clock()
            try:
                s.samples.append(time_block(s.timed, s.number))
            except Exception as e:  # noqa: BLE001 - one failing series must not stop the others
                s.done, s.reason, s.error = True, "error", f"{type(e).__name__}: {e}"
                continue
            s.spent += clock() - t0
            tick()
            s.update(timing, own_median=id(s) not in in_set)
        for members in sets:
            _stop_together(members, timing)
        active = [s for s in active if not s.done]
        rnd += 1
        if on_round:
            on_round(rnd)
    return series


def precision_note(s: Series, timing: Timing) -> str:
    """Empty if the series converged; otherwise an honest word about the precision reached."""
    if s.reason == "converged":
        return ""
    hw = relative_halfwidth(s.samples)
    if s.reason == "place converged":
        return (f"stopped when its place among its group's series was known to +-{timing.place_precision:.1%} "
                f"(95% CI, round by round); its median's own 95% CI is +-{hw:.1%} after {len(s.samples)} samples")
    return (f"stopped at {s.reason}: 95% CI of the median is +-{hw:.1%} "
            f"(target +-{timing.target_precision:.1%}) after {len(s.samples)} samples")
