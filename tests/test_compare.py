"""Regression detection: statistics on synthetic samples, and end to end with the fake runner."""
import json

import numpy as np
import pytest

from benchsuite.cli import main
from benchsuite.results.compare import classify, check_comparable
from benchsuite.errors import BenchsuiteError


def test_classify_outcomes():
    rng = np.random.default_rng(0)
    base = rng.lognormal(np.log(1e-3), 0.02, 50)
    assert classify(base, rng.lognormal(np.log(1e-3), 0.02, 50))[2] == "not significant"
    # one process a side: only changes beyond the 10% floor count
    assert classify(base, rng.lognormal(np.log(1.05e-3), 0.02, 50))[2] == "not significant"
    assert classify(base, rng.lognormal(np.log(1.2e-3), 0.02, 50))[2] == "slower"
    assert classify(base, rng.lognormal(np.log(0.8e-3), 0.02, 50))[2] == "faster"
    assert classify(base, rng.lognormal(np.log(1.08e-3), 0.02, 50), min_effect=0.05)[2] == "slower"
    # significant but below the minimum effect: a 2% shift with very tight samples
    ratio, p, outcome, method = classify(base, rng.lognormal(np.log(1.02e-3), 0.002, 50))
    assert p < 0.01 and outcome == "not significant" and method == "one process"


def test_aa_false_positive_rate_and_power():
    """Same distribution twice: flagged at most rarely; a 20% slowdown (beyond the one-process floor): every time."""
    rng = np.random.default_rng(1)
    trials = 300
    fp = sum(classify(rng.lognormal(0, 0.03, 30), rng.lognormal(0, 0.03, 30))[2] != "not significant"
             for _ in range(trials))
    hits = sum(classify(rng.lognormal(0, 0.03, 30), rng.lognormal(np.log(1.2), 0.03, 30))[2] == "slower"
               for _ in range(trials))
    assert fp / trials <= 0.01 and hits == trials


def test_refuses_other_machines_and_versions():
    env = {"machine_id": "a", "libraries": {"torch": "2.13.0"}}
    check_comparable(env, dict(env), force=False)
    with pytest.raises(BenchsuiteError, match="machines differ"):
        check_comparable(env, {**env, "machine_id": "b"}, force=False)
    with pytest.raises(BenchsuiteError, match="torch 2.13.0 -> 2.14.0"):
        check_comparable(env, {**env, "libraries": {"torch": "2.14.0"}}, force=False)
    check_comparable(env, {**env, "machine_id": "b"}, force=True)


def _run(tmp_path, fake_device, small_workload, slowdown, name):
    dev = fake_device(f'[runner_options.fake]\nslowdown = {slowdown}\nseconds_per_gmac = 0.1\nclock = "simulated"\n',
                      name="fakedev")
    out = tmp_path / "results"
    assert main(["run", "--device", str(dev), "--workload", str(small_workload()), "--out", str(out),
                 "--no-progress"]) == 0
    return max(p for p in out.iterdir() if p.is_dir())


def test_compare_and_regress_end_to_end(tmp_path, fake_device, small_workload, capsys):
    hist = str(tmp_path / "results" / "history.sqlite")
    a = _run(tmp_path, fake_device, small_workload, 1.0, "a")
    b = _run(tmp_path, fake_device, small_workload, 1.0, "b")
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "0 slower" in out and "geometric mean ratio" in out
    assert main(["regress", "--history", hist]) == 0
    slow = _run(tmp_path, fake_device, small_workload, 1.25, "slow")
    assert main(["compare", str(b), str(slow)]) == 3
    out = capsys.readouterr().out
    # a whole run 25% slower is one run shift (exit 3 as before), not six case regressions
    assert "run shift: the candidate is x1.2" in out and "over the 6 cases of runner fake, beyond the floor" in out
    assert "6 cases: 0 slower" in out and "cannot separate run-to-run noise" in out
    assert main(["regress", "--history", hist, "--window", "2"]) == 3
    assert "2 earlier runs" in capsys.readouterr().out
    # by run id from the history too
    assert main(["compare", a.name, slow.name, "--history", hist]) == 3
    # another machine's run is refused unless forced
    meta = json.loads((slow / "run.json").read_text())
    meta["environment"]["machine_id"] = "elsewhere"
    (slow / "run.json").write_text(json.dumps(meta))
    assert main(["compare", str(a), str(slow)]) == 2
    assert "not comparable" in capsys.readouterr().err
    assert main(["compare", str(a), str(slow), "--force"]) == 3


