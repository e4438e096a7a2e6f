"""The two levels of regress on constructed runs: a shift shared by a whole run against the history of run
shifts, and each case's change beyond its run's shift against its own history."""
import math

import numpy as np
import pytest

from benchsuite.records import make_record
from benchsuite.results.compare import format_comparison, regress
from benchsuite.results.run import Run, RunMeta
from benchsuite.results.run_shift import judge_group, judge_residual, judge_shift, split
from benchsuite.results.store import History
from benchsuite.sweep import Case

CASES = [Case("w", "cpu", "torch_eager", "g1_block_stack", (("c1", 8 * (i + 1)), ("c2", 8)), (), 1, 16, "float32",
              1, ("latency_forward",)) for i in range(12)]
BASE = {c.case_id: 1e-3 * (1 + i) for i, c in enumerate(CASES)}


def _run(i: int, shift: float, noise, extra: dict | None = None) -> Run:
    run_id = f"2026-12-01T00:{i:02d}-run"
    records = []
    for c, e in zip(CASES, noise):
        value = BASE[c.case_id] * math.exp(shift + e) * (extra or {}).get(c.case_id, 1.0)
        records.append(make_record(c, "latency_forward", run_id=run_id, value=value, n=20, ci_low=value * 0.99,
                                   ci_high=value * 1.01))
    meta = RunMeta.from_dict({"run_id": run_id, "device": "cpu", "workload": "w", "status": "complete",
                              "started": run_id, "environment": {"machine_id": "m", "libraries": {}}})
    return Run(run_id, meta, records, {})


def _history(tmp_path, runs) -> History:
    h = History(tmp_path / "h.sqlite")
    for r in runs:
        h.add_run(r)
    return h


def test_a_whole_run_slower_is_one_run_shift_and_one_real_regression_stands_out(tmp_path):
    rng = np.random.default_rng(1)
    runs = [_run(i, rng.normal(0, 0.03), rng.normal(0, 0.01, len(CASES))) for i in range(8)]
    slow_case = CASES[3].case_id
    runs.append(_run(8, math.log(1.10), rng.normal(0, 0.01, len(CASES)), {slow_case: 1.20}))
    out = regress(_history(tmp_path, runs), "w", "cpu", window=10)
    (shift,) = out.shifts
    assert shift.outcome == "slower" and 1.07 < shift.ratio < 1.13 and shift.cases == 12 and shift.history == 8
    flagged = [c for c in out.changes if c.outcome == "slower"]
    assert [c.case_id for c in flagged] == [slow_case] and 1.15 < flagged[0].beyond_shift < 1.25
    text = format_comparison(out)
    assert "run shift: this run is x1.1" in text and "on every case of runner torch_eager" in text
    assert "beyond the run's shift" in text and out.shifted


def test_case_by_case_the_same_slow_run_would_flag_most_cases(tmp_path):
    """What the one-level rule said: a 10% run shift read as many separate regressions."""
    from benchsuite.replicates import prediction_outcome

    rng = np.random.default_rng(1)
    runs = [_run(i, rng.normal(0, 0.03), rng.normal(0, 0.01, len(CASES))) for i in range(8)]
    cand = _run(8, math.log(1.10), rng.normal(0, 0.01, len(CASES)))
    one_level = [prediction_outcome([r.records[j]["value"] for r in runs], cand.records[j]["value"], 0.01, 0.05)[0]
                 for j in range(len(CASES))]
    assert one_level.count("slower") >= 6


