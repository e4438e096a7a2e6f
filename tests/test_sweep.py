from benchsuite.spec import load_device, load_workload
from benchsuite.sweep import expand, groups, model_points

WL = """
name = "sw"
batch_sizes = [1, 2]
resolutions = [16, "default"]
compare = ["c1", "c2"]
[[models]]
name = "g1_block_stack"
tags = ["set"]
axes = { multiplier = [1, 2] }
rows = [{ set = "a", c1 = 16, c2 = 16 }, { set = "a", c1 = 8, c2 = 32 }, { set = "b", c1 = 4, c2 = 4 }]
skip = [{ multiplier = 2, set = "b" }]
[quick]
batch_sizes = [1]
where = [{ multiplier = 1 }]
"""


def test_cross_product_rows_and_skips(small_workload):
    wl = load_workload(str(small_workload(WL, "sw")))
    pts = model_points(wl.models[0])
    assert len(pts) == 2 * 3 - 1
    assert {"multiplier": 2, "set": "b", "c1": 4, "c2": 4} not in pts


def test_expand_counts_tags_and_defaults(small_workload, fake_device):
    wl = load_workload(str(small_workload(WL, "sw")))
    dev = load_device(str(fake_device()))
    cases = expand(wl, dev)
    assert len(cases) == 5 * 2 * 2  # points x batches x resolutions
    assert {str(c.resolution) for c in cases} == {"16", "56"}  # "default" is the model's own (56)
    c = cases[0]
    assert c.params.keys() == {"c1", "c2", "multiplier"} and dict(c.tags) == {"set": "a"}
    assert c.runner == "fake" and c.threads == 1


def test_quick_subset_and_filter(small_workload, fake_device):
    wl = load_workload(str(small_workload(WL, "sw")))
    dev = load_device(str(fake_device()))
    quick = expand(wl, dev, quick=True)
    assert len(quick) == 3 * 2 and all(c.params["multiplier"] == 1 and c.batch_size == 1 for c in quick)
    only = expand(wl, dev, filter_glob="*c1=8,*r16*")
    assert only and all(c.params["c1"] == 8 and str(c.resolution) == "16" for c in only)


def test_groups_and_ids(small_workload, fake_device):
    wl = load_workload(str(small_workload(WL, "sw")))
    cases = expand(wl, load_device(str(fake_device())))
    gs = groups(cases)
    # a group varies only in the compare knobs: same set, multiplier, batch and resolution
    for g in gs:
        assert len({(c.params["multiplier"], c.tags, c.batch_size, c.resolution) for c in g}) == 1
    set_a = [g for g in gs if dict(g[0].tags)["set"] == "a"]
    assert all(len(g) == 2 for g in set_a)
    # case ids are stable, distinct, and do not depend on the workload's name
    again = expand(load_workload(str(small_workload(WL.replace('"sw"', '"other"'), "other"))),
                   load_device(str(fake_device())))
    assert [c.case_id for c in cases] == [c.case_id for c in again]
    assert len({c.case_id for c in cases}) == len(cases)


def test_a_row_may_fix_its_own_resolution(small_workload, fake_device, capsys):
    """Table 8 runs some models at 160 or 192: a row's `resolution` replaces the workload's for that row."""
    import pytest

    from benchsuite.cli import main
    from benchsuite.errors import BenchsuiteError

    text = ('name = "rowres"\nmetrics = ["latency_forward"]\nresolutions = [32]\n[[models]]\nname = "g1_block_stack"\n'
            'rows = [{ c1 = 16, c2 = 16 }, { c1 = 8, c2 = 32, resolution = 24 }]\n')
    cases = expand(load_workload(str(small_workload(text, "rowres"))), load_device(str(fake_device())))
    assert sorted((c.params["c1"], str(c.resolution)) for c in cases) == [(8, "24"), (16, "32")]
    assert all("resolution" not in c.params for c in cases)
    bad = small_workload(text.replace("resolution = 24", "resolution = 0"), "rowbad")
    with pytest.raises(BenchsuiteError, match=r"models\[0\]\.rows\[1\]\.resolution.*bad input size 0"):
        load_workload(str(bad))
    assert main(["run", "--device", str(fake_device()), "--workload", str(bad), "--out", "/tmp/never"]) == 2
    assert "rows[1].resolution" in capsys.readouterr().err
