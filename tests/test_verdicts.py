"""Verdict logic on constructed records, for every outcome."""
import math

import numpy as np
import pytest

from benchsuite.records import make_record
from benchsuite.replicates import ratio_interval
from benchsuite.sweep import Case
from benchsuite.studies.guidelines import GUIDELINES, paper_ratios
from benchsuite.results.verdicts import compute as compute_for, format_verdicts

# the workload of each constructed record -> the studies that judge it (run.json carries this for real runs)
WORKLOADS = {"g1w": {"studies": ["g1"]}, "g4w": {"studies": ["g4"]}, "resolution": {"studies": ["resolution"]},
             "multipliers": {"studies": ["flops_vs_latency"]}}


def compute(records, samples):
    return compute_for(records, samples, WORKLOADS)

RUN = "run-1"


def _case(model, knobs, tags=(), compare=(), workload="w", resolution=56, runner="torch_eager"):
    return Case(workload, "cpu", runner, model, tuple(sorted(knobs.items())), tuple(sorted(tags)), 1,
                resolution, "float32", 1, ("latency_forward",), compare)


def _measure(case, median, spread, samples, seed, metric="latency_forward", with_samples=True):
    x = np.random.default_rng(seed).normal(median, spread, 30)
    lo, hi = np.percentile(x, [35, 65])
    rec = make_record(case, metric, run_id=RUN, value=float(np.median(x)), n=30, ci_low=float(lo), ci_high=float(hi))
    if with_samples:
        samples[(RUN, case.case_id, metric)] = x.tolist()
    return rec


G1_ROWS = [(128, 128), (90, 180), (52, 312), (36, 432)]


def _g1_records(medians, spread=0.005, with_samples=True):
    """G1's rows as one group's records. Seeds from 10: the draws of seeds 0 and 1 happen to differ by a third
    of their sd in the median of their round-by-round ratios (how the studies judge rows of one group)."""
    samples, records = {}, []
    for i, ((c1, c2), med) in enumerate(zip(G1_ROWS, medians)):
        case = _case("g1_block_stack", {"c1": c1, "c2": c2, "multiplier": 1}, [("paper_set", "gpu")], ("c1", "c2"),
                     workload="g1w")
        records.append(_measure(case, med, spread, samples, i + 10, with_samples=with_samples))
    return records, samples


def _g1(medians, spread=0.005, with_samples=True):
    return compute(*_g1_records(medians, spread, with_samples))


def test_g1_holds_when_every_row_is_slower():
    (v,) = _g1([1.0, 1.1, 1.2, 1.3])
    assert v.label == "G1" and v.verdict == "holds"
    assert [r["outcome"] for r in v.rows] == ["baseline", "slower", "slower", "slower"]
    r = v.rows[1]
    assert r["speed_ratio"] == pytest.approx(1 / 1.1, rel=0.01) and r["speed_ratio_ci"][1] < 1
    assert r["interval"].startswith("paired round by round within one process")
    assert r["paper_speed_ratio"] == {"gpu": pytest.approx(1296 / 1480)}


def test_g1_violated_when_a_row_is_faster():
    (v,) = _g1([1.0, 0.8, 1.2, 1.3])
    assert v.verdict == "violated" and v.rows[1]["outcome"] == "faster"


def test_g1_inconclusive_with_overlapping_intervals():
    (v,) = _g1([1.0, 1.002, 1.2, 1.3], spread=0.08)
    assert v.verdict == "inconclusive" and v.rows[1]["outcome"] == "unresolved"
    lo, hi = v.rows[1]["speed_ratio_ci"]
    assert lo < 1 / 1.02 and hi > 1  # reaches past the margin: neither different nor the same


