"""`benchsuite tune`: refusals at the door (fast), and a real tune -> run -> resumed tune on a tiny workload (slow)."""
import json
import re

import pytest

from benchsuite import load_runs
from benchsuite.cli import main

TWO_ROWS = """
name = "tinyg1"
studies = ["g1"]
metrics = ["latency_forward"]
resolutions = [16]
compare = ["c1", "c2"]
[[models]]
name = "g1_block_stack"
rows = [{ c1 = 16, c2 = 16 }, { c1 = 8, c2 = 32 }]
"""


def test_tune_refuses_a_device_without_tvm(fake_device, small_workload, capsys):
    assert main(["tune", "--device", str(fake_device()), "--workload", str(small_workload())]) == 2
    assert "does not list the tvm runner" in capsys.readouterr().err


def test_tune_refuses_tvm_inside_a_board_behind_a_transport(fake_device, small_workload, capsys):
    dev = fake_device('[transport]\nkind = "command"\ncommand = ["true"]\n', runners='["tvm"]')
    assert main(["tune", "--device", str(dev), "--workload", str(small_workload())]) == 2
    assert "[remote] RPC tracker" in capsys.readouterr().err


@pytest.mark.parametrize("budget", ["0", "-5m", "ten", "5x"])
def test_tune_refuses_a_bad_budget(budget, capsys):
    with pytest.raises(SystemExit) as e:
        main(["tune", f"--budget={budget}"])
    assert e.value.code == 2 and "duration" in capsys.readouterr().err


def test_tune_takes_several_workloads_in_one_call(fake_device, small_workload, monkeypatch, capsys):
    """--workload repeated: the runner's tuning step receives every workload's cases in one call (so a kernel
    two workloads share is tuned once), with the device ceiling a run of each times through the runner; a
    workload that expands to nothing is named."""
    from benchsuite.runners import Tuned
    from benchsuite.runners.tvm.runner import TVMRunner

    seen = []
    monkeypatch.setattr(TVMRunner, "tune", lambda self, cases, *a, **k: seen.append(cases) or Tuned(0, 0.0, False, ""))
    dev = fake_device(runners='["tvm"]')
    one, two = small_workload(TWO_ROWS, "tinyg1"), small_workload()
    assert main(["tune", "--device", str(dev), "--workload", str(one), "--workload", str(two)]) == 0
    (cases,) = seen
    assert sorted({c.workload for c in cases}) == ["smallg1", "tinyg1"] and len(cases) == 2 + 3 + 2
    # the GEMM ceiling a run times through the runner is tuned with them (one per workload, as a run has it)
    assert sorted(c.workload for c in cases if dict(c.tags).get("calibration") == "ceiling") == ["smallg1", "tinyg1"]
    assert main(["tune", "--device", str(dev), "--workload", str(one), "--workload", str(two),
                 "--filter", "*c1=4,*"]) == 2
    assert "workload 'tinyg1'" in capsys.readouterr().err


@pytest.mark.slow
def test_tune_then_run_then_resume(tmp_path, fake_device, small_workload, capsys):
    """Every task gets the budget; a run then finds every kernel (tuned, with provenance); the same call
    again tunes nothing; a bigger budget tunes only the difference."""
    dev = fake_device(f'[runner_options.tvm]\ndatabase_dir = "{tmp_path / "db"}"\n', runners='["tvm"]')
    wl = small_workload(TWO_ROWS, "tinyg1")
    assert main(["tune", "--device", str(dev), "--workload", str(wl), "--trials-per-task", "2"]) == 0
    captured = capsys.readouterr()
    assert "2 trials/task" in captured.err and "ETA" in captured.err
    assert "tuned " in captured.out and "estimated forward" in captured.out
    first = int(captured.out.split("tuned ")[-1].split()[0])
    tasks = int(re.search(r"(\d+) distinct tasks", captured.out + captured.err).group(1))
    assert 0 < first <= 2 * tasks  # what the tasks had, from the log: a task whose search space ran out has fewer
    from benchsuite.runners.tvm.tuning import COST_MODEL_FILE

    assert len(list((tmp_path / "db").glob(f"*/{COST_MODEL_FILE}"))) == 1  # one model for the target's tasks

    out = tmp_path / "results"
    assert main(["run", "--device", str(dev), "--workload", str(wl), "--out", str(out), "--no-progress",
                 "--no-ceilings"]) == 0
    df = load_runs(out)  # the results folder: its one run (history.sqlite beside it)
    fwd = df[df.metric == "latency_forward"]
    assert (fwd["config.tuning"] == "tuned").all() and (fwd["config.trials_per_task"] == 2).all()
    assert (fwd["config.tasks_tuned"] == fwd["config.tasks"]).all() and (fwd["config.trials_tuned_here"] == 0).all()
    curve = df[df.metric == "tuned_kernel_time"]
    assert len(curve) == 2 and all(json.loads(c)[-1][0] == 2 for c in curve["config.convergence"])
    from benchsuite.runners.tvm.tuning import SearchSettings

    # the provenance names MetaSchedule's knobs that tuning used (the defaults here)
    assert {c for c in fwd["config.search"]} == {json.dumps([SearchSettings().to_dict()], sort_keys=True)}

    assert main(["tune", "--device", str(dev), "--workload", str(wl), "--trials-per-task", "2"]) == 0
    assert "tuned 0 trials" in capsys.readouterr().out
    assert main(["tune", "--device", str(dev), "--workload", str(wl), "--trials-per-task", "3"]) == 0
    third = int(capsys.readouterr().out.split("tuned ")[-1].split()[0])
    assert 0 < third <= tasks  # at most one more per task, no task repeated


