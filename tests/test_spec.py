import pytest

from benchsuite.errors import SpecError, UnknownNameError
from benchsuite.spec import load_device, load_workload


def test_shipped_specs_load():
    dev = load_device("cpu")
    assert dev.kind == "cpu" and dev.threads and "torch_eager" in dev.runners
    assert dev.timing_quick.max_time_s < dev.timing.max_time_s
    wl = load_workload("guideline1")
    assert wl.compare == ("c1", "c2") and wl.models[0].name == "g1_block_stack"
    assert wl.models[0].tags == ("paper_set",)


def test_device_by_path(fake_device):
    dev = load_device(str(fake_device()))
    assert dev.name == "fakedev" and dev.runners == ("fake",) and dev.timing.min_samples == 5


@pytest.mark.parametrize("extra, key, fragment", [
    ('colour = "red"\n', "colour", "unknown key"),
    ('[timing]\nwarmup = 1\n', "timing.warmup", "unknown key"),
])
def test_device_unknown_keys(tmp_path, extra, key, fragment):
    p = tmp_path / "d.toml"
    p.write_text('kind = "cpu"\nrunners = ["fake"]\n' + extra)
    with pytest.raises(SpecError) as e:
        load_device(str(p))
    msg = str(e.value)
    assert str(p) in msg and f"'{key}'" in msg and fragment in msg and "valid:" in msg


@pytest.mark.parametrize("body, key, valid", [
    ('kind = "tpu"\nrunners = ["fake"]', "kind", "cpu, gpu, arm"),
    ('kind = "cpu"\nrunners = ["nope"]', "runners", "torch_eager"),
    ('kind = "cpu"\nrunners = "fake"', "runners", None),
    ('kind = "cpu"\nrunners = ["fake"]\nthreads = [0]', "threads", "positive integers"),
    ('kind = "cpu"\nrunners = ["fake"]\n[timing]\nmax_time_s = -1', "timing.max_time_s", "> 0"),
    ('kind = "cpu"\nrunners = ["fake"]\n[runner_options.nope]\nx = 1', "runner_options.nope", "fake"),
])
def test_device_bad_values(tmp_path, body, key, valid):
    p = tmp_path / "d.toml"
    p.write_text(body)
    with pytest.raises(SpecError) as e:
        load_device(str(p))
    assert e.value.key == key and str(p) in str(e.value)
    if valid:
        assert valid in str(e.value)


def test_malformed_toml(tmp_path):
    p = tmp_path / "d.toml"
    p.write_text("kind = [unclosed\n")
    with pytest.raises(SpecError, match="malformed TOML"):
        load_device(str(p))


def test_unknown_names():
    with pytest.raises(UnknownNameError, match=r"unknown device 'nosuch' \(valid: .*cpu"):
        load_device("nosuch")
    with pytest.raises(UnknownNameError, match=r"unknown workload 'nosuch' \(valid: .*guideline1"):
        load_workload("nosuch")


@pytest.mark.parametrize("patch, key, fragment", [
    (("resolutions = [16]", "resolutions = [0]"), "resolutions", "bad input size 0"),
    # a size is one number or HEIGHTxWIDTH, each side positive
    (("resolutions = [16]", 'resolutions = ["0x5"]'), "resolutions", "bad input size '0x5'"),
    (("resolutions = [16]", 'resolutions = ["5x"]'), "resolutions", "bad input size '5x'"),
    (("resolutions = [16]", 'resolutions = ["axb"]'), "resolutions", "bad input size 'axb'"),
    (("resolutions = [16]", 'resolutions = [16.5]'), "resolutions", "HEIGHTxWIDTH"),
    (("resolutions = [16]", "resolutions = [16]\nbatch_sizes = [-2]"), "batch_sizes", "bad batch size -2"),
    (('name = "g1_block_stack"', 'name = "g9_stack"'), "models[0].name", "unknown model 'g9_stack'"),
    (("c1 = 16, c2 = 16", "c1 = 16, c3 = 16"), "models[0].axes/rows", "no knob 'c3'"),
    (('metrics = ["latency_forward", "latency_backward"]', 'metrics = ["speed"]'), "metrics", "latency_forward"),
    (('compare = ["c1", "c2"]', 'compare = ["c1", "c2"]\nextra = 1'), "extra", "unknown key"),
    # the [quick] table is checked like the rest
    (('compare = ["c1", "c2"]', 'compare = ["c1", "c2"]\n[quick]\nmetrics = ["speed"]'), "quick.metrics", "speed"),
    (('compare = ["c1", "c2"]', 'compare = ["c1", "c2"]\n[quick]\ndtypes = ["int4"]'), "quick.dtypes", "float32"),
    (('compare = ["c1", "c2"]', 'compare = ["c1", "c2"]\n[quick]\nresolutions = [-5]'), "quick.resolutions",
     "bad input size -5"),
    (('compare = ["c1", "c2"]', 'compare = ["c1", "c2"]\n[quick]\nwhere = [3]'), "quick.where", "got item 3"),
    (('studies = ["g1"]', 'studies = ["g9"]'), "studies", "bad value 'g9'"),
    (('studies = ["g1"]', 'studies = ["g1"]\nreference = "nosuch.csv"'), "reference", "shufflenetv2_g1.csv"),
])
def test_workload_errors(small_workload, patch, key, fragment):
    from tests.conftest import SMALL_G1

    path = small_workload(SMALL_G1.replace(*patch))
    with pytest.raises(SpecError) as e:
        load_workload(str(path))
    assert e.value.key == key and fragment in str(e.value) and str(path) in str(e.value)
