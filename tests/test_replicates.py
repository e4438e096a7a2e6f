"""Processes as replicates: the hierarchical interval's coverage, equivalence margins, the history rule's
false-alarm rate, and pooling a case measured in several processes; all on simulated or constructed data."""
import numpy as np
import pytest

from benchsuite.results.compare import classify
from benchsuite.results.pooling import pool_case
from benchsuite.records import make_record
from benchsuite.replicates import covers, equivalence, median_interval, prediction_outcome, ratio_interval
from benchsuite.sweep import Case


def _run(rng, k, between=0.03, within=0.01, n=30, scale=1.0):
    """k processes of n samples: each process shifted (log-normal, sd `between`), samples scattered around it."""
    return [scale * np.exp(rng.normal(0, between) + rng.normal(0, within, n)) for _ in range(k)]


@pytest.mark.parametrize("k", [3, 5, 10])
def test_hierarchical_interval_covers_the_run_level_median(k):
    """Known between-process variance (3%) larger than within (1%): the 95% interval of the median covers
    the true median in 95% of simulated runs, within 0.90-0.995 over 300 runs (binomial sd ~1.3%)."""
    rng = np.random.default_rng(k)
    hits = sum(lo <= 1 <= hi for _, lo, hi in (median_interval(_run(rng, k), rng) for _ in range(300)))
    assert 0.90 <= hits / 300 <= 0.995


def test_one_process_cannot_cover_run_level_noise_and_says_so():
    rng = np.random.default_rng(0)
    hits = sum(lo <= 1 <= hi for _, lo, hi in (median_interval(_run(rng, 1)[0], rng) for _ in range(200)))
    assert hits / 200 < 0.5  # the reason the suite measures processes
    assert "within-process noise only" in covers([1.0, 2.0]) and "3 processes" in covers([[1.0], [2.0], [3.0]])


def test_paired_ratio_interval_cancels_drift_shared_by_both_rows():
    rng = np.random.default_rng(3)
    hits, widths = 0, []
    for _ in range(200):
        shifts = rng.normal(0, 0.05, 5)  # drift both rows share, process by process
        a = [np.exp(s + rng.normal(0, 0.01, 30)) for s in shifts]
        b = [1.1 * np.exp(s + rng.normal(0, 0.005) + rng.normal(0, 0.01, 30)) for s in shifts]
        r, lo, hi = ratio_interval(b, a, rng)
        hits += lo <= 1.1 <= hi
        widths.append(hi / lo)
    assert hits / 200 >= 0.9 and np.median(widths) < 1.05  # far narrower than the 5% drift


def _interleaved(rng, k, ratio, drift=0.15, between=0.005, noise=0.01, n=200):
    """k processes of two series sampled round by round: each round a machine state both share (log sd
    `drift`: a noisy neighbour comes and goes), the row's ratio shifted per process (`between`), and
    per-sample noise. Returns (row, base) as per-process lists."""
    row, base = [], []
    for _ in range(k):
        state = rng.normal(0, drift, n)
        base.append(np.exp(state + rng.normal(0, noise, n)))
        row.append(ratio * np.exp(state + rng.normal(0, between) + rng.normal(0, noise, n)))
    return row, base


@pytest.mark.parametrize("k", [1, 3, 6])
def test_round_paired_ratio_cancels_the_drift_within_each_process(k):
    """A 15% round-to-round drift shared by both rows: judged round by round the interval is a few per cent
    wide, where the ratio of the processes' medians is not; with several processes its 95% t interval covers
    the true ratio in 0.90-0.99 of 200 simulated runs (the per-process ratio shift is what it must cover)."""
    rng = np.random.default_rng(k)
    hits, paired_w, medians_w = 0, [], []
    for _ in range(200):
        row, base = _interleaved(rng, k, 1.1)
        r, lo, hi = ratio_interval(row, base, rng, rounds=True)
        hits += lo <= 1.1 <= hi
        paired_w.append(hi / lo)
        _, m_lo, m_hi = ratio_interval(row, base, rng)  # the same samples as the ratio of process medians
        medians_w.append(m_hi / m_lo)
    if k > 1:
        assert 0.90 <= hits / 200 <= 0.99
    assert np.median(paired_w) < 1.04 and np.median(paired_w) < np.median(medians_w)


def test_round_pairing_only_joins_rows_of_the_same_processes():
    """Studies pair round by round only rows of one run and one comparison group (the same workers)."""
    from benchsuite.studies.base import same_processes

    a = {"run_id": "r", "group_id": "g"}
    assert same_processes(a, {"run_id": "r", "group_id": "g"})
    assert not same_processes(a, {"run_id": "r", "group_id": "h"})
    assert not same_processes(a, {"run_id": "s", "group_id": "g"})
    assert not same_processes({"run_id": "r", "group_id": None}, {"run_id": "r", "group_id": None})