def test_a_code_change_between_runs_is_said():
    """Fingerprints sit beside case_id: the same case, run by changed model or runner code, is still joined,
    and the comparison warns that the difference may be the code's."""
    from benchsuite.results.compare import compare, format_comparison
    from benchsuite.device.preparation import code_fingerprint
    from benchsuite.records import make_record
    from benchsuite.results.run import SampleKey
    from benchsuite.sweep import Case

    case = Case("w", "cpu", "torch_eager", "g1_block_stack", (("c1", 8), ("c2", 8)), (), 1, 16, "float32", 1,
                ("latency_forward",))
    fp = code_fingerprint(case)
    assert len(fp) == 12 and fp == code_fingerprint(case)
    assert fp != code_fingerprint(Case(*[*vars(case).values()][:2], "fake", *[*vars(case).values()][3:]))
    rng = np.random.default_rng(0)
    samples = {SampleKey("", case.case_id, "latency_forward"): list(rng.lognormal(0, 0.01, 30))}

    def rec(fingerprint):
        return {**make_record(case, "latency_forward", value=1.0, n=30, ci_low=0.99, ci_high=1.01),
                "fingerprint": fingerprint}

    same = compare([rec(fp)], samples, [rec(fp)], samples, "a", "b")
    assert same.code_changed == 0 and "warning" not in format_comparison(same)
    changed = compare([rec(fp)], samples, [rec("0123456789ab")], samples, "a", "b")
    assert changed.code_changed == 1 and "ran different model or runner code" in format_comparison(changed)


def test_processes_are_replicates_end_to_end(tmp_path, fake_device, small_workload, capsys):
    """--processes 3: each group measured in three workers in rounds; one pooled record per case with its
    process medians, per-process samples kept; compare then tests on process medians."""
    from benchsuite.records import read_jsonl
    from benchsuite.results.run import read_records

    dev = fake_device('[runner_options.fake]\nseconds_per_gmac = 0.1\nclock = "simulated"\n', name="fakedev")
    out = tmp_path / "results"
    runs = []
    for _ in range(2):
        assert main(["run", "--device", str(dev), "--workload", str(small_workload()), "--out", str(out),
                     "--no-progress", "--processes", "3", "--no-ceilings"]) == 0
        runs.append(max(p for p in out.iterdir() if p.is_dir()))
    records = [r for r in read_records(runs[0]) if r["metric"] == "latency_forward"]
    assert records and all(r["processes"] == 3 and len(r["process_medians"]) == 3 for r in records)
    assert all(len({r["case_id"] for r in records}) == len(records) for _ in [0])  # one record per case
    assert all("interval covers between-process" in r["message"] for r in records)
    samples = [s for s in read_jsonl(runs[0] / "samples.jsonl") if s["metric"] == "latency_forward"]
    assert all(len(s["process_samples"]) == 3 for s in samples)
    replicates = read_jsonl(runs[0] / "replicates.jsonl")
    assert len(replicates) == 3 * len(records)
    # counts (and probes) are taken once per run, in a case's first process; pooling keeps those
    counted = {r["process"] for r in replicates if any(x["metric"] == "madds" for x in r["records"])}
    assert counted == {1}
    assert {r["case_id"] for r in read_records(runs[0]) if r["metric"] == "madds"} == {r["case_id"] for r in records}
    assert json.loads((runs[0] / "run.json").read_text())["processes"] == 3
    capsys.readouterr()
    assert main(["compare", str(runs[0]), str(runs[1])]) == 0
    out_text = capsys.readouterr().out
    assert "cannot separate" not in out_text and "0 slower" in out_text


def test_compare_tells_a_whole_run_shift_from_one_case_beyond_it():
    """compare on constructed runs of 8 cases, 3 processes a side: the candidate 10% slower as a whole and one
    case 20% slower on top is one run shift of about x1.1 and that one case flagged beyond it (x1.2), where
    judged one by one every case would have been slower."""
    from benchsuite.records import make_record
    from benchsuite.results.compare import compare, format_comparison
    from benchsuite.results.run import SampleKey
    from benchsuite.sweep import Case

    cases = [Case("w", "cpu", "torch_eager", "g1_block_stack", (("c1", 8 * (i + 1)), ("c2", 8)), (), 1, 16,
                  "float32", 1, ("latency_forward",)) for i in range(8)]
    rng = np.random.default_rng(3)

    def run(name, factor, extra):
        recs, samples = [], {}
        for i, c in enumerate(cases):
            f = factor * (extra if i == 2 else 1.0)
            per = [list(1e-3 * (i + 1) * f * np.exp(rng.normal(0, 0.01) + rng.normal(0, 0.01, 30)))
                   for _ in range(3)]
            v = float(np.median(np.concatenate(per)))
            recs.append(make_record(c, "latency_forward", run_id=name, value=v, n=90, ci_low=v, ci_high=v))
            samples[SampleKey(name, c.case_id, "latency_forward")] = per
        return recs, samples

    (ra, sa), (rb, sb) = run("a", 1.0, 1.0), run("b", 1.10, 1.20)
    out = compare(ra, sa, rb, sb, "a", "b")
    (shift,) = out.shifts
    assert shift.outcome == "slower" and 1.07 < shift.ratio < 1.13 and shift.cases == 8
    assert [c.case_id for c in out.regressions] == [cases[2].case_id]
    assert 1.15 < out.regressions[0].beyond_shift < 1.25 and 1.27 < out.regressions[0].ratio < 1.37
    assert "run shift: the candidate is x1.1" in format_comparison(out)
    one_by_one = compare(ra, sa, rb, sb, "a", "b", shifts=False)
    assert len(one_by_one.regressions) == 8 and not one_by_one.shifts
