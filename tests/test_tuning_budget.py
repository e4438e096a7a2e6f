"""Per-task tuning budgets, resumption and the convergence estimate, on constructed tuning logs (no TVM)."""
import json

import pytest

from benchsuite.runners.tvm.tune_step import steps
from benchsuite.runners.tvm.tuning import (LOG_FILE, Task, TuningLog, convergence, last_doubling_gain, remaining,
                                           round_size)


def _tasks(*weights):
    return [Task(f"conv{i}-{i:016x}", f"conv{i}", w, None) for i, w in enumerate(weights)]


def _log(folder, entries):
    (folder / LOG_FILE).write_text("".join(json.dumps(e) + "\n" for e in entries))
    return TuningLog(folder)


def test_every_task_gets_the_same_budget_and_only_what_it_lacks(tmp_path):
    a, b, c = _tasks(1, 1, 1)
    log = _log(tmp_path, [
        {"event": "round", "task": a.key, "trials": 32, "best_s": 2e-3},
        {"event": "round", "task": a.key, "trials": 64, "best_s": 1e-3},
        {"event": "finished", "task": a.key, "budget": 64},
        {"event": "round", "task": b.key, "trials": 16, "best_s": 5e-3},  # killed after its first round
    ])
    assert remaining([a, b, c], log, 64) == {b.key: 48, c.key: 64}  # a is done: never tuned again
    assert remaining([a, b, c], log, 128) == {a.key: 64, b.key: 112, c.key: 128}
    assert remaining([a, b, c], log, 16) == {c.key: 16}


def test_a_task_whose_search_space_ran_out_counts_as_done(tmp_path):
    (a,) = _tasks(1)
    log = _log(tmp_path, [{"event": "round", "task": a.key, "trials": 7, "best_s": 1e-4},
                          {"event": "finished", "task": a.key, "budget": 64}])
    assert remaining([a], log, 64) == {} and remaining([a], log, 65) == {a.key: 1}


def test_a_line_cut_short_by_a_kill_loses_only_itself(tmp_path):
    (a,) = _tasks(1)
    (tmp_path / LOG_FILE).write_text(json.dumps({"event": "round", "task": a.key, "trials": 16, "best_s": 1e-3})
                                     + '\n{"event": "round", "task": "' + a.key[:5])
    assert TuningLog(tmp_path).trials(a.key) == 16


def test_convergence_is_the_weighted_sum_of_each_tasks_best_so_far(tmp_path):
    a, b = _tasks(2, 3)
    _log(tmp_path, [
        {"event": "round", "task": a.key, "trials": 16, "best_s": 4e-3},
        {"event": "round", "task": a.key, "trials": 32, "best_s": 1e-3},
        {"event": "round", "task": b.key, "trials": 16, "best_s": None},  # every candidate failed
        {"event": "round", "task": b.key, "trials": 32, "best_s": 2e-3},
        {"event": "round", "task": b.key, "trials": 48, "best_s": 2e-3},
    ])
    curve = convergence([a, b], tmp_path)
    assert [n for n, _ in curve] == [32, 48]  # at 16 trials b had no working kernel yet
    assert curve[0][1] == pytest.approx(2 * 1e-3 + 3 * 2e-3) and curve[1][1] == curve[0][1]
    assert convergence([a, Task("dense-0", "dense", 1, None)], tmp_path) == []  # one never tuned: no estimate


def test_budget_steps():
    assert steps(64, None) == [64]
    assert steps(None, 1800) [:4] == [16, 32, 64, 128]
    assert steps(100, 1800) == [16, 32, 64, 100]
    assert steps(16, 60) == [16]
    assert round_size(4) == 4 and round_size(64) == 32 and round_size(1000) == 32


def test_last_doubling_gain_says_whether_tuning_still_pays():
    assert last_doubling_gain([(16, 3.0), (32, 2.0), (64, 1.6)]) == pytest.approx(0.25)  # 2.0 -> 1.6
    assert last_doubling_gain([(16, 3.0), (32, 2.0), (48, 1.9), (64, 2.0 / 1.01)]) == pytest.approx(0.01)
    assert last_doubling_gain([(16, 3.0)]) is None and last_doubling_gain([(32, 2.0), (48, 1.0)]) is None


def test_the_log_keeps_each_tuning_calls_search_settings_once(tmp_path):
    a, b = _tasks(1, 1)
    lean = {"population": 256, "genetic_iters": 2}
    log = _log(tmp_path, [{"event": "finished", "task": a.key, "budget": 16, "settings": {"population": 512}},
                          {"event": "finished", "task": a.key, "budget": 32, "settings": lean},
                          {"event": "finished", "task": a.key, "budget": 64, "settings": lean},
                          {"event": "finished", "task": b.key, "budget": 64}])  # written before settings were
    assert log.settings == {a.key: [{"population": 512}, lean]}
    log.append(event="finished", task=b.key, budget=128, settings=lean)
    assert TuningLog(tmp_path).settings[b.key] == [lean] == log.settings[b.key]


def test_round_size_follows_the_settings():
    from benchsuite.runners.tvm.tuning import SearchSettings

    assert round_size(64, SearchSettings(max_round=16).max_round) == 16 and round_size(8, 16) == 8
    lean = SearchSettings().to_dict()  # leaner than MetaSchedule's own 512 x 4 generations, 1 x 3 calls x 100 ms
    assert (lean["population"], lean["genetic_iters"], lean["number"], lean["repeat"], lean["min_repeat_ms"]) == \
        (256, 2, 1, 3, 20)


