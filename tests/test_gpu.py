"""The GPU path, for real; every test here skips cleanly on a machine without CUDA."""
import pytest
import torch

from benchsuite.measure import time_block
from benchsuite.spec import load_device
from benchsuite.sweep import Case
from benchsuite.device.preparation import prepare_case

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]


def _case(runner="torch_eager"):
    knobs = (("c1", 128), ("c2", 128), ("multiplier", 1))
    return Case("t", "gpu", runner, "g1_block_stack", knobs, (), 8, 56, "float32", 1,
                ("latency_forward", "latency_backward", "peak_memory_forward"))


def test_event_timing_and_output_on_gpu():
    prepared, records = prepare_case(_case(), load_device("gpu"))
    assert any(r["metric"] == "output_error" and r["value"] < 1e-3 for r in records)
    t = time_block(prepared.timed["latency_forward"], 10)
    assert 1e-6 < t < 1.0 and prepared.timed["latency_forward"].block_timer is not None
    assert "gpu" in prepared.config


def test_cuda_graph_replay_matches():
    from dataclasses import replace

    dev = load_device("gpu")
    dev = replace(dev, runner_options={**dev.runner_options, "torch_eager": {"cuda_graph": True}})
    prepared, records = prepare_case(_case(), dev)
    assert time_block(prepared.timed["latency_forward"], 10) > 0
    # the replayed graph's output, not eager's, is what was checked against the reference
    assert not prepared.output_is_reference and any(r["metric"] == "output_error" for r in records)