def test_a_row_inside_the_margin_is_a_tie_and_a_decided_verdict_says_so():
    """A tie within the margin is a finding: the group is decided (holds, with ties), not inconclusive."""
    (v,) = _g1([1.0, 1.004, 1.2, 1.3], spread=0.002)
    assert v.rows[1]["outcome"] == "same" and v.verdict == "holds" and v.margin == 0.02
    text = format_verdicts([v])
    assert "(margin ±2%)" in text and "holds, with ties within ±2% (c1=" in text
    (v,) = compute_for(*_g1_records([1.0, 1.004, 1.2, 1.3], 0.002), {"g1w": {"studies": ["g1"], "margin": 0.001}})
    assert v.rows[1]["outcome"] == "slower" and v.verdict == "holds" and "(margin ±0.1%)" in format_verdicts([v])


def test_every_row_a_tie_is_decided_against_the_claim():
    (v,) = _g1([1.0, 1.004, 0.998, 1.003], spread=0.002)
    assert [r["outcome"] for r in v.rows[1:]] == ["same"] * 3 and v.verdict == "violated"
    assert "every row ties with the baseline within ±2%: the claimed difference is not there" in v.note


def test_an_undecided_group_says_how_far_it_is_from_decided():
    """A row whose interval straddles the lower edge of the margin may yet be faster: against the claim."""
    (v,) = _g1([1.0, 0.98, 1.2, 1.3], spread=0.02)
    assert v.rows[1]["outcome"] == "faster or same"
    assert v.verdict == "inconclusive" and "undecided: " in v.note and "widest c1=" in v.note
    assert "measured in one process" in v.note  # constructed records: one process


def test_a_row_straddling_only_the_claims_edge_is_not_against_the_claim():
    """Slower or a tie, not yet which: either way the baseline is not beaten, so with another row decided
    slower the group holds (a one-sided test from the same interval), and the note says which row is open."""
    (v,) = _g1([1.0, 1.02, 1.2, 1.3], spread=0.02)
    lo, hi = v.rows[1]["latency_ratio_ci"]
    assert 1 / 1.02 <= lo <= 1.02 < hi and v.rows[1]["outcome"] == "slower or same"
    assert v.verdict == "holds" and "c1=90,c2=180 (slower or same): the interval straddles only" in v.note
    # no row decided slower: the claimed cost may not be there at all (every row could be a tie)
    (v,) = _g1([1.0, 1.02, 1.003, 1.0], spread=0.02)
    assert "slower" not in [r["outcome"] for r in v.rows] and v.verdict == "inconclusive"


def test_a_group_of_its_baseline_alone_is_inconclusive_and_says_why():
    records, samples = _g1_records([1.0, 1.1, 1.2, 1.3])
    (v,) = compute_for([r for r in records if r["params"]["c1"] == r["params"]["c2"]], samples,
                       {"g1w": {"studies": ["g1"]}})
    assert v.verdict == "inconclusive" and "only the baseline row ran" in v.note


def test_processes_to_decide_scales_with_the_square_of_the_interval():
    from benchsuite.replicates import processes_to_decide

    # centre 1.05 (log 0.0488), edge log 1.02 = 0.0198: gap 0.029; half-width 0.058 -> (2x)^2 = 4x the processes
    lo, hi = math.exp(math.log(1.05) - 0.058), math.exp(math.log(1.05) + 0.058)
    assert processes_to_decide(lo, hi, 3) == pytest.approx(3 * (0.058 / (math.log(1.05) - math.log(1.02))) ** 2)
    assert processes_to_decide(1.0, 1.5, 3) >= 3 and processes_to_decide(1.02 / 1.1, 1.02 * 1.1, 5) == math.inf


def test_processes_to_decide_counts_the_t_quantile_shrinking_with_more_processes():
    from scipy import stats

    from benchsuite.replicates import processes_to_decide

    conf, k, sd, centre = 1 - 0.05 / 3, 3, 0.01, math.log(1.05)  # a 98.3% t interval over 3 processes
    q = lambda n: stats.t.ppf(0.5 + conf / 2, n - 1)  # noqa: E731
    half = lambda n: q(n) * sd / math.sqrt(n)  # noqa: E731
    lo, hi = math.exp(centre - half(k)), math.exp(centre + half(k))
    n = processes_to_decide(lo, hi, k, conf=conf)
    gap = centre - math.log(1.02)
    assert half(n) <= gap < half(n - 1)  # the first count whose interval clears the edge at that spread
    assert n < processes_to_decide(lo, hi, k)  # the square law alone keeps t at 2 degrees of freedom


