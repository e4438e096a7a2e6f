"""The real pipeline: torch eager on the G1 stack, forward and backward, in worker processes."""
import pytest

from benchsuite import load_runs
from benchsuite.cli import main

pytestmark = pytest.mark.slow


def test_guideline1_quick_arm_set(tmp_path):
    out = tmp_path / "results"
    rc = main(["run", "--device", "cpu", "--workload", "guideline1", "--quick", "--filter", "*paper_set=arm*",
               "--out", str(out), "--no-progress"])
    assert rc == 0
    df = load_runs(next(p for p in out.iterdir() if p.is_dir()))
    df = df[df.model == "g1_block_stack"]  # without the roofline's GEMM probe
    ort = df[(df.runner == "onnxruntime") & df.metric.isin(["latency_forward", "latency_backward"])]
    assert set(ort[ort.metric == "latency_forward"].status) == {"ok"}
    assert set(ort[ort.metric == "latency_backward"].status) == {"unsupported"}
    assert (df[(df.runner == "onnxruntime") & (df.metric == "output_error")].value < 1e-4).all()
    df = df[df.runner == "torch_eager"]
    lat = df[df.metric.isin(["latency_forward", "latency_backward"])]
    assert len(lat) == 8 and (lat.status == "ok").all()
    assert (lat.n >= 7).all() and (lat.ci_low <= lat.value).all() and (lat.value <= lat.ci_high).all()
    assert lat.value.between(1e-5, 1.0).all()
    # backward of a conv stack costs more than its forward
    piv = lat.pivot_table(index="params.c2", columns="metric", values="value")
    assert (piv.latency_backward > piv.latency_forward).all()


def test_peak_memory_probe(tmp_path):
    out = tmp_path / "results"
    rc = main(["run", "--device", "cpu", "--workload", "guideline1", "--filter", "*c1=32,c2=32,multiplier=1*",
               "--runner", "torch_eager", "--out", str(out), "--no-progress", "--processes", "1"])
    assert rc == 0
    df = load_runs(next(p for p in out.iterdir() if p.is_dir()))
    df = df[df.model == "g1_block_stack"].set_index("metric")
    fwd, train = df.loc["peak_memory_forward"], df.loc["peak_memory_train"]
    act = 32 * 56 * 56 * 4  # one activation of the stack, bytes
    assert fwd.status == "ok" and fwd.unit == "B" and fwd.value >= act
    assert train.value > fwd.value  # training keeps activations for the backward


def test_the_bandwidth_ceiling_is_measured():
    """b = a + 1 over 128 MiB arrays gives an ok ceiling_bandwidth record (its Case once had input size 0,
    refused since sizes are checked, and every run lost this ceiling to a worker traceback)."""
    from benchsuite.device.ceilings import bandwidth_records
    from benchsuite.measure import Timing

    (r,) = bandwidth_records("cpu", "t", 1, Timing(warmup_s=0.01, min_sample_s=0.01, min_samples=3, max_time_s=0.3))
    assert r["status"] == "ok" and r["metric"] == "ceiling_bandwidth" and 1e8 < r["value"] < 1e13, r
