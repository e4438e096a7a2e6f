"""The real backends on a small G1 case: output verified against torch eager, one-off costs recorded."""
from pathlib import Path

import pytest
import torch

from benchsuite.measure import time_block
from benchsuite.runners import get_runner, resolved_options
from benchsuite.spec import load_device
from benchsuite.sweep import Case
from benchsuite.device.preparation import build_case, prepare_case

pytestmark = pytest.mark.slow
CPU = load_device("cpu")


def _case(runner, **knobs):
    knobs = {"c1": 16, "c2": 32, "multiplier": 1, **knobs}
    return Case("t", "cpu", runner, "g1_block_stack", tuple(sorted(knobs.items())), (), 1, 16, "float32", 1,
                ("latency_forward", "latency_backward"))


def _prepare(case, **options):
    from dataclasses import replace

    dev = replace(CPU, runner_options={case.runner: options})
    return prepare_case(case, dev)


def _metrics(records):
    return {r["metric"]: r for r in records}


def test_onnxruntime_runner():
    prepared, records = _prepare(_case("onnxruntime"))
    m = _metrics(records)
    assert m["output_error"]["value"] < 1e-5 and m["export_time"]["value"] > 0 and m["session_time"]["value"] > 0
    assert "latency_backward" in prepared.unsupported and "inference only" in prepared.unsupported["latency_backward"]
    assert time_block(prepared.timed["latency_forward"], 3) > 0
    assert prepared.config["provider"] == "CPUExecutionProvider"


def test_onnxruntime_exports_once_per_run(tmp_path, monkeypatch):
    """The processes of one run reuse the first one's export (run_cache): no export time of their own, the
    same output; outside a run every prepare exports."""
    from benchsuite import run_cache

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    run_cache.use("t-run")
    try:
        first, first_records = _prepare(_case("onnxruntime"))
        again, again_records = _prepare(_case("onnxruntime"))
    finally:
        run_cache.use(None)
    assert "export_time" in _metrics(first_records) and "export_time" not in _metrics(again_records)
    assert torch.equal(first.output(), again.output())
    assert list(run_cache.folder("t-run").glob("*.onnx"))
    _, outside = _prepare(_case("onnxruntime"))
    assert "export_time" in _metrics(outside)


def test_onnxruntime_rejects_bad_option():
    with pytest.raises(ValueError, match="graph_optimization_level"):
        _prepare(_case("onnxruntime"), graph_optimization_level="max")
    with pytest.raises(ValueError, match="has no option"):
        resolved_options(get_runner("onnxruntime"), {"nope": 1})


def test_torch_compile_runner():
    prepared, records = _prepare(_case("torch_compile"))
    m = _metrics(records)
    assert m["compile_time"]["value"] > 0 and m["compile_time_train"]["value"] > 0
    assert m["output_error"]["value"] < 1e-4
    assert time_block(prepared.timed["latency_backward"], 2) > 0


def test_tvm_untuned_then_tuned_per_task(tmp_path):
    """Without tuning a case says untuned; tuning gives every task its own trials (none left on its default
    schedule); a second run finds them all and tunes nothing (a bigger budget: tests/test_cli tune test)."""
    import json

    from tvm.s_tir import meta_schedule as ms

    from benchsuite.runners.tvm.tuning import LOG_FILE, PRUNED_PREFIX

    db = str(tmp_path / "db")
    prepared, records = _prepare(_case("tvm"), database_dir=db)
    m = _metrics(records)
    assert prepared.config["tuning"] == "untuned" and prepared.config["tuned"] is False
    assert prepared.config["tasks"] >= 2 and prepared.config["tasks_tuned"] == 0
    assert "benchsuite tune --device cpu --workload t" in m["tuning_time"]["message"]
    assert m["output_error"]["value"] < 1e-4 and "tuned_kernel_time" not in m

    prepared, records = _prepare(_case("tvm"), tune=True, trials=3, database_dir=db)
    m = _metrics(records)
    cfg = prepared.config
    assert cfg["tuning"] == "tuned" and cfg["tasks_tuned"] == cfg["tasks"] and cfg["tasks_missed"] == ""
    assert cfg["trials_per_task"] == 3 and cfg["trials_tuned_here"] == 3 * cfg["tasks"]
    assert m["output_error"]["value"] < 1e-4 and m["tuning_time"]["value"] > 0
    curve = json.loads(m["tuned_kernel_time"]["config"]["convergence"])
    assert m["tuned_kernel_time"]["source"] == "modeled" and curve[-1][0] == 3 and curve[-1][1] > 0
    rounds = [json.loads(ln) for ln in (Path(cfg["database"]) / LOG_FILE).read_text().splitlines()]
    assert {r["event"] for r in rounds if "task" not in r} == {"call"}  # each tuning call logs its start
    assert {r["task"] for r in rounds if "task" in r} == {r["task"] for r in rounds if r["event"] == "finished"}

    # a run reads the best record of each kernel, kept beside the database under the database's id
    folder = Path(cfg["database"])
    assert list(folder.glob(f"{PRUNED_PREFIX}*")) == [folder / f"{PRUNED_PREFIX}{cfg['database_id']}"]
    assert len(ms.database.JSONDatabase(work_dir=str(folder / f"{PRUNED_PREFIX}{cfg['database_id']}"))) == cfg["tasks"]

    prepared, records = _prepare(_case("tvm"), tune=True, trials=3, database_dir=db)
    assert prepared.config["trials_tuned_here"] == 0 and prepared.config["database_id"] == cfg["database_id"]
    assert "no tuning in this run" in _metrics(records)["tuning_time"]["message"]
    x = build_case(_case("tvm"))[1]
    assert prepared.output().shape == x.shape

    # new records: the pruned copy is made anew and the stale one goes
    prepared, records = _prepare(_case("tvm"), tune=True, trials=4, database_dir=db)
    new_id = prepared.config["database_id"]
    assert new_id != cfg["database_id"] and prepared.config["trials_tuned_here"] == cfg["tasks"]
    assert list(folder.glob(f"{PRUNED_PREFIX}*")) == [folder / f"{PRUNED_PREFIX}{new_id}"]


def test_runner_availability_reports_reasons():
    for name in ("torch_eager", "onnxruntime", "torch_compile", "tvm"):
        ok, why = get_runner(name).availability()
        assert ok, f"{name}: {why}"
    assert torch.__version__.startswith("2.")