@pytest.mark.parametrize("lo, hi, expect", [
    (1.021, 1.2, "slower"), (1.02, 1.2, "unresolved"), (0.8, 1 / 1.021, "faster"), (0.8, 1 / 1.02, "unresolved"),
    (1 / 1.02, 1.02, "same"), (0.99, 1.0201, "unresolved"), (0.995, 1.005, "same"), (0.9, 1.1, "unresolved"),
])
def test_equivalence_at_the_margins_edges(lo, hi, expect):
    assert equivalence(lo, hi, 0.02) == expect


def test_history_rule_false_alarm_rate_on_run_level_noise():
    """Run medians with 4% log-normal run-to-run noise: without a floor the rule flags `slower` at about
    its alpha; with the 5% floor less often. Power is the price: 5 earlier runs with 4% noise put the
    prediction limit ~16% out, so a 30% slowdown is caught nearly always (and 10% needs a quieter
    machine or a longer window)."""
    rng = np.random.default_rng(5)
    trials, alpha = 4000, 0.01
    hist = np.exp(rng.normal(0, 0.04, (trials, 5)))
    new = np.exp(rng.normal(0, 0.04, trials))
    bare = np.mean([prediction_outcome(h, y, alpha, 0.0)[0] == "slower" for h, y in zip(hist, new)])
    floored = np.mean([prediction_outcome(h, y, alpha, 0.05)[0] != "not significant" for h, y in zip(hist, new)])
    assert 0.004 <= bare <= 0.018 and floored <= bare * 2 + 0.001
    caught = np.mean([prediction_outcome(h, 1.3 * y, alpha, 0.05)[0] == "slower"
                      for h, y in zip(hist[:500], np.exp(rng.normal(0, 0.01, 500)))])
    assert caught > 0.9
    with pytest.raises(ValueError, match="at least 3"):
        prediction_outcome([1.0, 1.1], 1.0, alpha, 0.05)


def test_compare_on_process_medians_ignores_a_run_level_shift_within_noise():
    rng = np.random.default_rng(7)
    base, cand = _run(rng, 5, between=0.03), _run(rng, 5, between=0.03, scale=1.04)
    ratio, p, outcome, method = classify(base, cand)
    assert method == "process medians" and outcome == "not significant"
    ratio, p, outcome, method = classify(_run(rng, 5), _run(rng, 5, scale=1.3))
    assert outcome == "slower" and ratio > 1.2
    # one process a side: Mann-Whitney on samples sees a 6% shift as certain, the 10% floor keeps it quiet
    ratio, p, outcome, method = classify(_run(rng, 1, between=0)[0], _run(rng, 1, between=0, scale=1.06)[0])
    assert method == "one process" and p < 1e-6 and outcome == "not significant"


def _case():
    return Case("w", "cpu", "torch_eager", "g1_block_stack", (("c1", 8), ("c2", 8)), (), 1, 16, "float32", 1,
                ("latency_forward",))


def test_pooling_keeps_processes_apart_and_rescales_derived_rates():
    rng = np.random.default_rng(11)
    case, rounds = _case(), []
    for k, series in enumerate(_run(rng, 3, between=0.05)):
        s = list(map(float, series))
        records = [make_record(case, "latency_forward", value=float(np.median(s)), n=len(s), message="ok"),
                   make_record(case, "achieved_flops", value=1e9 / float(np.median(s)), source="modeled"),
                   make_record(case, "madds", value=1e9, source="modeled")]
        rounds.append((records if k != 1 else [dict(records[0], status="error", value=None, message="boom"),
                                               *records[1:]],
                       [{"case_id": case.case_id, "metric": "latency_forward", "number": 1, "samples": s}]
                       if k != 1 else []))
    records, samples = pool_case(rounds)
    lat = next(r for r in records if r["metric"] == "latency_forward")
    assert lat["status"] == "ok" and lat["processes"] == 2 and len(lat["process_medians"]) == 2
    assert "1 failed" in lat["message"] and lat["n"] == 60 and lat["ci_low"] < lat["value"] < lat["ci_high"]
    flops = next(r for r in records if r["metric"] == "achieved_flops")
    assert flops["value"] == pytest.approx(1e9 / lat["value"])
    assert [m for m in (r["metric"] for r in records)].count("madds") == 1
    (entry,) = samples
    assert len(entry["process_samples"]) == 2 and len(entry["samples"]) == 60