def test_without_samples_the_conservative_interval_is_used():
    (v,) = _g1([1.0, 1.002, 1.2, 1.3], spread=0.05, with_samples=False)
    assert v.rows[1]["interval"] == "ci-bounds" and v.rows[1]["outcome"] == "unresolved"
    assert v.rows[3]["outcome"] == "slower" and v.verdict == "inconclusive"


def test_no_baseline_no_verdict():
    samples, records = {}, []
    for i, (c1, c2) in enumerate(G1_ROWS[1:]):
        case = _case("g1_block_stack", {"c1": c1, "c2": c2, "multiplier": 1}, compare=("c1", "c2"), workload="g1w")
        records.append(_measure(case, 1.0 + i / 10, 0.01, samples, i))
    assert compute(records, samples) == []


@pytest.mark.parametrize("medians, verdict", [([1.0, 0.9, 0.9, 0.8], "holds"), ([1.0, 1.1, 0.9, 0.8], "violated"),
                                              ([1.0, 1.0, 0.9, 0.8], "inconclusive")])
def test_g4_mirror(medians, verdict):
    samples, records = {}, []
    for i, ((relu, sc), med) in enumerate(zip([(True, True), (True, False), (False, True), (False, False)], medians)):
        case = _case("g4_bottleneck_stack", {"c": 32, "relu": relu, "shortcut": sc, "multiplier": 1},
                     compare=("relu", "shortcut"), workload="g4w")
        records.append(_measure(case, med, 0.002 if verdict != "inconclusive" else 0.05, samples, i))
    (v,) = compute(records, samples)
    assert v.verdict == verdict
    both = v.rows[3]
    assert both["paper_speed_ratio"] == {"gpu": pytest.approx(2842 / 2427), "arm": pytest.approx(66.3 / 56.7)}


def test_paper_ratios_use_each_blocks_baseline():
    g2 = paper_ratios(GUIDELINES["G2"])
    assert g2[(("c", 184), ("groups", 8), ("multiplier", 1))] == {"arm": pytest.approx(27.8 / 40.0)}
    assert g2[(("c", 360), ("groups", 8), ("multiplier", 4))] == {"gpu": pytest.approx(230 / 437)}


def test_ratio_interval_covers_truth():
    rng = np.random.default_rng(3)
    a, b = rng.normal(1.2, 0.02, 40), rng.normal(1.0, 0.02, 40)
    ratio, lo, hi = ratio_interval(a, b, np.random.default_rng(0))
    assert lo < 1.2 < hi and lo < ratio < hi and hi - lo < 0.05


def _resolution_records(b_over_a):
    samples, records = {}, []
    for i, res in enumerate((224, 256, 416, 704)):
        px = (res / 224) ** 2
        models = (("resnet50", {}, 3.0 * px), ("mobilenet_v2", {"variant": "a"}, 1.0 * px),
                  ("mobilenet_v2", {"variant": "b"}, b_over_a[i] * px))
        for j, (model, knobs, med) in enumerate(models):
            case = _case(model, {**knobs}, compare=("variant",), workload="resolution", resolution=res)
            # fixed seeds: hash() of a str changes per process, and equal medians then read as a
            # significant difference in about one process in ten
            records.append(_measure(case, med, 0.002 * px, samples, 3 * i + j))
    return records, samples


def test_resolution_exponent_and_replication_crossover():
    records, samples = _resolution_records([1.0, 1.0, 0.97, 0.9])
    vs = {v.label: v for v in compute(records, samples)}
    fits = {f["model"]: f for f in vs["resolution"].rows}
    assert fits["resnet50"]["exponent"] == pytest.approx(1.0, abs=0.02)
    assert fits["mobilenet_v2_a"]["exponent_ci"][0] < 1.0 < fits["mobilenet_v2_a"]["exponent_ci"][1]
    rep = vs["replication"]
    assert rep.verdict == "holds" and "significantly faster: 416" in rep.note
    assert [r["outcome"] for r in rep.rows] == ["same", "same", "b faster", "b faster"]