def test_tune_says_what_tuning_lacks(fake_device, small_workload, monkeypatch, capsys):
    monkeypatch.setitem(__import__("sys").modules, "xgboost", None)  # importing it now raises ImportError
    dev = fake_device(runners='["tvm"]')
    assert main(["tune", "--device", str(dev), "--workload", str(small_workload())]) == 2
    assert "MetaSchedule tuning needs xgboost" in capsys.readouterr().err


def test_the_target_has_the_vector_features_the_machine_exposes():
    """A VM may report a CPU model whose LLVM name lacks features the machine has (an Intel Xeon with AMX
    and AVX-512 BF16/FP16 seen as 'rocketlake') or implies some it hides (a Zen 4 with AVX-512 masked):
    the target's -mattr follows /proc/cpuinfo, vector features only, and only those LLVM knows."""
    from benchsuite.runners.tvm.runner import machine_mattr

    rocketlake = ["avx", "avx2", "avx512f", "avx512bw", "avx512vnni", "fma", "f16c", "sse4.2", "prefer-256-bit"]
    known = rocketlake + ["amx-tile", "amx-int8", "amx-bf16", "avx512bf16", "avx512fp16", "avxvnni", "sse4.1"]
    xeon = ["fpu", "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni",
            "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_bf16", "amx_tile", "amx_int8", "hypervisor"]
    assert machine_mattr(rocketlake, xeon, known) == ["+amx-bf16", "+amx-int8", "+amx-tile", "+avx512bf16",
                                                      "+avx512fp16", "+avxvnni"]
    epyc_avx2 = ["sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "hypervisor"]
    assert machine_mattr(rocketlake, epyc_avx2, known) == ["-avx512bw", "-avx512f", "-avx512vnni"]
    assert machine_mattr(rocketlake, rocketlake, known) == []  # the name is the machine: nothing to say


def test_a_database_of_another_target_is_refused_by_name(tmp_path):
    from benchsuite.errors import BenchsuiteError
    from benchsuite.runners.tvm.tuning import target_folder, target_name

    ours = {"kind": "llvm", "mcpu": "rocketlake", "mattr": ["+amx-tile"], "num-cores": 2}
    theirs = {"kind": "llvm", "mcpu": "znver4", "num-cores": 2}
    folder = target_folder(tmp_path, ours)
    assert folder.name == target_name(ours) and target_folder(tmp_path, ours) == folder
    assert target_folder(folder, ours) == folder  # database_dir naming the target's own database: used
    other = target_folder(tmp_path, theirs)
    with pytest.raises(BenchsuiteError, match=rf"{other}: a TVM tuning database for target "
                                              rf"{target_name(theirs)} .*not this machine's {target_name(ours)}"):
        target_folder(other, ours)
    (folder / "target.json").write_text(json.dumps(theirs))  # a folder renamed or copied by hand
    with pytest.raises(BenchsuiteError, match="another CPU or thread count"):
        target_folder(tmp_path, ours)


def test_plan_asks_the_tuning_step_to_plan_and_a_step_that_cannot_is_refused(fake_device, small_workload,
                                                                              monkeypatch, capsys):
    from benchsuite.runners import Tuned
    from benchsuite.runners.tvm.runner import TVMRunner

    asked = []

    def planning(self, cases, device, options, *, build, trials_per_task, budget_s, say, plan_only=False):
        asked.append(plan_only)
        return Tuned(0, 0.0, False, "THE PLAN")

    monkeypatch.setattr(TVMRunner, "tune", planning)
    dev = fake_device(runners='["tvm"]')
    assert main(["tune", "--device", str(dev), "--workload", str(small_workload()), "--plan"]) == 0
    out = capsys.readouterr().out
    assert asked == [True] and "THE PLAN" in out and "tuned 0 trials" not in out

    def older(self, cases, device, options, *, build, trials_per_task, budget_s, say):  # a plugin without plans
        return Tuned(0, 0.0, False, "")

    monkeypatch.setattr(TVMRunner, "tune", older)
    assert main(["tune", "--device", str(dev), "--workload", str(small_workload()), "--plan"]) == 2
    assert "cannot plan" in capsys.readouterr().err