def test_the_shared_cost_model_is_kept_beside_the_database_and_a_broken_one_replaced(tmp_path):
    """What a tuning call learnt is saved in the target's folder and loaded by the next call (its training
    data with it); an unreadable one is set aside with a line in metaschedule.log, not an error."""
    np = pytest.importorskip("numpy")
    xgb = pytest.importorskip("xgboost")
    pytest.importorskip("tvm")
    from tvm.s_tir.meta_schedule.cost_model.xgb_model import FeatureGroup

    from benchsuite.runners.tvm.tuning import COST_MODEL_FILE, _shared_cost_model

    model = _shared_cost_model(tmp_path, 1)
    assert model.data_size == 0 and model.booster is None
    # what update() gathers after a round of 3 candidates of one task, and a model trained on it
    model.data["task"] = FeatureGroup("task", [np.ones((2, 4), "float32")] * 3, np.array([1.0, 2.0, 3.0], "float32"))
    model.booster = xgb.train({}, xgb.DMatrix(np.ones((3, 4)), label=[1.0, 2.0, 3.0]), num_boost_round=1)
    model.save(str(tmp_path / COST_MODEL_FILE))
    again = _shared_cost_model(tmp_path, 1)
    assert again.data_size == 3 and again.booster is not None and list(again.data) == ["task"]
    (tmp_path / COST_MODEL_FILE).write_bytes(b"not a tar file")
    assert _shared_cost_model(tmp_path, 1).data_size == 0
    assert "not loaded" in (tmp_path / "metaschedule.log").read_text()


def test_the_tuning_rate_counts_tuning_time_only(tmp_path):
    """Seconds per trial: each round's time since the line before it, over the trials it added; a call's
    start line begins a span (the time before it is not tuning), and so does a long gap in older logs."""
    from benchsuite.runners.tvm.tuning import CALL_GAP_S

    a, b = _tasks(1, 1)
    log = _log(tmp_path, [
        {"event": "call", "budget": 32, "tasks": 2, "time": 1000.0},
        {"event": "round", "task": a.key, "trials": 16, "best_s": 1e-3, "time": 1040.0},  # set-up counts: 40 s
        {"event": "round", "task": a.key, "trials": 32, "best_s": 1e-3, "time": 1060.0},  # 20 s
        {"event": "finished", "task": a.key, "budget": 32, "time": 1061.0},
        {"event": "round", "task": b.key, "trials": 32, "best_s": 2e-3, "time": 1101.0},  # 40 s for 32
        {"event": "call", "budget": 64, "tasks": 1, "time": 5000.0},  # an hour later: not counted
        {"event": "round", "task": a.key, "trials": 64, "best_s": 1e-3, "time": 5032.0},  # 32 s for 32
        {"event": "round", "task": b.key, "trials": 48, "best_s": 2e-3, "time": 5032.0 + CALL_GAP_S + 1},
    ])
    assert log.seconds_per_trial()[0] == pytest.approx(((40 + 20) + 40 + 32) / (32 + 32 + 32))
    assert log.seconds_per_trial()[1] == 96  # the round after the gap is left out
    assert _log(tmp_path, [{"event": "call", "budget": 16, "tasks": 1, "time": 1.0}]).seconds_per_trial() is None


def test_what_a_budget_reaches_at_a_measured_rate():
    from benchsuite.runners.tvm.tune_step import budget_reach

    def left_at(k):  # ten kernels, none tuned
        return 10 * k

    # 1 s a trial: 16 per kernel cost 160 s, 32 cost 320 s, 64 cost 640 s
    assert budget_reach(left_at, 1.0, 600) == 32 and budget_reach(left_at, 1.0, 640) == 64
    assert budget_reach(left_at, 1.0, 100) == 0
    assert budget_reach(lambda k: max(0, 10 * (k - 64)), 1.0, 640) == 128  # tuned to 64 already


def test_the_plan_counts_each_kernel_once_and_names_what_is_shared(tmp_path):
    """Two workloads sharing a kernel: the plan says so, counts it once and times what is left at the
    log's rate; without a rate it says that no tuning was timed yet."""
    from benchsuite.runners.tvm.tune_step import TargetTasks, plan

    a, b, c = _tasks(1, 1, 1)
    t = TargetTasks({}, None, tmp_path, 1, tasks={x.key: x for x in (a, b, c)},
                    cases={"one": [a, b], "two": [b], "three": [b, c]},
                    workloads={"w1": ["one", "two"], "w2": ["three"]})
    text = plan([t], 64, None)
    assert "no tuning logged" in text and "192 trials" in text
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines()[2:4]}
    assert rows == {"w1": ["2", "3", "2", "0"], "w2": ["1", "2", "2", "1"]}  # cases, kernels, distinct, shared
    assert "together: 3 distinct kernels (4 workload by workload)" in text
    _log(tmp_path, [{"event": "call", "budget": 16, "tasks": 1, "time": 0.0},
                    {"event": "round", "task": a.key, "trials": 16, "best_s": 1e-3, "time": 32.0},
                    {"event": "finished", "task": a.key, "budget": 16, "time": 32.0}])
    text = plan([t], 64, 10 * 60)  # 2 s a trial: 176 trials left to 64 -> ~6 min; 10 min reach 64
    assert "176 trials, estimated 6 min" in text and "30 trials/min" in text
    assert "10 min budget reaches ~64 trials per kernel" in text and "0 never tuned" not in text
