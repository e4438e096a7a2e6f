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
    """Every field as that version judged it; the note may only gain, in front, the text that says how far
    an undecided verdict is from decided (issue 25, after the results layer)."""
    new = [json.loads(json.dumps(v.to_dict(), default=str)) for v in judge([Run.load(OLD_RUN)])]
    old = _old_verdicts()
    assert [{k: v for k, v in n.items() if k != "note"} for n in new] == \
        [{k: v for k, v in o.items() if k != "note"} for o in old]
    assert all(n["note"].endswith(o["note"]) for n, o in zip(new, old))


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
