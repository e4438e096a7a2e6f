"""Non-square inputs (HEIGHTxWIDTH) through workload, sweep and model, and the input_sizes study (ShuffleNet V2
appendix: is ShuffleNet V2 the fastest of its tier at every input size?) on constructed records."""
import numpy as np
import pytest

from benchsuite.input_size import InputSize, parse_input_size
from benchsuite.spec import load_device, load_workload
from benchsuite.studies.input_sizes import (INPUT_SIZES, InputSizesStudy, appendix, paper_exponents, paper_row,
                                            scaling_verdicts)
from benchsuite.studies.equal_flops import tier_verdicts
from benchsuite.sweep import expand
from tests.test_verdicts import _case, _measure

SIZES = ("224", "320", "640x480", "1080x720")
KNOBS = {"shufflenet_v2": {"width": 0.5}, "shufflenet_v1": {"groups": 3, "scale": 0.5},
         "mobilenet_v2": {"width": 0.25}}
FAMILY = {"shufflenet_v2": "ShuffleNet v2", "shufflenet_v1": "ShuffleNet v1", "mobilenet_v2": "MobileNet v2"}
TABLE8 = {"shufflenet_v2": "ShuffleNet v2 0.5x", "shufflenet_v1": "ShuffleNet v1 0.5x (g=3)", "mobilenet_v2": ""}


def test_sizes_parse_and_print_height_first():
    assert parse_input_size(224) == parse_input_size("224") == InputSize(224, 224)
    size = parse_input_size("640x480")
    assert (size.height, size.width, size.pixels, str(size), size.key) == (640, 480, 307200, "640x480", "640x480")
    assert parse_input_size(224).key == 224  # square case ids hash the integer they always did
    for bad in ("0x5", "5x", "axb", 0, -3, True, 2.5, "224x0"):
        with pytest.raises(ValueError, match="bad input size"):
            parse_input_size(bad)


def test_a_non_square_input_reaches_the_model(small_workload, fake_device):
    from benchsuite.device.preparation import build_case

    text = ('name = "wide"\nmetrics = ["latency_forward"]\nresolutions = [16, "24x40"]\n[[models]]\n'
            'name = "g1_block_stack"\nrows = [{ c1 = 8, c2 = 8 }]\n')
    cases = expand(load_workload(str(small_workload(text, "wide"))), load_device(str(fake_device())))
    wide = next(c for c in cases if not c.resolution.square)
    assert (wide.resolution.height, wide.resolution.width) == (24, 40) and "r24x40" in wide.label
    model, x = build_case(wide)
    assert tuple(x.shape[2:]) == (24, 40)
    assert model(x).shape[0] == 1


def test_the_workload_runs_the_appendix_grid():
    wl = load_workload("input_sizes")
    assert [str(r) for r in wl.resolutions] == list(SIZES)
    cases = [c for c in expand(wl, load_device("cpu")) if c.runner == "torch_eager"]
    assert len(cases) == 3 * 4 * 4
    quick = [c for c in expand(wl, load_device("cpu"), quick=True) if c.runner == "torch_eager"]
    assert {dict(c.tags)["tier"] for c in quick} == {"40M", "140M"} and len(quick) == 3 * 2 * 4
    for c in cases:  # every (family, tier) row at every larger size has its appendix row
        tags = dict(c.tags)
        rec = {"resolution": str(c.resolution), "tags": tags}
        row = paper_row(rec)
        if str(c.resolution) != "224":
            assert row and row["model"].startswith(tags["appendix"]), rec
        else:
            assert (row is None) == (tags["table8"] == ""), rec


def _grid(latency, sizes=SIZES, spread=0.002):
    """Records of the 40M tier at each size: latency(model, pixels) -> seconds."""
    records, samples = [], {}
    for i, (model, knobs) in enumerate(KNOBS.items()):
        for j, size in enumerate(sizes):
            tags = [("tier", "40M"), ("appendix", FAMILY[model]), ("table8", TABLE8[model])] + (
                [("baseline", True)] if model == "shufflenet_v2" else [])
            case = _case(model, knobs, tags=tags, resolution=size, workload="input_sizes")
            lat = latency(model, parse_input_size(size).pixels)
            records.append(_measure(case, lat, lat * spread, samples, seed=10 * i + j))
    return records, samples