def test_false_alarm_rates_of_both_levels_stay_at_alpha_under_run_level_noise():
    """A/A on constructed data: shared run shifts (sd 8%) and per-case noise (sd 2%), alpha 0.05 and no
    minimum effect so the rate is the rule's alone: each level's false alarms stay within 1.5 alpha per direction
    (measured: 0.043 for run shifts, 0.058 for cases: the centre and the shifts are estimated from the same runs)."""
    rng = np.random.default_rng(7)
    alpha, trials, n_hist = 0.05, 400, 8
    shift_alarms = case_alarms = cases = 0
    for _ in range(trials):
        medians = [{k: BASE[k] * math.exp(s + e) for k, e in zip(BASE, rng.normal(0, 0.02, len(BASE)))}
                   for s in rng.normal(0, 0.08, n_hist + 1)]
        parts = split(medians[:-1], medians[-1])
        shift_alarms += judge_shift(parts, alpha, 0.0)[0] == "slower"
        for k in BASE:
            case_alarms += judge_residual(parts, k, alpha, 0.0)[0] == "slower"
            cases += 1
    print(f"run-shift false alarms {shift_alarms / trials:.3f}, case false alarms {case_alarms / cases:.4f}")
    assert shift_alarms / trials <= 1.5 * alpha and case_alarms / cases <= 1.5 * alpha  # stated tolerance: 1.5 alpha


# Eight comparison groups of four rows each (c1 varies within a group, c2 tells the groups apart): a group's
# rows share their worker processes, so a run moves each group by its own amount on top of the run's shift.
GROUPS = 8
GROUPED = [Case("w", "cpu", "torch_eager", "g1_block_stack", (("c1", 8 * (i + 1)), ("c2", 8 * (g + 1))), (), 1, 16,
                "float32", 1, ("latency_forward",), ("c1",)) for g in range(GROUPS) for i in range(4)]


def _grouped_run(i: int, rng, extra: dict | None = None, group_extra: dict | None = None) -> Run:
    """Run shift sd 3%, each group's process state sd 4% beyond it, each case 0.5%: as G1 quick measures."""
    run_id = f"2026-12-01T01:{i:02d}-run"
    shift, per_group = rng.normal(0, 0.03), {g: rng.normal(0, 0.04) for g in range(GROUPS)}
    records = []
    for j, c in enumerate(GROUPED):
        g = j // 4
        value = 1e-3 * (1 + j) * math.exp(shift + per_group[g] + rng.normal(0, 0.005))
        value *= (extra or {}).get(c.case_id, 1.0) * (group_extra or {}).get(g, 1.0)
        records.append(make_record(c, "latency_forward", run_id=run_id, value=value, n=20, ci_low=value * 0.99,
                                   ci_high=value * 1.01))
    meta = RunMeta.from_dict({"run_id": run_id, "device": "cpu", "workload": "w", "status": "complete",
                              "started": run_id, "environment": {"machine_id": "m", "libraries": {}}})
    return Run(run_id, meta, records, {})


def test_one_case_slower_stands_out_of_its_group_and_a_whole_group_is_one_group_shift(tmp_path):
    """Judged beyond its run's shift only, a case carries its group's 4% process state: a 10% change is lost
    in it. Beyond its group's shift too, the one slow case is the only one flagged; a whole group made 20%
    slower (beyond what its 4% state hides at alpha 1%) is one group shift, not four case regressions."""
    assert len({c.group_id for c in GROUPED}) == GROUPS
    rng = np.random.default_rng(2)
    runs = [_grouped_run(i, rng) for i in range(10)]
    slow = GROUPED[5].case_id
    out = regress(_history(tmp_path, runs + [_grouped_run(10, rng, extra={slow: 1.10})]), "w", "cpu", window=10)
    assert [c.case_id for c in out.changes if c.outcome == "slower"] == [slow]
    assert len(out.group_shifts) == GROUPS and not [g for g in out.group_shifts if g.outcome != "not significant"]
    assert "beyond the run's shift and its group's" in next(c.method for c in out.changes if c.case_id == slow)
    out = regress(_history(tmp_path / "g", runs + [_grouped_run(11, rng, group_extra={2: 1.20})]), "w", "cpu",
                  window=10)
    (g,) = [g for g in out.group_shifts if g.outcome != "not significant"]
    assert g.outcome == "slower" and g.cases == 4 and 1.12 < g.ratio < 1.28 and "c2=24" in g.label
    assert g in out.shifted and not out.regressions
    assert "group shift: the 4 cases of g1_block_stack(c2=24)" in format_comparison(out)


