"""The real backends on a small G1 case: output verified against torch eager, one-off costs recorded."""
import pytest
import torch

from benchsuite.measure import time_block
from benchsuite.runners import get_runner, resolved_options
from benchsuite.spec import load_device
from benchsuite.sweep import Case
from benchsuite.preparation import build_case, prepare_case

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


def test_tvm_untuned_and_tuning_reuse(tmp_path):
    db = str(tmp_path / "db")
    prepared, records = _prepare(_case("tvm"), tune=False, database_dir=db)
    assert prepared.config["tuned"] is False and _metrics(records)["output_error"]["value"] < 1e-4
    prepared, records = _prepare(_case("tvm"), trials=4, database_dir=db)
    m = _metrics(records)
    assert prepared.config == {**prepared.config, "tuned": True, "trials": 4, "tuning_reused": False}
    first_tuning = m["tuning_time"]["value"]
    assert m["output_error"]["value"] < 1e-4 and first_tuning > 0
    prepared, records = _prepare(_case("tvm"), trials=4, database_dir=db)
    m = _metrics(records)
    assert prepared.config["tuning_reused"] is True and "re-used tuning records" in m["tuning_time"]["message"]
    assert m["tuning_time"]["value"] < first_tuning
    x = build_case(_case("tvm"))[1]
    assert prepared.output().shape == x.shape


def test_runner_availability_reports_reasons():
    for name in ("torch_eager", "onnxruntime", "torch_compile", "tvm"):
        ok, why = get_runner(name).availability()
        assert ok, f"{name}: {why}"
    assert torch.__version__.startswith("2.")
