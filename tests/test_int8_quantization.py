"""Post-training int8: the study's verdict rule on constructed records, onnxruntime's quantization of a small
model (static with a generated calibration set, and dynamic), the torch runners' `unsupported`, and the
counts and modeled energy of the int8 dtypes."""
from dataclasses import replace

import pytest

from benchsuite.counting import count_registered
from benchsuite.energy_model import Caches, modeled_energy
from benchsuite.records import make_record
from benchsuite.runners import UnsupportedCase, check_dtype, get_runner
from benchsuite.studies.int8_quantization import int8_verdicts
from tests.test_verdicts import _case


def _records(int8_latency, ci=0.01, mode="int8_static", sizes=(4000, 1000)):
    recs = []
    for dtype, lat, size in (("float32", 1.0, sizes[0]), (mode, int8_latency, sizes[1])):
        case = replace(_case("g1_block_stack", {"c1": 8, "c2": 8}, workload="p"), dtype=dtype, runner="onnxruntime")
        recs.append(make_record(case, "latency_forward", run_id="r", value=lat, ci_low=lat * (1 - ci),
                                ci_high=lat * (1 + ci)))
        recs.append(make_record(case, "model_size", run_id="r", value=size))
        recs.append(make_record(case, "energy_forward_modeled", run_id="r", value=size * 1e-6, source="modeled"))
    return recs


@pytest.mark.parametrize("latency,verdict,outcome", [(0.5, "holds", "faster"), (1.0, "violated", "same"),
                                                     (2.0, "violated", "slower"), (0.98, "inconclusive", "unresolved")])
def test_int8_verdict_is_about_speed_with_size_and_energy_beside(latency, verdict, outcome):
    (v,) = int8_verdicts(_records(latency, ci={"same": 0.004, "unresolved": 0.03}.get(outcome, 0.01)), {})
    r = v.rows[0]
    assert (v.verdict, r["outcome"]) == (verdict, outcome)
    assert r["speed_ratio"] == pytest.approx(1 / latency) and r["size_ratio"] == pytest.approx(4.0)
    assert r["energy_ratio_modeled"] == pytest.approx(4.0) and r["energy_ratio_measured"] is None
    assert v.scope["quantization"] == "static" and v.scope["runner"] == "onnxruntime"


def test_int8_without_its_float32_twin_gets_no_verdict():
    assert int8_verdicts([r for r in _records(0.5) if r["dtype"] != "float32"], {}) == []


def test_runners_say_which_dtypes_they_run():
    for name in ("torch_eager", "torch_compile", "tvm"):
        with pytest.raises(UnsupportedCase, match="not int8_static"):
            check_dtype(get_runner(name), "int8_static")
    with pytest.raises(UnsupportedCase, match="float32 only|runs float32, not float16"):
        check_dtype(get_runner("tvm"), "float16")
    check_dtype(get_runner("onnxruntime"), "int8_dynamic")


def test_a_torch_case_in_int8_is_unsupported_not_an_error():
    from benchsuite.spec import load_device
    from benchsuite.device.worker import measure_group

    case = replace(_case("g1_block_stack", {"c1": 8, "c2": 8}, workload="p"), dtype="int8_static",
                   runner="torch_eager", resolution=8, metrics=("latency_forward",))
    sent = []
    measure_group([case], load_device("cpu"), True, sent.append)
    (msg,) = [m for m in sent if m["type"] == "case"]
    (lat,) = [r for r in msg["records"] if r["metric"] == "latency_forward"]
    assert lat["status"] == "unsupported" and "int8_static runs under: onnxruntime" in lat["message"]
    assert any(r["metric"] == "madds" and r["status"] == "ok" for r in msg["records"])  # the counts still come


@pytest.mark.skipif(not get_runner("onnxruntime").availability()[0], reason="onnxruntime not installed")
@pytest.mark.parametrize("mode", ["int8_static", "int8_dynamic"])
def test_onnxruntime_quantizes_and_the_int8_model_is_smaller(mode):
    from benchsuite.device.preparation import prepare_case
    from benchsuite.spec import load_device

    sizes = {}
    for dtype in ("float32", mode):
        case = replace(_case("g1_block_stack", {"c1": 64, "c2": 64}, workload="p"), dtype=dtype,
                       runner="onnxruntime", resolution=8, metrics=("latency_forward",))
        prepared, records = prepare_case(case, load_device("cpu"))
        got = {r["metric"]: r for r in records}
        sizes[dtype] = got["model_size"]["value"]
        assert got["output_error"]["status"] == "ok"  # within the dtype's tolerance, or prepare_case raises
        prepared.timed["latency_forward"].run()
    assert "quantization_time" in got and got["model_size"]["config"]["quantization"].startswith(mode[5:9])
    # 20 1x1 convs of 64x64 weights: 4 bytes each in float32, 1 in int8 (plus scales, zero points, graph)
    assert sizes["float32"] / sizes[mode] > 2.5, sizes


def test_int8_counts_and_modeled_energy():
    f32 = count_registered("g1_block_stack", 56, dtype="float32", c1=128, c2=128).totals()
    st = count_registered("g1_block_stack", 56, dtype="int8_static", c1=128, c2=128).totals()
    dyn = count_registered("g1_block_stack", 56, dtype="int8_dynamic", c1=128, c2=128).totals()
    assert st["mac_bytes"] * 4 == f32["mac_bytes"] and st["madds"] == f32["madds"]
    weights = f32["params"] * 4
    assert dyn["mac_bytes"] == f32["mac_bytes"] - weights + weights // 4  # int8 weights, float32 activations
    counts = count_registered("g1_block_stack", 56, dtype="int8_static", c1=128, c2=128)
    _, how, config = modeled_energy(counts, "int8_static", Caches({}, "none"))
    assert config["arithmetic_uj"] == pytest.approx(f32["madds"] * 0.23e-6, rel=1e-6) and "int8_static" in how


def test_the_int8_figure_renders():
    import vl_convert

    from benchsuite.studies.int8_quantization import Int8QuantizationStudy

    ((spec, _),) = Int8QuantizationStudy().figures(None, int8_verdicts(_records(0.5), {}))
    assert "<svg" in vl_convert.vegalite_to_svg(spec)


def test_the_int8_tolerance_still_refuses_an_all_zero_or_garbage_output():
    import torch

    from benchsuite.device.preparation import OUTPUT_TOLERANCE, relative_error

    ref = torch.randn(1, 1000, generator=torch.Generator().manual_seed(0))
    for dtype in ("int8_static", "int8_dynamic"):
        assert relative_error(torch.zeros_like(ref), ref) > OUTPUT_TOLERANCE[dtype]
        assert relative_error(-ref, ref) > OUTPUT_TOLERANCE[dtype]
        assert relative_error(ref * 1.1, ref) < OUTPUT_TOLERANCE[dtype]


def test_int8_on_a_gpu_profile_is_unsupported_with_the_reason():
    from benchsuite.spec import load_device

    case = replace(_case("g1_block_stack", {"c1": 8, "c2": 8}, workload="p"), dtype="int8_static",
                   runner="onnxruntime", resolution=8)
    import torch

    model, x = torch.nn.Identity(), torch.zeros(1, 8, 8, 8)
    with pytest.raises(UnsupportedCase, match="CUDA provider has no int8"):
        get_runner("onnxruntime").prepare(model, x, case, get_runner("onnxruntime").options, load_device("gpu"))