def test_shufflenet_v2_must_win_at_every_size():
    rel = {"shufflenet_v2": 1.0, "shufflenet_v1": 1.2, "mobilenet_v2": 1.3}
    records, samples = _grid(lambda m, px: rel[m] * px * 1e-7)
    (v,) = tier_verdicts(records, samples, claim=INPUT_SIZES)
    assert v.verdict == "holds" and len(v.rows) == 2 * len(SIZES)
    assert [r["row"]["resolution"] for r in v.rows][::2] == list(SIZES)  # by size, smallest first
    # MobileNet v2 overtakes ShuffleNet V2 at the largest size only: violated
    records, samples = _grid(lambda m, px: rel[m] * px * 1e-7 * (0.5 if m == "mobilenet_v2" and px > 5e5 else 1))
    (v,) = tier_verdicts(records, samples, claim=INPUT_SIZES)
    assert v.verdict == "violated"
    assert [r["outcome"] for r in v.rows if r["row"]["model"] == "mobilenet_v2"][-1] == "faster"


def test_rows_carry_the_appendix_ratios_at_their_size():
    records, samples = _grid(lambda m, px: px * 1e-7 * (1 if m == "shufflenet_v2" else 1.5))
    (v,) = tier_verdicts(records, samples, claim=INPUT_SIZES)
    at = {(r["row"]["model"], r["row"]["resolution"]): r for r in v.rows}
    # appendix, 40M at 640x480: MobileNet v2 338 batches/s and 3.8 images/s, ShuffleNet v2 424 and 9.3
    assert at[("mobilenet_v2", "640x480")]["paper"] == pytest.approx({"gpu": 338 / 424, "cpu": 3.8 / 9.3})
    # at 224 the paper's numbers are Table 8's (ShuffleNet v1 0.5x g=3: 347 and 56.8; ShuffleNet v2 0.5x: 417, 57.0)
    assert at[("shufflenet_v1", "224")]["paper"] == pytest.approx({"gpu": 347 / 417, "cpu": 56.8 / 57.0})
    assert at[("mobilenet_v2", "224")]["paper"] == {} and at[("mobilenet_v2", "224")]["paper_row"] is None
    text = InputSizesStudy().format_row(v, at[("mobilenet_v2", "640x480")])
    assert "640x480 mobilenet_v2 width=0.25" in text and "gpu x0.80 cpu x0.41" in text


def test_scaling_fits_each_models_exponent_beside_the_papers():
    power = {"shufflenet_v2": 0.8, "shufflenet_v1": 0.9, "mobilenet_v2": 1.1}
    records, _ = _grid(lambda m, px: 1e-3 * (px / 5e4) ** power[m])
    (v,) = scaling_verdicts(records)
    assert v.verdict == "holds" and "resolution" not in v.scope
    by = {r["model"].split()[0]: r for r in v.rows}
    for model, k in power.items():
        assert by[model]["exponent"] == pytest.approx(k, abs=0.02) and by[model]["points"] == 4
        lo, hi = by[model]["exponent_ci"]
        assert lo < k < hi
    # the appendix's CPU speeds fall about as fast as pixels grow; its batch-8 GPU is far from saturated at 40M
    cpu = paper_exponents("ShuffleNet v2", 40)["cpu"]
    px = [parse_input_size(s).pixels for s in ("320", "640x480", "1080x720")]
    speeds = [appendix()[(s, "ShuffleNet v2", 40)]["cpu_images_per_s"] for s in ("320", "640x480", "1080x720")]
    assert cpu == pytest.approx(np.polyfit(np.log(px), -np.log(np.array(speeds, float)), 1)[0])
    assert 0.9 < cpu < 1.2 and paper_exponents("ShuffleNet v2", 40)["gpu"] < 0.3
    assert by["shufflenet_v2"]["paper"]["cpu"] == pytest.approx(cpu)


def test_the_two_figures_render():
    import vl_convert

    from benchsuite.records import to_frame

    records, samples = _grid(lambda m, px: px * 1e-7 * (1 if m == "shufflenet_v2" else 1.3))
    study = InputSizesStudy()
    figs = study.figures(to_frame(records), study.verdicts(records, samples, _info()))
    assert len(figs) == 2
    for spec, alt in figs:
        assert spec and "<svg" in vl_convert.vegalite_to_svg(spec), alt


def _info():
    from benchsuite.studies.base import WorkloadInfo

    return WorkloadInfo("input_sizes")
