"""Statistics whose unit of replication is the process, not the sample.

Samples taken inside one worker process share its state (placement, allocator, frequency, what else the
machine was doing then); on a shared machine that run-level variation is larger than the scatter
between samples. So every interval here resamples processes first and samples within them (a
hierarchical bootstrap), and regressions are judged against the spread of run medians in the history.
A series measured in one process can only say how noisy that process was: `covers` says which.

Samples arrive either as one flat list (one process) or as a list of per-process lists.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

BOOTSTRAP = 2000
MARGIN = 0.02       # practical-equivalence margin of a ratio: within x1.02 either way is "the same"
CONFIDENCE = 0.95   # of a verdict's intervals, unless a sequential design spent its alpha over looks


def processes(samples) -> list[np.ndarray]:
    """Per-process sample arrays from a flat list (one process) or a list of lists."""
    if samples is None or len(samples) == 0:
        return []
    if isinstance(samples[0], (list, tuple, np.ndarray)):
        return [np.asarray(s, float) for s in samples if len(s)]
    return [np.asarray(samples, float)]


def pooled(samples) -> np.ndarray:
    parts = processes(samples)
    return np.concatenate(parts) if parts else np.asarray([], float)


def covers(samples) -> str:
    """What an interval from these samples reflects."""
    n = len(processes(samples))
    return (f"between-process and within-process variation ({n} processes)" if n > 1 else
            "within-process noise only (one process): run-to-run variation is not in it")


def _resampled_medians(groups: list[np.ndarray], picks: np.ndarray, rng) -> np.ndarray:
    """For each row of `picks` (process indices), the median of those processes' resampled samples."""
    sizes = {len(g) for g in groups}
    if len(sizes) == 1:  # equal sizes: one gather for all bootstrap rounds
        n = sizes.pop()
        stacked = np.stack(groups)                                        # (k, n)
        within = rng.integers(0, n, (*picks.shape, n))                   # (B, k', n)
        return np.median(stacked[picks[..., None], within].reshape(len(picks), -1), axis=1)
    out = np.empty(len(picks))
    for b, row in enumerate(picks):
        out[b] = np.median(np.concatenate([groups[i][rng.integers(0, len(groups[i]), len(groups[i]))]
                                           for i in row]))
    return out


def _picks(k: int, rng, n: int = BOOTSTRAP) -> np.ndarray:
    # one process: nothing to resample between processes
    return np.zeros((n, 1), int) if k == 1 else rng.integers(0, k, (n, k))


def _t_interval(logs: np.ndarray, conf: float) -> tuple[float, float]:
    """exp of the t interval of the mean of per-process log values (k - 1 degrees of freedom)."""
    half = float(sps.t.ppf(0.5 + conf / 2, len(logs) - 1)) * float(logs.std(ddof=1)) / math.sqrt(len(logs))
    return math.exp(float(logs.mean()) - half), math.exp(float(logs.mean()) + half)


def _widened(lo: float, hi: float, logs: np.ndarray, conf: float) -> tuple[float, float]:
    """The percentile bootstrap over few processes is too narrow (coverage of a 95% interval measured at
    74% with 3 processes, 91% with 5, 90-93% with 10; tests/test_replicates.py): the interval is widened
    to the t interval on the log process medians wherever that one is wider."""
    if len(logs) > 1:
        t_lo, t_hi = _t_interval(logs, conf)
        return min(lo, t_lo), max(hi, t_hi)
    return lo, hi


def median_interval(samples, rng, conf: float = 0.95) -> tuple[float, float, float]:
    """(pooled median, low, high): hierarchical bootstrap percentile interval (widened for few processes)."""
    groups = processes(samples)
    meds = _resampled_medians(groups, _picks(len(groups), rng), rng)
    lo, hi = np.percentile(meds, [50 * (1 - conf), 50 * (1 + conf)])
    lo, hi = _widened(float(lo), float(hi), np.log([np.median(g) for g in groups]), conf)
    return float(np.median(pooled(samples))), lo, hi


