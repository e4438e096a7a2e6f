import json

import pytest

from benchsuite.records import COLUMNS, append_jsonl, make_record, read_jsonl, to_frame
from benchsuite.results.run import load_runs, read_records
from benchsuite.sweep import Case
from tests.conftest import REPO

GOLDEN_V1 = REPO / "tests" / "data" / "golden_records_v1.jsonl"
GOLDEN_V2 = REPO / "tests" / "data" / "golden_records_v2.jsonl"
GOLDEN_V3 = REPO / "tests" / "data" / "golden_records_v3.jsonl"
GOLDEN = REPO / "tests" / "data" / "golden_records_v4.jsonl"
CASE = Case("guideline1", "cpu", "torch_eager", "g1_block_stack", (("c1", 128), ("c2", 128), ("multiplier", 1)),
            (("paper_set", "gpu"),), 1, 56, "float32", 1, ("latency_forward", "latency_backward"), ("c1", "c2"))


def _golden_records():
    return [
        make_record(CASE, "latency_forward", run_id="golden-run", value=0.0234, n=15, ci_low=0.0232,
                    ci_high=0.0241, iqr=0.0004, min=0.0229, max=0.026, config={"channels_last": False}),
        make_record(CASE, "latency_backward", run_id="golden-run", status="error", message="RuntimeError: boom"),
        make_record(CASE, "peak_memory_forward", run_id="golden-run", status="unsupported",
                    message="no allocator to read"),
        {**make_record(CASE, "latency_forward", run_id="golden-run", value=0.0236, n=45, ci_low=0.0230,
                       ci_high=0.0245, message="3 processes; interval covers run-to-run variation"),
         "processes": 3, "process_medians": [0.0233, 0.0236, 0.0240]},
    ]


def test_write_matches_golden_file(tmp_path):
    out = tmp_path / "records.jsonl"
    append_jsonl(out, _golden_records())
    assert out.read_text() == GOLDEN.read_text()


def test_v1_file_upgrades_to_the_current_version(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "records.jsonl").write_text(GOLDEN_V1.read_text())
    assert [r["schema_version"] for r in read_records(run)] == [4, 4, 4]
    assert {r["processes"] for r in read_records(run)} == {None}
    assert read_records(run)[0]["value"] == 0.0234


def test_v2_file_upgrades_with_the_process_columns_it_carried(tmp_path):
    """v2 records carried processes / process_medians as extra keys (pooled runs) or not at all."""
    run = tmp_path / "run"
    run.mkdir()
    rows = [json.loads(line) for line in GOLDEN_V2.read_text().splitlines()]
    rows[0].update(processes=3, process_medians=[0.023, 0.0234, 0.024])
    (run / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = read_records(run)
    assert [r["schema_version"] for r in got] == [4] * len(rows)
    assert got[0]["processes"] == 3 and got[0]["process_medians"] == [0.023, 0.0234, 0.024]
    assert got[1]["processes"] is None and got[1]["process_medians"] is None


def test_v3_file_upgrades_with_height_and_width_equal_to_its_resolution(tmp_path):
    """Every record before v4 was square: resolution 56 is height 56 and width 56, written "56"; the case
    ids stay those the v3 file has (a square size hashes as the integer it was)."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "records.jsonl").write_text(GOLDEN_V3.read_text())
    got = read_records(run)
    assert {(r["schema_version"], r["resolution"], r["height"], r["width"]) for r in got} == {(4, "56", 56, 56)}
    assert [r["case_id"] for r in got] == [json.loads(x)["case_id"] for x in GOLDEN.read_text().splitlines()]
    assert got[0]["case_id"] == CASE.case_id
    df = load_runs(run)
    assert (df.height * df.width == 56 * 56).all()


def test_a_non_square_case_records_its_height_and_width():
    case = Case("w", "cpu", "torch_eager", "g1_block_stack", (("c1", 8), ("c2", 8)), (), 1, "640x480", "float32",
                1, ("latency_forward",))
    rec = make_record(case, "latency_forward", value=0.01)
    assert (rec["resolution"], rec["height"], rec["width"]) == ("640x480", 640, 480)
    assert "r640x480" in case.label
    assert case.case_id != Case("w", "cpu", "torch_eager", "g1_block_stack", (("c1", 8), ("c2", 8)), (), 1,
                                "480x640", "float32", 1, ("latency_forward",)).case_id


def test_golden_v4_file_has_the_process_columns(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "records.jsonl").write_text(GOLDEN.read_text())
    df = load_runs(run)
    assert {"processes", "process_medians"} <= set(df.columns)
    pooled = df[df.processes == 3]
    assert len(pooled) == 1 and pooled.process_medians.iloc[0] == [0.0233, 0.0236, 0.024]
    assert df[df.status != "ok"].processes.isna().all()


def test_golden_file_loads(tmp_path):
    """The v2 golden file (written by the previous schema) loads as it did."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "records.jsonl").write_text(GOLDEN_V2.read_text())
    df = load_runs(run)
    assert list(df.columns[: 8]) == list(COLUMNS[: 8])
    assert df.loc[0, "params.c1"] == 128 and df.loc[0, "tags.paper_set"] == "gpu"
    assert df.loc[0, "config.channels_last"] == False  # noqa: E712
    ok = df[df.status == "ok"]
    assert ok.value.tolist() == [0.0234]
    # unknown values stay missing, never 0
    assert df[df.status != "ok"].value.isna().all() and df[df.status != "ok"].n.isna().all()


def test_record_rules():
    with pytest.raises(ValueError, match="needs a value"):
        make_record(CASE, "latency_forward")
    with pytest.raises(ValueError, match="message"):
        make_record(CASE, "latency_forward", status="unsupported")
    with pytest.raises(ValueError, match="source"):
        make_record(CASE, "latency_forward", value=1.0, source="guessed")


def test_torn_last_line_is_dropped_and_inner_corruption_is_an_error(tmp_path):
    p = tmp_path / "records.jsonl"
    p.write_text(GOLDEN.read_text() + '{"schema_version": 1, "run_')
    assert len(read_jsonl(p)) == len(GOLDEN.read_text().splitlines())
    p.write_text('{"bad\n' + GOLDEN.read_text())
    with pytest.raises(ValueError, match="corrupt record line"):
        read_jsonl(p)


def test_future_schema_refused(tmp_path):
    rec = json.loads(GOLDEN.read_text().splitlines()[0])
    rec["schema_version"] = 99
    (tmp_path / "records.jsonl").write_text(json.dumps(rec) + "\n")
    with pytest.raises(ValueError, match="schema version 99"):
        read_records(tmp_path)


def test_empty_frame_has_columns():
    assert list(to_frame([]).columns) == list(COLUMNS)
