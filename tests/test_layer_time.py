"""Where the time goes inside MobileNetV1: the layer_time probe on a small real model, and the study's rule
on constructed records."""
from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch

from benchsuite.measure import Timed
from benchsuite.probes.layer_time import TYPES, LayerTimeProbe, shares_of
from benchsuite.records import make_record
from benchsuite.runners.base import Prepared
from benchsuite.spec import load_device
from benchsuite.studies.layer_time import layer_time_verdicts
from tests.test_verdicts import _case


def test_top_level_ranges_are_shared_out_by_layer_type():
    ev = lambda name, ms: SimpleNamespace(name=name, duration_time_ns=ms * 1e6)  # noqa: E731
    secs = shares_of([ev("layer::conv1x1", 6), ev("layer::conv_dw3x3", 3), ev("aten::relu", 1)])
    assert secs == pytest.approx({"conv1x1": 0.006, "conv_dw3x3": 0.003, "conv3x3": 0, "fully_connected": 0,
                                  "other": 0.001})


def test_the_probe_times_a_real_model_by_layer_type():
    model = torch.nn.Sequential(torch.nn.Conv2d(16, 16, 3, padding=1, groups=16), torch.nn.Conv2d(16, 64, 1),
                                torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                torch.nn.Linear(64, 10)).eval()
    x = torch.randn(1, 16, 56, 56)
    prepared = Prepared(timed={"latency_forward": Timed(run=lambda: model(x))}, output=lambda: None,
                        modules={"eval": model})
    case = replace(_case("m", {}, workload="w"), metrics=tuple(f"time_share_{t}" for t in TYPES))
    out = {r["metric"]: r for r in LayerTimeProbe().measure(prepared, case, load_device("cpu"))}
    # each forward's shares sum to 1; their medians need not, but stay near it
    assert 0.6 < sum(r["value"] for r in out.values()) < 1.4
    for t in ("conv1x1", "conv_dw3x3", "fully_connected", "other"):
        r = out[f"time_share_{t}"]
        assert 0 < r["value"] < 1 and r["ci_low"] <= r["value"] <= r["ci_high"] and r["n"] == 7, (t, r)
    assert out["time_share_conv3x3"]["value"] == 0  # none in this model: measured zero, not unknown


def test_a_runner_without_torch_modules_is_unsupported_with_the_reason():
    case = replace(_case("m", {}, workload="w"), runner="onnxruntime", metrics=("time_share_conv1x1",))
    (r,) = LayerTimeProbe().measure(Prepared(timed={}, output=lambda: None), case, load_device("cpu"))
    assert r["status"] == "unsupported" and "fused graph nodes" in r["message"]


def _records(one_by_one: tuple[float, float, float]):
    case = _case("mobilenet_v1", {"width": 1.0}, workload="lt", resolution=224)
    value, lo, hi = one_by_one
    rest = (1 - value) / 4
    recs = [make_record(case, "time_share_conv1x1", run_id="r", value=value, ci_low=lo, ci_high=hi, n=7)]
    recs += [make_record(case, f"time_share_{t}", run_id="r", value=rest, ci_low=rest, ci_high=rest, n=7)
             for t in TYPES[1:]]
    return recs


@pytest.mark.parametrize("share,verdict", [((0.96, 0.94, 0.97), "holds"), ((0.6, 0.5, 0.7), "violated"),
                                           ((0.94, 0.90, 0.96), "inconclusive")])
def test_the_claim_is_judged_on_the_1x1_share_interval(share, verdict):
    (v,) = layer_time_verdicts(_records(share))
    assert v.verdict == verdict and v.label == "layer time"
    rows = {r["row"]["layer_type"]: r for r in v.rows}
    assert rows["conv1x1"]["madds_share"] == pytest.approx(0.9486, abs=0.002)  # counted, as Table 2 prints
    assert rows["conv_dw3x3"]["paper_madds_share"] == pytest.approx(0.0306)
    assert rows["conv_dw3x3"]["time_per_madds_share"] == pytest.approx(rows["conv_dw3x3"]["time_share"]
                                                                        / rows["conv_dw3x3"]["madds_share"])
