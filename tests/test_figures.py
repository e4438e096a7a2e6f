"""Every report figure, built from constructed records, compiles and renders (Vega-Lite -> SVG through
vl-convert, the same Vega the report inlines): a figure that breaks shows in a test, not in a user's browser."""
import json
from dataclasses import replace

import pytest
import vl_convert

from benchsuite import figures
from benchsuite.runners.tvm.report import convergence_figure
from benchsuite.studies.flops import flops_figure
from benchsuite.studies.guidelines import speed_figure
from benchsuite.studies.resolution import latency_figure
from benchsuite.studies.width_resolution import grid_figure
from benchsuite.records import make_record, to_frame
from benchsuite.studies.base import Verdict
from tests.test_verdicts import _case


def _records():
    recs = []
    for runner in ("torch_eager", "onnxruntime"):
        for width in (0.5, 1.0):
            for res in (128, 224):
                case = replace(_case("mobilenet_v1", {"width": width}, workload="w", resolution=res), runner=runner)
                lat = 0.01 * width * (res / 128) ** 2 * (1 if runner == "torch_eager" else 0.5)
                recs += [make_record(case, "latency_forward", run_id="r", value=lat, ci_low=lat * 0.95,
                                     ci_high=lat * 1.05, n=20),
                         make_record(case, "madds", run_id="r", value=5e8 * width * (res / 224) ** 2, source="modeled"),
                         make_record(case, "memory_access", run_id="r", value=2e7 * width, source="modeled"),
                         make_record(case, "traffic_forward_simulated", run_id="r", value=1e6 * width,
                                     source="simulated"),
                         make_record(case, "energy_forward_modeled", run_id="r", value=0.01 * width, source="modeled"),
                         make_record(case, "arithmetic_intensity", run_id="r", value=50 * width, source="modeled"),
                         make_record(case, "achieved_flops", run_id="r", value=2e10 * width, source="modeled"),
                         *[make_record(case, f"runtime_share_{c}", run_id="r", value=s)
                           for c, s in (("conv", 0.6), ("data", 0.1), ("elemwise", 0.2), ("shuffle", 0.0),
                                        ("other", 0.1))]]
        ceiling = replace(_case("device_ceilings", {}, workload="w"), runner=runner)
        recs += [make_record(ceiling, "ceiling_flops", run_id="r", value=1e11),
                 make_record(ceiling, "ceiling_bandwidth", run_id="r", value=2e10)]
    return recs


def _verdicts():
    return [Verdict("G1", "claim", "holds", {"device": dev, "runner": "torch_eager", "threads": 1,
                                             "metric": "latency_forward", "paper_set": "gpu"},
                    [{"row": {"c1": c}, "speed_ratio": s, "speed_ratio_ci": [s * 0.9, s * 1.1], "latency_s": 0.01,
                      "outcome": "slower", "flops_ratio": 1.0, "paper_speed_ratio": {"gpu": s}}
                     for c, s in ((128, 1.0), (90, 0.9))])
            for dev in ("cpu", "arm-emulated")]


def _tuned_records():
    case = _case("g1_block_stack", {"c1": 32}, workload="w")
    conv = make_record(case, "tuned_kernel_time", run_id="r", value=0.004, source="modeled",
                       config={"convergence": json.dumps([[16, 0.006], [32, 0.005], [64, 0.004]]),
                               "tuning": "tuned"})
    lat = make_record(case, "latency_forward", run_id="r", value=0.0045, config={"tuning": "tuned"})
    return [conv, lat]


FIGURES = {
    "guideline": lambda df: speed_figure(_verdicts()),
    "resolution": latency_figure,
    "multipliers": grid_figure,
    "flops_vs_latency": flops_figure,
    "breakdown": lambda df: figures.breakdown(df, [{"model": "ShuffleNet v2", "platform": "GPU", "conv": "50",
                                                    "data": "20", "elemwise": "20", "shuffle": "5", "other": "5"}]),
    "roofline": figures.roofline,
    "energy": figures.energy,
    "traffic": figures.traffic,
    "trends": lambda df: figures.trends([{"run_id": f"r{i}", "started": f"2026-11-2{i}T00:00:00",
                                          "value": 0.01 + i * 1e-3, "ci_low": 0.009, "ci_high": 0.012,
                                          "label": "case"} for i in range(3)]),
    "tvm_convergence": lambda df: convergence_figure(to_frame(_tuned_records())),
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_figure_renders(name):
    spec = FIGURES[name](to_frame(_records()))
    assert spec is not None, f"{name}: no figure from records that hold its data"
    svg = vl_convert.vegalite_to_svg(spec)
    assert svg.startswith("<svg") and svg.count("<path") + svg.count("<rect") + svg.count("<line") > 10


@pytest.mark.parametrize("name", ["resolution", "multipliers", "flops_vs_latency", "roofline", "energy", "traffic"])
def test_a_figure_without_its_records_is_none(name):
    empty = to_frame([r for r in _records() if r["metric"] == "params"])
    assert FIGURES[name](empty) is None