def round_ratios(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Log ratios a_i / b_i of two series interleaved in one worker process, round by round: sample i of
    every series of a group was taken in round i (measure.measure_interleaved), within milliseconds of
    each other, so whatever the machine did in that round cancels. A series that stopped early pairs
    with the other's first rounds only."""
    n = min(len(a), len(b))
    return np.log(a[:n]) - np.log(b[:n])


def _paired_in_rounds(ga: list[np.ndarray], gb: list[np.ndarray], rng, conf: float) -> tuple[float, float, float]:
    """Each process's median round ratio, then a t interval over processes (k - 1 degrees of freedom); from
    one process, a bootstrap of its rounds (within-process noise only, as `covers` says)."""
    per = [round_ratios(x, y) for x, y in zip(ga, gb)]
    centres = np.array([np.median(p) for p in per])
    if len(per) > 1:
        lo, hi = _t_interval(centres, conf)
        return math.exp(float(centres.mean())), lo, hi
    (p,) = per
    meds = np.median(p[rng.integers(0, len(p), (BOOTSTRAP, len(p)))], axis=1)
    lo, hi = np.percentile(meds, [50 * (1 - conf), 50 * (1 + conf)])
    return math.exp(float(centres[0])), math.exp(float(lo)), math.exp(float(hi))


def ratio_interval(a, b, rng, conf: float = 0.95, rounds: bool = False) -> tuple[float, float, float]:
    """Ratio a/b and its interval. `rounds`: a and b are rows of one comparison group measured in the same
    worker processes (the same run, the same group; paired over the first processes of each), interleaved
    round by round; the ratio is then judged round by round (round_ratios), which cancels the machine's
    drift within a process as well as between processes. Measured on this project's 2-core machine (G1's eager forward
    rows, 6-7 processes each): the between-process sd of the 22:44 / 32:32 ratio is 0.7-2.2% this way and
    3.1-5.5% as the ratio of the two processes' medians. Otherwise (rows of different groups or runs)
    the median ratio of the hierarchical bootstrap; with as many processes each, they are resampled
    jointly, so that drift shared by both rows cancels as it does in the measurement."""
    ga, gb = processes(a), processes(b)
    if rounds and ga and gb:  # over the processes both took part in: the first of each (studies.base.same_processes)
        k = min(len(ga), len(gb))
        return _paired_in_rounds(ga[:k], gb[:k], rng, conf)
    paired = len(ga) == len(gb)
    if paired:
        picks = _picks(len(ga), rng)
        ra, rb = _resampled_medians(ga, picks, rng), _resampled_medians(gb, picks, rng)
    else:
        ra = _resampled_medians(ga, _picks(len(ga), rng), rng)
        rb = _resampled_medians(gb, _picks(len(gb), rng), rng)
    lo, hi = np.percentile(ra / rb, [50 * (1 - conf), 50 * (1 + conf)])
    lo, hi = float(lo), float(hi)
    if paired:
        lo, hi = _widened(lo, hi, np.log([np.median(x) / np.median(y) for x, y in zip(ga, gb)]), conf)
    return float(np.median(pooled(a)) / np.median(pooled(b))), lo, hi


def equivalence(lo: float, hi: float, margin: float = MARGIN) -> str:
    """A ratio interval against a margin (symmetric in log space): `slower`/`faster` only when wholly
    beyond it, `same` when wholly inside it (an equivalence test), else `unresolved`."""
    up, down = 1 + margin, 1 / (1 + margin)
    if lo > up:
        return "slower"
    if hi < down:
        return "faster"
    if lo >= down and hi <= up:
        return "same"
    return "unresolved"


def one_sided(lo: float, hi: float, margin: float = MARGIN) -> str:
    """`equivalence`, and where that is unresolved only because the interval straddles one edge of the
    margin: `slower or same` (it lies wholly above the lower edge: the ratio is not faster beyond the
    margin) or `faster or same` (wholly below the upper edge). Each is a one-sided test from the same
    interval, so its error rate is at most that of the interval's level."""
    two = equivalence(lo, hi, margin)
    if two != "unresolved":
        return two
    up, down = 1 + margin, 1 / (1 + margin)
    if lo >= down:
        return "slower or same"
    if hi <= up:
        return "faster or same"
    return "unresolved"


def processes_to_decide(lo: float, hi: float, processes: int, margin: float = MARGIN,
                        conf: float | None = None) -> float:
    """How many processes an unresolved ratio interval [lo, hi] from `processes` processes would need to
    lie wholly on one side of a margin edge, at the spread measured. With `conf` (the interval's level)
    the interval is taken as a t interval over processes: the spread is recovered from its half-width and
    k - 1 degrees of freedom, and both the root of the process count and the t quantile shrink as
    processes are added (at 3 processes and 98.3%, t is 7.6; at 8, 3.2). Without it the half-width
    shrinks as one over the root of the process count alone, which overstates the count from few
    processes. inf when its centre sits on an edge."""
    centre, half = (math.log(lo) + math.log(hi)) / 2, (math.log(hi) - math.log(lo)) / 2
    edge = math.log(1 + margin)
    gap = min(abs(centre - edge), abs(centre + edge))
    if gap < 1e-12:
        return math.inf
    if half <= gap:
        return float(processes)
    if conf is None or processes < 2:
        return processes * (half / gap) ** 2
    q = lambda n: float(sps.t.ppf(0.5 + conf / 2, n - 1))  # noqa: E731
    spread = half * math.sqrt(processes) / q(processes)
    n = processes
    while q(n) * spread / math.sqrt(n) > gap:  # the half-width falls below the gap within (t_inf s / gap)^2
        n = n + 1 if n < 64 else math.ceil(n * 1.05)
    return float(n)


def prediction_outcome(history_medians, new_median: float, alpha: float, min_effect: float) -> tuple[str, float]:
    """Is a run's median beyond what the earlier runs' medians predict? Log medians are taken as normal
    with the history's mean and spread; the new one is `slower` when it lies above the one-sided
    (1 - alpha) prediction limit AND above the mean by more than `min_effect` (and `faster` mirrored).
    With normal run-to-run noise the false-alarm rate per case is at most alpha per direction.
    Returns (outcome, the ratio to the history's geometric mean)."""
    x = np.log(np.asarray(history_medians, float))
    y = math.log(new_median)
    mean = float(x.mean())
    ratio = math.exp(y - mean)
    if len(x) < 3:
        raise ValueError("a prediction interval needs at least 3 earlier runs")
    half = float(sps.t.ppf(1 - alpha, len(x) - 1)) * float(x.std(ddof=1)) * math.sqrt(1 + 1 / len(x))
    floor = math.log(1 + min_effect)
    if y - mean > max(half, floor):
        return "slower", ratio
    if mean - y > max(half, floor):
        return "faster", ratio
    return "not significant", ratio
