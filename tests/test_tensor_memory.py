"""The memory study (MobileNetV2 Table 3) on constructed records: order, margin, one counted verdict per run."""
from dataclasses import replace

import pytest

from benchsuite.records import make_record
from benchsuite.studies.tensor_memory import order_verdict
from benchsuite.results.verdicts import compute
from tests.test_verdicts import _case

WORKLOADS = {"mem": {"studies": ["tensor_memory"], "reference": "mobilenetv2_memory.csv"}}
LABELS = ("MobileNetV2", "ShuffleNet (2x g=3)", "MobileNetV1")


def _records(measured: dict, counted: dict, runners=("torch_eager", "onnxruntime")):
    records = []
    for runner in runners:
        for label in LABELS:
            case = replace(_case("some_model", {"width": LABELS.index(label)}, [("paper_model", label)],
                                 workload="mem"), runner=runner)
            records.append(make_record(case, "activation_memory_peak", run_id="r", value=counted[label],
                                       source="modeled"))
            if runner == "torch_eager":
                records.append(make_record(case, "peak_memory_forward", run_id="r", value=measured[label]))
    return records


def test_paper_order_holds_and_the_counted_verdict_is_one_per_run():
    sizes = {"MobileNetV2": 4e5, "ShuffleNet (2x g=3)": 6e5, "MobileNetV1": 16e5}
    vs = compute(_records(sizes, sizes), {}, WORKLOADS)
    assert sorted(v.scope["runner"] for v in vs) == ["analytic count", "torch_eager"]  # not one per runner
    assert all(v.verdict == "holds" for v in vs)
    rows = vs[0].rows
    assert [r["row"]["paper_model"] for r in rows] == list(LABELS)
    assert rows[2]["ratio"] == pytest.approx(4.0) and rows[2]["paper_ratio"] == pytest.approx(4.0)


def test_a_reversed_pair_violates_and_a_tie_is_inconclusive():
    measured = {"MobileNetV2": 9e6, "ShuffleNet (2x g=3)": 5e6, "MobileNetV1": 6e6}
    tie = {"MobileNetV2": 4e6, "ShuffleNet (2x g=3)": 4.02e6, "MobileNetV1": 9e6}
    by = {v.scope["runner"]: v for v in compute(_records(measured, tie), {}, WORKLOADS)}
    assert by["torch_eager"].verdict == "violated" and by["torch_eager"].rows[1]["step"] == "smaller"
    assert by["analytic count"].verdict == "inconclusive" and by["analytic count"].rows[1]["step"] == "same"


def test_order_rule():
    assert order_verdict([1, 2, 3], 0.02) == ("holds", ["larger", "larger"])
    assert order_verdict([1, 1.01, 3], 0.02) == ("inconclusive", ["same", "larger"])
    assert order_verdict([1, 0.5], 0.02)[0] == "violated"
