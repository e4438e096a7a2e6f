"""A run folder written by the previous release (records v2, two processes, before the results layer):
it loads, is judged to the same verdicts it saved then, indexes and reports."""
import json

from benchsuite.records import SCHEMA_VERSION
from benchsuite.results.run import Run
from benchsuite.results.store import History
from benchsuite.results.verdicts import judge
from tests.conftest import REPO

OLD_RUN = REPO / "tests" / "data" / "runs" / "cpu-guideline2-two-processes"


def _old_verdicts() -> list[dict]:
    """verdicts.json as that version wrote it: `study` held the label, `by` the study's name; its scope's
    resolution an integer, where record format v4 writes a size as text ("56", "640x480")."""
    out = []
    for v in json.loads((OLD_RUN / "verdicts.json").read_text()):
        v = dict(v)
        v["label"], v["study"] = v.pop("study"), v.pop("by")
        if "resolution" in v["scope"]:
            v["scope"] = {**v["scope"], "resolution": str(v["scope"]["resolution"])}
        out.append(v)
    return out


def test_the_old_run_loads_with_its_pooled_columns():
    run = Run.load(OLD_RUN)
    assert run.meta.workload == "guideline2" and run.meta.processes == 2 and run.meta.studies == ("g2",)
    assert {r["schema_version"] for r in run.records} == {SCHEMA_VERSION}
    pooled = [r for r in run.records if r["metric"].startswith("latency") and r["status"] == "ok"]
    assert pooled and all(r["processes"] == 2 and len(r["process_medians"]) == 2 for r in pooled)
    assert all(len(run.samples_of(r)) == 2 for r in pooled)  # the samples of each process, kept apart


def test_the_old_run_is_judged_as_it_was():
    """What that version judged, kept: labels, claims, scopes, rows and their latencies. The rows' intervals
    are now judged round by round within each process (replicates.round_ratios; its samples were measured
    interleaved then as now), so they changed, narrower here: every row that version decided is decided
    the same way, and the rows it left unresolved may now be decided."""
    new = [json.loads(json.dumps(v.to_dict(), default=str)) for v in judge([Run.load(OLD_RUN)])]
    old = _old_verdicts()
    keep = ("label", "claim", "scope", "study", "margin")
    assert [{k: n[k] for k in keep} for n in new] == [{k: o[k] for k in keep} for o in old]
    for n, o in zip(new, old):
        assert [r["row"] for r in n["rows"]] == [r["row"] for r in o["rows"]]
        assert [r["latency_s"] for r in n["rows"]] == [r["latency_s"] for r in o["rows"]]
        for rn, ro in zip(n["rows"], o["rows"]):
            assert ro["outcome"] == "unresolved" or rn["outcome"] == ro["outcome"], (rn, ro)
        assert o["verdict"] == "inconclusive" or n["verdict"] == o["verdict"]
    widths = [(r["latency_ratio_ci"][1] / r["latency_ratio_ci"][0], q["latency_ratio_ci"][1] / q["latency_ratio_ci"][0])
              for n, o in zip(new, old) for r, q in zip(n["rows"], o["rows"]) if r["outcome"] != "baseline"]
    assert sum(a < b for a, b in widths) > len(widths) / 2  # mostly narrower round by round


def test_the_old_run_indexes_and_reports(tmp_path):
    from benchsuite.report import build_report

    history = History(tmp_path / "history.sqlite")
    history.add_run(Run.load(OLD_RUN))
    from_index = Run.load(json.loads((OLD_RUN / "run.json").read_text())["run_id"], history)
    assert len(from_index.records) == len(Run.load(OLD_RUN).records)
    assert {r["processes"] for r in from_index.records if r["metric"] == "latency_forward"} == {2}
    assert [v.to_dict() for v in judge([from_index])] == [v.to_dict() for v in judge([Run.load(OLD_RUN)])]
    page = build_report([OLD_RUN], tmp_path / "report").read_text()
    assert "G2" in page and "more groups are slower at equal FLOPs" in page