@pytest.mark.parametrize("ratios, verdict", [([0.9, 0.9, 0.9, 0.9], "violated"), ([1.0, 1.0, 1.0, 1.1], "violated"),
                                             ([1.0, 1.0, 1.0, 1.0], "inconclusive")])
def test_replication_other_outcomes(ratios, verdict):
    records, samples = _resolution_records(ratios)
    (rep,) = [v for v in compute(records, samples) if v.label == "replication"]
    assert rep.verdict == verdict


def test_flops_rank_correlation():
    samples, records = {}, []
    for i, (w, lat) in enumerate([(1.0, 4.0), (0.75, 3.0), (0.5, 2.0), (0.25, 1.0)]):
        case = _case("mobilenet_v1", {"width": w}, workload="multipliers", resolution=224)
        records.append(make_record(case, "madds", run_id=RUN, value=1e6 * w, source="modeled"))
        records.append(_measure(case, lat, 0.01, samples, i))
    (v,) = [v for v in compute(records, samples) if v.label == "flops_vs_latency"]
    assert "rho = 1.000" in v.note and v.verdict == "holds" and "pair by pair" in v.note  # 4 models: no z
    assert "flops_vs_latency" in format_verdicts([v])


def _flops_verdict(latencies, spread=0.01):
    samples, records = {}, []
    for i, lat in enumerate(latencies):
        case = _case("mobilenet_v1", {"width": 0.1 * (i + 1)}, workload="multipliers", resolution=224)
        records.append(make_record(case, "madds", run_id=RUN, value=1e6 * (i + 1), source="modeled"))
        records.append(_measure(case, lat, spread, samples, i))
    (v,) = [v for v in compute(records, samples) if v.label == "flops_vs_latency"]
    return v


def test_few_models_are_judged_pair_by_pair_and_many_by_the_rank_interval():
    assert _flops_verdict([1.0, 2.0, 1.5, 3.0]).verdict == "violated"      # the third is clearly faster
    assert _flops_verdict([1.0, 1.001, 2.0], spread=0.05).verdict == "inconclusive"  # intervals overlap
    many = _flops_verdict([float(i) for i in range(1, 9)])
    assert many.verdict == "holds" and "Fisher z" in many.note and "n = 8" in many.note


def test_spearman_interval():
    from benchsuite.studies.flops import spearman_interval

    lo, hi = spearman_interval(0.95, 40)
    assert 0.9 < lo < 0.95 < hi < 1
    assert spearman_interval(0.3, 40)[1] < 0.9
    assert spearman_interval(1.0, 3) == (-1.0, 1.0)


def test_device_ceilings_never_enter_a_claim():
    """A run's GEMM ceiling cases (tagged calibration) are not architectures: the FLOPs rank ignores them."""
    samples, records = {}, []
    for i, (w, lat) in enumerate([(1.0, 4.0), (0.75, 3.0), (0.5, 2.0), (0.25, 1.0)]):
        case = _case("mobilenet_v1", {"width": w}, workload="multipliers", resolution=224)
        records.append(make_record(case, "madds", run_id=RUN, value=1e6 * w, source="modeled"))
        records.append(_measure(case, lat, 0.01, samples, i))
    gemm = _case("gemm_probe", {"n": 1024}, tags=[("calibration", "ceiling")], workload="multipliers", resolution=1024)
    records.append(make_record(gemm, "madds", run_id=RUN, value=1024 ** 3, source="modeled"))
    records.append(_measure(gemm, 0.5, 0.01, samples, 9))  # fast for its FLOPs: would break the rank
    (v,) = [v for v in compute(records, samples) if v.label == "flops_vs_latency"]
    assert v.verdict == "holds" and len(v.rows) == 4 and "n = 4" in v.note


