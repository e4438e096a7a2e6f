"""The kernel-sum latency predictor (latency_model.py) on constructed data: what a network's kernels are, the
sum-of-kernels arithmetic, a fit that recovers a known cost law on shapes it did not see, the baselines, and
the refusals (a kernel kind never profiled, a fusing runner, a predictor built elsewhere)."""
import json

import joblib
import pytest
from torch import nn

from benchsuite import latency_model as lm
from benchsuite.cli import main
from benchsuite.counting import count_model
from benchsuite.errors import BenchsuiteError
from benchsuite.spec import load_device, load_workload
from benchsuite.sweep import expand


class _Toy(nn.Module):
    in_channels = 8

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
        self.bn, self.act = nn.BatchNorm2d(8), nn.ReLU6()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        y = self.act(self.bn(self.conv(x))) + x
        return self.fc(y.mean((2, 3)).flatten(1))


def test_a_networks_kernels_are_its_counted_ops_without_the_views():
    kernels = lm.kernels_of(count_model(_Toy(), (1, 8, 16, 16)), "torch_eager")
    assert [k.kind for k in kernels] == ["conv_depthwise", "batchnorm", "relu6", "add", "avgpool_global", "linear"]
    conv = kernels[0]
    assert (conv.cin, conv.cout, conv.k, conv.stride, conv.groups) == (8, 8, 3, 1, 8)
    assert conv.madds == 8 * 16 * 16 * 9 and conv.out_elements == 8 * 16 * 16


def test_a_fusing_runner_is_refused_by_name():
    with pytest.raises(BenchsuiteError, match="no fusion rules for runner 'onnxruntime'.*torch_eager"):
        lm.kernels_of(count_model(_Toy(), (1, 8, 16, 16)), "onnxruntime")


def _law(k: lm.Kernel) -> float:
    """A known cost: a per-kernel overhead, compute at 20 GMAC/s (depthwise at a tenth), bytes at 10 GB/s."""
    rate = 2e9 if k.kind == "conv_depthwise" else 2e10
    return 4e-6 + k.madds / rate + k.mac_bytes / 1e10


@pytest.fixture(scope="module")
def profiled():
    """The kernels workload's every kernel, timed by the law (no measurement): what a profiling run gives."""
    cases = expand(load_workload("kernels"), load_device("cpu"), runners=["torch_eager"])
    table = []
    for c in cases:
        (k,) = lm.model_kernels(c.model, c.resolution, c.batch_size, c.dtype, **c.params)
        table.append((k, _law(k)))
    return table


def test_the_fit_recovers_a_known_law_on_networks_it_never_saw(profiled):
    pred = lm.fit(profiled, {"run_id": "constructed"}, peak_flops=4e10, bandwidth=1e10)
    for model, knobs in (("mobilenet_v2", {}), ("shufflenet_v2", {}), ("mobilenet_v1", {"width": 0.5})):
        kernels = lm.model_kernels(model, **knobs)
        truth = sum(_law(k) for k in kernels)
        p = pred.predict(kernels)
        assert abs(p["seconds"] / truth - 1) < 0.10, (model, p["seconds"], truth)
        assert p["low"] <= p["seconds"] <= p["high"]
        assert p["seconds"] == pytest.approx(sum(r["seconds"] for r in p["per_kernel"]))  # the sum of its kernels
        assert p["seconds"] == pytest.approx(sum(p["by_kind"].values()))
        assert p["roofline"] == pytest.approx(sum(max(2 * k.madds / 4e10, k.mac_bytes / 1e10) for k in kernels))
        assert p["flops_only"] == pytest.approx(pred.seconds_per_madd * sum(k.madds for k in kernels))
    assert pred.fits["conv_pointwise"].within_10 > 0.9


def test_a_kind_never_profiled_is_named(profiled):
    pred = lm.fit([(k, t) for k, t in profiled if k.kind != "hswish"], {"run_id": "constructed"})
    with pytest.raises(BenchsuiteError, match=r"kind 'hswish'.*profile again"):
        pred.predict(lm.model_kernels("mobilenet_v3_large"))


def _saved(tmp_path, profiled, **meta):
    import sklearn

    base = {"run_id": "r", "device": "cpu", "machine_id": "m1", "cpu_model": "a CPU", "format": lm.FORMAT,
            "scikit-learn": sklearn.__version__, "libraries": {"torch": "2.13.0"}}
    path = tmp_path / "predictor-torch_eager-t1.joblib"
    joblib.dump(lm.fit(profiled[:200], {**base, **meta}), path)
    return path


@pytest.mark.parametrize("meta, device, env, says", [
    ({"format": 0}, None, None, "format 0"),
    ({"scikit-learn": "0.1"}, None, None, "scikit-learn 0.1"),
    ({}, "arm", None, "device cpu (asked for arm)"),
    ({}, None, {"machine_id": "m2", "cpu_model": "another CPU", "libraries": {"torch": "2.13.0"}}, "another CPU"),
    ({}, None, {"machine_id": "m1", "libraries": {"torch": "2.14.0"}}, "torch 2.13.0 (now 2.14.0)"),
])
def test_a_predictor_built_elsewhere_is_refused_with_what_differs(tmp_path, profiled, meta, device, env, says):
    path = _saved(tmp_path, profiled, **meta)
    with pytest.raises(BenchsuiteError, match="built for another setting") as e:
        lm.load(path, device, env)
    assert says in str(e.value)


def test_a_predictor_built_here_loads(tmp_path, profiled):
    path = _saved(tmp_path, profiled)
    env = {"machine_id": "m1", "libraries": {"torch": "2.13.0"}}
    assert lm.load(path, "cpu", env).meta["run_id"] == "r"


@pytest.mark.slow
def test_predict_from_a_profiling_run_end_to_end(tmp_path, capsys):
    """A real (fake-runner, simulated-clock) profiling run of the convolutions from 64 channels at 56x56 (one
    group: one process), then `predict` from it: the predictor is saved beside the run, and a model with
    kernels of kinds the run did not profile is refused by kind."""
    dev = tmp_path / "sim.toml"
    dev.write_text('name = "sim"\nkind = "cpu"\nthreads = [1]\nrunners = ["fake"]\n'
                   '[runner_options.fake]\nclock = "simulated"\n[timing]\nmin_samples = 3\nmax_time_s = 0.2\n')
    out = tmp_path / "results"
    assert main(["run", "--device", str(dev), "--workload", "kernels", "--filter", "kernel_conv(cin=64,*r56*",
                 "--processes", "1", "--no-ceilings", "--out", str(out), "--no-progress"]) == 0
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    capsys.readouterr()
    rc = main(["predict", "--profile", str(run), "--runner", "fake", "--model", "kernel_conv", "--knob", "cin=64",
               "--knob", "cout=64", "--format", "json"])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    assert lm.predictor_path(run, "fake", 1).is_file()
    assert "predicted (sum of 1 kernels" in printed.out and "FLOPs only" in printed.out
    assert json.loads(printed.out[printed.out.index("\n[") + 1:])[0]["kind"] == "conv_pointwise"
    assert main(["predict", "--profile", str(run), "--runner", "fake", "--model", "mobilenet_v3_large"]) == 2
    assert "no profiled kernel of kind" in capsys.readouterr().err
