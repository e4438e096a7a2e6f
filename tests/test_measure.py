import math

import numpy as np
import pytest

from benchsuite.measure import Series, Timed, calibrate, measure_interleaved, median_ci, summarize, time_block
from benchsuite.measure import Timing


def test_median_ci_order_statistics():
    x = np.arange(1, 101, dtype=float)  # n=100: the 95% CI is x_(40)..x_(61) (1-based)
    assert median_ci(x) == (40.0, 61.0)
    assert median_ci([3.0, 1.0, 2.0]) == (1.0, 3.0)  # too few samples for 95%: the range


def test_median_ci_coverage():
    rng = np.random.default_rng(0)
    hits = 0
    trials = 2000
    for _ in range(trials):
        lo, hi = median_ci(rng.lognormal(0, 1, 25))  # true median is 1
        hits += lo <= 1.0 <= hi
    assert 0.93 <= hits / trials <= 0.99


def test_summarize_fields():
    s = summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert s["value"] == 3.0 and s["n"] == 5 and s["min"] == 1.0 and s["max"] == 100.0
    assert s["iqr"] == 2.0 and s["ci_low"] <= s["value"] <= s["ci_high"]


class VirtualClock:
    """The engine's clock, advanced only by the code under test: timings that no machine load can change."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def vclock(monkeypatch):
    from benchsuite import measure

    c = VirtualClock()
    monkeypatch.setattr(measure, "clock", c)
    return c


def test_time_block_excludes_setup(vclock):
    t = Timed(run=lambda: vclock.advance(0.002), setup=lambda: vclock.advance(0.01))
    assert time_block(t, 5) == pytest.approx(0.002)


def test_calibrate_reaches_min_sample_time(vclock):
    timing = Timing(warmup_s=0.01, min_sample_s=0.02)
    assert calibrate(Timed(run=lambda: vclock.advance(0.001)), timing) == 20


def test_adaptive_stops_on_precision_or_budget(vclock):
    timing = Timing(warmup_s=0.0, min_sample_s=0.001, target_precision=0.5, min_samples=5, max_time_s=5)
    steady = Series(("a", "m"), Timed(run=lambda: vclock.advance(0.001)))
    measure_interleaved([steady], timing)
    assert steady.reason == "converged" and len(steady.samples) == 5

    rng = np.random.default_rng(1)
    noisy = Series(("b", "m"), Timed(run=lambda: vclock.advance(float(rng.exponential(0.002)))))
    tight = Timing(warmup_s=0.0, min_sample_s=0.0005, target_precision=1e-4, min_samples=5, max_time_s=0.2)
    measure_interleaved([noisy], tight)
    assert noisy.reason == "time budget" and 0.2 <= noisy.spent < 0.25


def test_interleaving_alternates_series():
    order = []
    timing = Timing(warmup_s=0.0, min_sample_s=1e-9, target_precision=1e-9, min_samples=3, max_samples=20)
    series = [Series((k, "m"), Timed(run=lambda k=k: order.append(k))) for k in "abc"]
    measure_interleaved(series, timing)
    calls = order[6:]  # after calibration (2 warm-up calls each)
    # every round holds each series once: no series runs twice before the others ran
    for i in range(0, len(calls), 3):
        assert sorted(calls[i:i + 3]) == ["a", "b", "c"]
    assert all(len(s.samples) == 20 for s in series)


def test_sample_i_of_every_series_is_taken_in_round_i():
    """What judging rows round by round stands on (replicates.round_ratios): series that stop at different
    times (here after 5, 9 and 20 samples) keep their first samples aligned with the others' rounds."""
    current = {"round": 0}
    taken: dict[str, list[int]] = {k: [] for k in "abc"}
    limits = {"a": 5, "b": 9, "c": 20}

    def run(k):
        taken[k].append(current["round"])
        if len(taken[k]) - 2 >= limits[k]:  # stop each series at its own count, as convergence would
            by_key[k].done = True

    def on_round(r):
        current["round"] = r

    timing = Timing(warmup_s=0.0, min_sample_s=1e-9, target_precision=1e-9, min_samples=3, max_samples=20)
    series = [Series((k, "m"), Timed(run=lambda k=k: run(k))) for k in "abc"]
    by_key = {s.key[0]: s for s in series}
    measure_interleaved(series, timing, on_round=on_round)
    for s in series:
        k = s.key[0]
        assert len(s.samples) == limits[k] and taken[k][2:] == list(range(limits[k]))  # 2 warm-up calls first


def test_failing_series_does_not_stop_others():
    timing = Timing(warmup_s=0.0, min_sample_s=1e-9, target_precision=1.0, min_samples=3)
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] > 3:
            raise RuntimeError("boom")

    good = Series(("g", "m"), Timed(run=lambda: None))
    bad = Series(("b", "m"), Timed(run=flaky))
    measure_interleaved([good, bad], timing)
    assert bad.error == "RuntimeError: boom" and good.reason == "converged"
    assert not math.isnan(summarize(good.samples)["value"])


@pytest.mark.parametrize("n", [6, 10, 30, 200])
def test_ci_nested_in_range(n):
    x = np.random.default_rng(n).normal(size=n)
    lo, hi = median_ci(x)
    assert x.min() <= lo <= np.median(x) <= hi <= x.max()
