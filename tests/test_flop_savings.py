"""The flop_savings study on constructed records (every expectation, every outcome), and the new operator
models' counts against the published figures they stand on."""
import pytest

from benchsuite.counting import count_registered
from benchsuite.errors import BenchsuiteError
from benchsuite.records import make_record
from benchsuite.studies.flop_savings import group_verdict, row_outcome
from tests.test_verdicts import _case, _measure, compute_for

WORKLOADS = {"ops": {"studies": ["flop_savings"]}}
COMPARE = ("kind", "s", "act", "prune")


def _pair(model, knob, values, medians, madds, fixed=None, spread=0.002):
    """Records of one comparison group: a latency and a madds record per row."""
    samples, records = {}, []
    for i, (value, med, m) in enumerate(zip(values, medians, madds)):
        case = _case(model, {knob: value, **(fixed or {})}, compare=COMPARE, workload="ops")
        records.append(_measure(case, med, spread, samples, i + 10))  # seeds as in test_verdicts._g1_records
        if m is not None:
            records.append(make_record(case, "madds", run_id="run-1", value=m, source="modeled"))
    return compute_for(records, samples, WORKLOADS)


@pytest.mark.parametrize("separable_ms,verdict,outcome", [(0.20, "holds", "below"),     # x5 for 8.8x fewer FLOPs
                                                          (0.11, "violated", "reaches"),  # x9.1: FLOPs became speed
                                                          (0.116, "inconclusive", "unresolved")])
def test_depthwise_separable_speed_up_against_its_flop_ratio(separable_ms, verdict, outcome):
    (v,) = _pair("separable_conv_layer", "kind", ["standard", "separable"], [1.0, separable_ms],
                 [462_422_016, 52_283_392], {"c": 512}, spread=0.004)
    assert v.label == "depthwise" and v.verdict == verdict and v.study == "flop_savings"
    (row,) = v.rows
    assert row["flops_ratio"] == pytest.approx(8.845, rel=1e-3) and row["outcome"] == outcome
    assert row["speed_ratio"] == pytest.approx(1 / separable_ms, rel=0.02)
    assert v.scope["c"] == 512 and "Table 3" in v.note
    assert "intervals: paired round by round within one process" in v.note


def test_ghost_modules_are_judged_against_reaching_their_flop_ratio():
    flops = [128e6, 68.7e6, 49.2e6, 38.9e6]
    (held,) = _pair("ghost_conv_stack", "s", [1, 2, 3, 4], [1.0, 0.52, 0.37, 0.29], flops, {"k": 1})
    assert held.verdict == "holds" and [r["outcome"] for r in held.rows] == ["reaches"] * 3
    (broken,) = _pair("ghost_conv_stack", "s", [1, 2, 3, 4], [1.0, 0.52, 0.6, 0.29], flops, {"k": 1})
    assert broken.verdict == "violated" and broken.rows[1]["outcome"] == "below"


def test_activations_are_judged_by_speed_alone():
    (v,) = _pair("activation_stack", "act", ["swish", "hswish", "relu"], [1.0, 0.5, 0.2], [None] * 3, {"c": 672})
    assert v.verdict == "holds" and all(r["flops_ratio"] is None for r in v.rows)
    (v,) = _pair("activation_stack", "act", ["swish", "hswish", "relu"], [1.0, 1.2, 0.2], [None] * 3, {"c": 672})
    assert v.verdict == "violated" and v.rows[0]["outcome"] == "slower"
    (v,) = _pair("activation_stack", "act", ["swish", "hswish"], [1.0, 1.005], [None] * 2, {"c": 672})
    assert v.verdict == "inconclusive" and v.rows[0]["outcome"] == "same"


@pytest.mark.parametrize("unstructured,filters,verdict", [(1.0, 0.3, "holds"),     # dense kernel: same time
                                                           (0.5, 0.3, "violated"),    # sparse speed-up: not "same"
                                                           (1.0, 1.2, "violated"),    # filter pruning slower
                                                           (1.02, 0.3, "inconclusive")])  # at the margin
def test_pruning_expects_the_same_time_unstructured_and_a_speed_up_by_filters(unstructured, filters, verdict):
    (v,) = _pair("pruned_conv_stack", "prune", ["none", "unstructured", "filters"], [1.0, unstructured, filters],
                 [None] * 3, {"c": 256}, spread=0.004)
    assert v.label == "pruning" and v.verdict == verdict
    assert [r["expected"] for r in v.rows] == ["same", "faster"]