def test_false_alarm_rates_of_the_group_and_case_levels_stay_at_alpha():
    """A/A on constructed grouped runs, alpha 0.05 and no minimum effect: false alarms of the group shifts
    and of the cases beyond them stay within 1.5 alpha per direction, the tolerance of the two-level test."""
    rng = np.random.default_rng(11)
    alpha, trials = 0.05, 300
    keys = [(c.case_id, "latency_forward") for c in GROUPED]
    groups = {k: j // 4 for j, k in enumerate(keys)}
    group_alarms = groups_judged = case_alarms = cases = 0
    for _ in range(trials):
        medians = []
        for _ in range(9):
            shift, per_group = rng.normal(0, 0.03), rng.normal(0, 0.04, GROUPS)
            medians.append({k: 1e-3 * math.exp(shift + per_group[groups[k]] + rng.normal(0, 0.005)) for k in keys})
        parts = split(medians[:-1], medians[-1], groups)
        for g in range(GROUPS):
            group_alarms += judge_group(parts, g, alpha, 0.0)[0] == "slower"
            groups_judged += 1
        for k in keys:
            case_alarms += judge_residual(parts, k, alpha, 0.0)[0] == "slower"
            cases += 1
    print(f"group-shift false alarms {group_alarms / groups_judged:.3f}, case false alarms {case_alarms / cases:.4f}")
    assert group_alarms / groups_judged <= 1.5 * alpha and case_alarms / cases <= 1.5 * alpha


def test_a_run_shift_shows_the_device_ceilings_of_the_same_run_as_canaries(tmp_path):
    """The ceilings a run measures beside its cases (the runner's GEMM peak, the memory bandwidth) are set
    against the earlier runs' own: a run 10% slower whose GEMM peak also fell says the machine was slower.
    The probe's latency is not judged as a case: on real quick runs it was 3 of regress's 10 A/A case flags
    (a lone case, with no group to be placed in)."""
    gemm = Case("w", "cpu", "torch_eager", "gemm_probe", (), (("calibration", "ceiling"),), 1, 1024, "float32", 1,
                ("ceiling_flops",))
    stream = Case("w", "cpu", "", "device_ceilings", (), (("calibration", "ceiling"),), 1, 1, "float32", 1,
                  ("ceiling_bandwidth",))

    def with_ceilings(run: Run, factor: float) -> Run:
        extra = [make_record(gemm, "ceiling_flops", run_id=run.name, value=1e11 * factor),
                 make_record(gemm, "latency_forward", run_id=run.name, value=0.02 / factor),
                 make_record(stream, "ceiling_bandwidth", run_id=run.name, value=2e10)]
        return Run(run.name, run.meta, run.records + extra, run.samples)

    rng = np.random.default_rng(1)
    runs = [with_ceilings(_run(i, rng.normal(0, 0.03), rng.normal(0, 0.01, len(CASES))), 1.0) for i in range(8)]
    runs.append(with_ceilings(_run(8, math.log(1.10), rng.normal(0, 0.01, len(CASES))), 0.92))
    out = regress(_history(tmp_path, runs), "w", "cpu", window=10)
    (shift,) = out.shifts
    assert shift.canaries == {"GEMM peak via torch_eager t1": pytest.approx(0.92),
                              "memory bandwidth t1": pytest.approx(1.0)}
    assert "memory bandwidth t1 x1.000, GEMM peak via torch_eager t1 x0.920" in format_comparison(out)
    # the GEMM probe's own latency is a canary, not a case to regress (nor part of the run's shift)
    assert gemm.case_id not in {c.case_id for c in out.changes} and shift.cases == len(CASES)
