"""The equal_flops study (ShuffleNet V2 Table 8: is ShuffleNet V2 the fastest of its FLOP tier?) on
constructed records, and the tier workload's models against the tiers they stand for."""
import pytest

from benchsuite.counting import count_registered
from benchsuite.records import make_record
from benchsuite.spec import load_workload
from benchsuite.studies.equal_flops import COUNT_DIFFERS, table8, table8_row, tier_verdicts, why_not_in_zoo
from tests.test_verdicts import _case, _measure


TABLE8_ROW = {"shufflenet_v2": "ShuffleNet v2 1x", "mobilenet_v1": "0.5 MobileNet v1",
              "shufflenet_v1": "ShuffleNet v1 1x (g=3)"}  # the rows of the 140M tier


def _tier(latencies: dict, tier="140M", spread=0.01):
    """Records of one tier: {model: median latency}; ShuffleNet V2 is the baseline."""
    knobs = {"shufflenet_v2": {"width": 1.0}, "mobilenet_v1": {"width": 0.5}, "shufflenet_v1": {"groups": 3}}
    records, samples = [], {}
    for i, (model, lat) in enumerate(latencies.items()):
        tags = [("tier", tier), ("table8", TABLE8_ROW.get(model, ""))] + (
            [("baseline", True)] if model == "shufflenet_v2" else [])
        case = _case(model, knobs[model], tags=tags, resolution=224)
        records.append(_measure(case, lat, lat * spread, samples, seed=i))
        records.append(make_record(case, "madds", run_id=records[-1]["run_id"], value=140e6 * (1 + i / 20),
                                   source="modeled"))
    return records, samples


@pytest.mark.parametrize("others,verdict", [
    ({"mobilenet_v1": 1.5, "shufflenet_v1": 1.2}, "holds"),      # both slower than ShuffleNet V2
    ({"mobilenet_v1": 0.7, "shufflenet_v1": 1.2}, "violated"),   # MobileNetV1 faster
    ({"mobilenet_v1": 1.0, "shufflenet_v1": 1.2}, "violated"),   # the same speed is no win either
])
def test_shufflenet_v2_must_beat_every_model_of_its_tier(others, verdict):
    records, samples = _tier({"shufflenet_v2": 1.0, **others}, spread=0.002)
    (v,) = tier_verdicts(records, samples)
    assert v.verdict == verdict and v.scope["tier"] == "140M" and v.scope["baseline"].startswith("shufflenet_v2")
    by_model = {r["row"]["model"]: r for r in v.rows}
    for model, lat in others.items():
        assert by_model[model]["latency_ratio"] == pytest.approx(lat, rel=0.02)
    assert by_model["mobilenet_v1"]["flops_ratio"] == pytest.approx(1.05)


def test_noise_wider_than_the_gap_is_inconclusive():
    records, samples = _tier({"shufflenet_v2": 1.0, "mobilenet_v1": 1.02}, spread=0.2)
    (v,) = tier_verdicts(records, samples)
    assert v.verdict == "inconclusive" and v.rows[0]["outcome"] == "unresolved"


def test_tiers_are_judged_apart_and_a_tier_without_shufflenet_v2_gets_no_verdict():
    a, sa = _tier({"shufflenet_v2": 1.0, "mobilenet_v1": 2.0}, tier="40M")
    b, sb = _tier({"mobilenet_v1": 1.0, "shufflenet_v1": 2.0}, tier="300M")
    (v,) = tier_verdicts(a + b, {**sa, **sb})
    assert v.scope["tier"] == "40M"


def test_the_workload_puts_each_model_within_its_tier():
    """Every model of a tier counts within 20% of the tier's nominal multiply-adds (Table 8's tiers)."""
    nominal = {"40M": 40e6, "140M": 140e6, "300M": 300e6, "590M": 590e6}
    wl = load_workload("equal_flops")
    seen = set()
    for sweep in wl.models:
        for row in sweep.rows:
            knobs = {k: v for k, v in row.items() if k not in sweep.tags and k != "resolution"}
            madds = count_registered(sweep.name, row.get("resolution", 224), **knobs).totals()["madds"]
            assert abs(madds / nominal[row["tier"]] - 1) < 0.2, (sweep.name, row, madds)
            seen.add((row["tier"], sweep.name))
    assert all((t, "shufflenet_v2") in seen for t in nominal)


def test_the_tier_figure_renders():
    import vl_convert

    from benchsuite.studies.equal_flops import EqualFlopsStudy

    records, samples = _tier({"shufflenet_v2": 1.0, "mobilenet_v1": 0.8, "shufflenet_v1": 1.2})
    ((spec, alt),) = EqualFlopsStudy().figures(None, tier_verdicts(records, samples))
    assert "<svg" in vl_convert.vegalite_to_svg(spec) and "ShuffleNet V2" in alt


def test_table8_rows_are_matched_to_zoo_configurations_and_their_counts():
    """Every Table 8 row is either run by the equal_flops workload (a row tagged with its name, whose
    multiply-adds are within 5% of the table's or differ for a stated reason) or has a reason for being left
    out; a tagged row's tier is the table's."""
    wl = load_workload("equal_flops")
    matched = {}
    for sweep in wl.models:
        for row in sweep.rows:
            if "table8" in row:
                knobs = {k: v for k, v in row.items() if k not in sweep.tags and k != "resolution"}
                matched[row["table8"]] = (sweep.name, knobs, str(row.get("resolution", 224)), row["tier"])
    for name, row in table8().items():
        assert name in matched or why_not_in_zoo(name), f"Table 8 row {name!r}: no zoo match and no reason"
    assert len(matched) == 17, sorted(matched)
    for name, (model, knobs, res, tier) in matched.items():
        assert table8()[name]["resolution"] == res, (name, "the table's input size")
        assert int(tier.rstrip("M")) // 100 == int(table8()[name]["tier"]) // 100, (name, tier)
        madds = count_registered(model, res, **knobs).totals()["madds"] / 1e6
        off = madds / float(table8()[name]["mflops"]) - 1
        assert abs(off) <= 0.05 or name in COUNT_DIFFERS, (name, f"{off:+.1%}")
    assert table8_row({"tags": {"table8": "0.4 MobileNet v2 (their impl.)"}})["resolution"] == "160"
    assert table8_row({"tags": {"tier": "40M"}}) is None


def test_rows_carry_the_papers_gpu_and_arm_ratios():
    records, samples = _tier({"shufflenet_v2": 1.0, "mobilenet_v1": 1.5, "shufflenet_v1": 1.2}, spread=0.002)
    (v,) = tier_verdicts(records, samples)
    by_model = {r["row"]["model"]: r for r in v.rows}
    # Table 8, 140M tier: 0.5 MobileNet v1 382 batches/s and 16.5 images/s, ShuffleNet v2 1x 341 and 24.4
    assert by_model["mobilenet_v1"]["paper"] == pytest.approx({"gpu": 382 / 341, "arm": 16.5 / 24.4})
    assert by_model["shufflenet_v1"]["paper_row"] == "ShuffleNet v1 1x (g=3)"
    from benchsuite.studies.equal_flops import EqualFlopsStudy

    text = EqualFlopsStudy().format_row(v, by_model["mobilenet_v1"])
    assert "paper speed: gpu x1.12 arm x0.68" in text
