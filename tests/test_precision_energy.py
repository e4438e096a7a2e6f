"""The precision_energy study (the compression post's 16-bit energy claim) on constructed records, and the
modeled energy ratio it rests on."""
from dataclasses import replace

import pytest

from benchsuite.counting import count_registered
from benchsuite.energy_model import Caches, modeled_energy
from benchsuite.records import make_record
from benchsuite.studies.precision_energy import precision_verdicts
from tests.test_verdicts import _case


def _pair(metric, e32, e16, ci=0.0, runner="torch_eager"):
    recs = []
    for dtype, e in (("float32", e32), ("float16", e16)):
        case = replace(_case("g1_block_stack", {"c1": 8, "c2": 8}, workload="p"), dtype=dtype, runner=runner)
        source = "modeled" if metric.endswith("modeled") else "measured"
        recs.append(make_record(case, metric, run_id="r", value=e, ci_low=e * (1 - ci), ci_high=e * (1 + ci),
                                source=source))
        recs.append(make_record(case, "latency_forward", run_id="r", value=e * 10))
    return recs


@pytest.mark.parametrize("e16,verdict", [(1 / 2.9, "holds"), (1 / 2.0, "violated")])
def test_modeled_ratio_against_almost_3x(e16, verdict):
    (v,) = precision_verdicts(_pair("energy_forward_modeled", 1.0, e16))
    assert v.verdict == verdict and v.scope["runner"] == "energy model"
    assert v.rows[0]["ratio"] == pytest.approx(1 / e16) and v.rows[0]["latency_ratio"] == {"torch_eager": 1 / e16}


def test_measured_ratio_uses_the_intervals():
    (v,) = precision_verdicts(_pair("energy_forward", 1.0, 1 / 2.6, ci=0.05))  # 2.6 but [2.35, 2.87]
    assert v.verdict == "inconclusive" and v.rows[0]["ratio_ci"][0] < 2.45 < v.rows[0]["ratio_ci"][1]
    (v,) = precision_verdicts(_pair("energy_forward", 1.0, 1 / 3.0, ci=0.01))
    assert v.verdict == "holds" and v.scope["runner"] == "torch_eager"


def test_a_case_without_its_float16_twin_gets_no_verdict():
    assert precision_verdicts(_pair("energy_forward_modeled", 1.0, 0.4)[:2]) == []


def test_the_energy_model_gives_float16_3x_on_arithmetic_and_2x_on_memory():
    counts32 = count_registered("g1_block_stack", 56, dtype="float32", c1=128, c2=128)
    counts16 = count_registered("g1_block_stack", 56, dtype="float16", c1=128, c2=128)
    _, _, c32 = modeled_energy(counts32, "float32", Caches({}, "none"))
    _, _, c16 = modeled_energy(counts16, "float16", Caches({}, "none"))
    assert c32["arithmetic_uj"] / c16["arithmetic_uj"] == pytest.approx(4.6 / 1.5, rel=0.02)
    assert c32["uj_by_level"]["DRAM"] / c16["uj_by_level"]["DRAM"] == pytest.approx(2.0)