@pytest.mark.parametrize("label, expect", [
    ({"source": "emulated"}, "the timings are emulated; an emulator proves the path"),
    ({"config": {"tuning": "untuned"}}, "TVM's kernels are untuned here"),
    ({"config": {"tuning": "partial"}}, "TVM's kernels are partial here"),
    ({"config": {"tuning": "tuned", "last_doubling_gain": 0.08}}, "still fell 8% over the last doubling"),
])
def test_emulated_or_untuned_timings_are_never_a_verdict(label, expect):
    """Emulated timings on any runner; untuned or unconverged kernels as the TVM runner's caveat (its hook)."""
    samples, records = {}, []
    runner = "tvm" if "config" in label else "torch_eager"
    for i, ((c1, c2), med) in enumerate(zip(G1_ROWS, [1.0, 1.1, 1.2, 1.3])):
        case = _case("g1_block_stack", {"c1": c1, "c2": c2, "multiplier": 1}, [("paper_set", "gpu")], ("c1", "c2"),
                     workload="g1w", runner=runner)
        rec = _measure(case, med, 0.005, samples, i)
        records.append({**rec, **label} if i == 2 else rec)  # one case of the group is enough
    (v,) = compute(records, samples)
    assert v.verdict == "inconclusive" and expect in v.note and "(the numbers alone would say holds)" in v.note


def test_tuned_timings_make_a_verdict():
    samples, records = {}, []
    for i, ((c1, c2), med) in enumerate(zip(G1_ROWS, [1.0, 1.1, 1.2, 1.3])):
        case = _case("g1_block_stack", {"c1": c1, "c2": c2, "multiplier": 1}, [("paper_set", "gpu")], ("c1", "c2"),
                     workload="g1w")
        records.append({**_measure(case, med, 0.005, samples, i),
                        "config": {"tuning": "tuned", "last_doubling_gain": 0.01}})  # within the margin
    (v,) = compute(records, samples)
    assert v.verdict == "holds" and "inconclusive because" not in v.note


def test_a_workload_that_names_no_study_gets_no_verdicts():
    samples = {}
    records = [_measure(_case("g1_block_stack", {"c1": 16, "c2": 16}, workload="unnamed"), 1.0, 0.01, samples, 0)]
    assert compute(records, samples) == []


def test_a_study_this_version_lacks_is_skipped_with_a_note(caplog):
    """A run made by another version may name a study not installed here: the other studies still judge."""
    records, samples = _g1_records([1.0, 1.1, 1.2, 1.3])
    (v,) = compute_for(records, samples, {"g1w": {"studies": ["retired_study", "g1"]}})
    assert v.label == "G1"
    assert "names study 'retired_study', which is not installed here" in caplog.text  # a logged warning


def test_an_inconclusive_group_names_its_baseline_and_its_open_rows_only():
    """What a sequential run goes on timing: the row still unresolved and the baseline it is paired with,
    not the rows already decided slower; a decided verdict names none."""
    records, samples = _g1_records([1.0, 1.002, 1.2, 1.3], spread=0.08)
    (v,) = compute(records, samples)
    assert v.verdict == "inconclusive" and [r["outcome"] for r in v.rows][2:] == ["slower", "slower"]
    assert v.open_cases == [records[0]["case_id"], records[1]["case_id"]]
    (decided,) = _g1([1.0, 1.1, 1.2, 1.3])
    assert decided.open_cases is None


def test_a_row_timed_in_fewer_processes_is_paired_with_its_baselines_first():
    """A row a sequential run stopped timing after 3 processes, its baseline timed in 6: the ratio pairs
    the row with the baseline's first 3 processes (round by round), so the interval is the one the row was
    decided on, not the unpaired bootstrap's."""
    from benchsuite.replicates import ratio_interval

    rng = np.random.default_rng(0)
    shared = [rng.normal(0, 0.1, 40) for _ in range(6)]  # each process's machine state, shared by its rows
    base = [np.exp(s + rng.normal(0, 0.002, 40)) for s in shared]
    row = [np.exp(np.log(1.1) + s + rng.normal(0, 0.002, 40)) for s in shared[:3]]
    ratio, lo, hi = ratio_interval(row, base, rng, rounds=True)
    same = ratio_interval(row, base[:3], rng, rounds=True)
    assert (ratio, lo, hi) == pytest.approx(same) and 1.09 < lo < hi < 1.11
