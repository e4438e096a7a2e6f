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


def _bursty_rows(vclock, rng, costs):
    """Series whose calls share a machine state per round (log-normal, sd 10%, as a loaded machine moves
    between rounds) on 1% call noise: their medians stay wide, their places among each other do not."""
    state = {"round": 1.0}

    def on_round(_):
        state["round"] = float(np.exp(rng.normal(0, 0.10)))

    def call(cost):
        vclock.advance(cost * state["round"] * float(np.exp(rng.normal(0, 0.01))))

    return [Series((f"row{i}", "latency_forward"), Timed(run=lambda c=c: call(c))) for i, c in enumerate(costs)], \
        on_round


def test_rows_of_a_group_stop_together_once_their_places_are_known(vclock):
    """Under bursts a series' median never reaches +-1% in its 3 s, so each runs its whole budget; judged by
    their places among each other the rows stop together as soon as every place is known to +-0.5%, with
    their ratios where they are."""
    rng = np.random.default_rng(2)
    costs = [0.002, 0.0024, 0.003]
    timing = Timing(warmup_s=0.0, min_sample_s=0.02, target_precision=0.01, min_samples=10, max_time_s=3.0)
    alone, on_round = _bursty_rows(vclock, rng, costs)
    measure_interleaved(alone, timing, on_round=on_round)
    assert all(s.reason == "time budget" for s in alone)

    placed = Timing(**{**vars(timing), "place_precision": 0.005})
    rows, on_round = _bursty_rows(vclock, rng, costs)
    measure_interleaved(rows, placed, on_round=on_round, together=[rows])
    assert {s.reason for s in rows} == {"place converged"}
    assert len({len(s.samples) for s in rows}) == 1 and len(rows[0].samples) < len(alone[0].samples) / 2
    spent = sum(s.spent for s in rows) / sum(s.spent for s in alone)
    ratios = [np.median(np.log(r.samples) - np.log(rows[0].samples)) for r in rows[1:]]
    assert np.allclose(np.exp(ratios), [1.2, 1.5], rtol=0.01)
    print(f"rows judged by their places took {spent:.0%} of the time their medians took "
          f"({len(rows[0].samples)} against {len(alone[0].samples)} rounds)")


def test_when_one_row_of_a_group_stops_the_others_stop_with_it_and_an_error_leaves_them_going(vclock):
    rng = np.random.default_rng(3)
    placed = Timing(warmup_s=0.0, min_sample_s=0.02, target_precision=0.01, min_samples=10, max_time_s=0.5,
                    place_precision=1e-6)  # never reached: a budget ends the group
    rows, on_round = _bursty_rows(vclock, rng, [0.002, 0.004])
    measure_interleaved(rows, placed, on_round=on_round, together=[rows])
    reasons = sorted(s.reason for s in rows)
    assert reasons == ["time budget", "time budget (a series of its group)"]
    assert len(rows[0].samples) == len(rows[1].samples)

    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        vclock.advance(0.001)
        if calls["n"] > 5:
            raise RuntimeError("boom")

    good, on_round = _bursty_rows(vclock, rng, [0.001, 0.0012])
    bad = Series(("bad", "latency_forward"), Timed(run=flaky))
    measure_interleaved([*good, bad], Timing(**{**vars(placed), "place_precision": 0.01, "max_time_s": 5.0}),
                        on_round=on_round, together=[[*good, bad]])
    assert bad.error == "RuntimeError: boom" and {s.reason for s in good} == {"place converged"}