def test_a_group_without_its_expensive_operator_gets_no_verdict():
    assert _pair("separable_conv_layer", "kind", ["separable"], [1.0], [52e6], {"c": 512}) == []


def test_row_rules_at_the_margin():
    assert row_outcome("below", 8.0, 8.5, 8.84, 0.02) == "below"        # under 8.84 / 1.02 = 8.67
    assert row_outcome("below", 8.6, 9.0, 8.84, 0.02) == "unresolved"   # straddles 8.67
    assert row_outcome("reaches", 8.7, 9.0, 8.84, 0.02) == "reaches"
    assert row_outcome("below", 1.0, 2.0, None, 0.02) == "unresolved"   # no FLOP ratio: no judgement
    assert group_verdict("below", ["below", "reaches"]) == "violated"
    assert group_verdict("reaches", ["reaches", "unresolved"]) == "inconclusive"
    assert group_verdict("faster", []) == "inconclusive"
    assert group_verdict(["same", "faster"], ["same", "faster"]) == "holds"
    assert group_verdict(["same", "faster"], ["slower", "faster"]) == "violated"


def test_operator_models_count_the_published_figures():
    # MobileNetV1 Table 3 (D_F = 14, M = N = 512): 462M / 2.36M standard, 52.3M / 0.27M separable
    std = count_registered("separable_conv_layer", 14, kind="standard", c=512).totals()
    sep = count_registered("separable_conv_layer", 14, kind="separable", c=512).totals()
    assert round(std["madds"] / 1e6) == 462 and round(std["params"] / 1e6, 2) == 2.36
    assert round(sep["madds"] / 1e6, 1) == 52.3 and round(sep["params"] / 1e6, 2) == 0.27
    # Table 4: the full-convolution MobileNet, 4866M MAdds and 29.3M parameters (within the paper's rounding)
    full = count_registered("mobilenet_v1", 224, separable=False).totals()
    assert full["madds"] / 1e6 == pytest.approx(4866, rel=1e-3) and round(full["params"] / 1e6, 1) == 29.3
    # GhostNet eq. 4 with k = d = 3: speed-up s*c / (s + c - 1)
    c = 128
    ordinary = count_registered("ghost_conv_stack", 28, s=1, c=c, k=3).totals()["madds"]
    for s in (2, 3, 4):
        ghost = count_registered("ghost_conv_stack", 28, s=s, c=c, k=3).totals()["madds"]
        assert ordinary / ghost == pytest.approx(s * c / (s + c - 1), rel=0.01)
    # pruning: the unstructured stack keeps 10% of its weights non-zero, the filter-pruned one 10% of them all
    def nonzero(prune):
        from benchsuite.models import create_model

        return sum(int((w != 0).sum()) for w in create_model("pruned_conv_stack", prune=prune, c=256).parameters())
    assert nonzero("unstructured") == pytest.approx(0.1 * nonzero("none"), rel=1e-3)
    assert nonzero("filters") == pytest.approx(nonzero("unstructured"), rel=1e-3)
    # MobileNetV3-Large: swish in place of hard-swish changes no counted multiply-add (219M published)
    hs = count_registered("mobilenet_v3_large", 224).totals()
    sw = count_registered("mobilenet_v3_large", 224, activation="swish").totals()
    assert hs["madds"] == sw["madds"] and hs["madds"] / 1e6 == pytest.approx(219, rel=0.02)


def test_bad_operator_knobs_are_refused_with_the_valid_values():
    with pytest.raises(BenchsuiteError, match="one of 'standard', 'separable'"):
        count_registered("separable_conv_layer", 14, kind="grouped")
    with pytest.raises(BenchsuiteError, match="one of 'relu', 'relu6', 'hswish', 'swish'"):
        count_registered("activation_stack", 14, act="gelu")
    with pytest.raises(BenchsuiteError, match="one of 'hswish', 'swish', 'relu'"):
        count_registered("mobilenet_v3_large", 224, activation="mish")
    with pytest.raises(BenchsuiteError, match="odd kernels"):  # a combination only the model can judge
        count_registered("ghost_conv_stack", 28, k=2)
