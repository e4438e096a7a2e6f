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


def test_a_runner_that_fuses_needs_its_rules_and_one_that_cannot_show_its_graph_is_refused_by_name():
    with pytest.raises(BenchsuiteError, match="runner 'onnxruntime' fuses kernels: .* need the fusion rules"):
        lm.kernels_of(count_model(_Toy(), (1, 8, 16, 16)), "onnxruntime")
    with pytest.raises(BenchsuiteError, match="no fusion rules for runner 'torch_compile'.*onnxruntime"):
        lm.kernels_of(count_model(_Toy(), (1, 8, 16, 16)), "torch_compile")


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
        if c.params.get("then"):
            continue  # a conv with the ops a fusing runner fuses into it: several kernels here
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
    """A real (fake-runner, simulated-clock) `profile` of the convolutions from 64 channels at 56x56 (one group:
    one process) saves its predictor beside the run; `predict` reads it, a model with kernels of kinds the run
    did not profile is refused by kind, and a run beside it whose workload names latency_explained is
    explained from it."""
    dev = tmp_path / "sim.toml"
    dev.write_text('name = "sim"\nkind = "cpu"\nthreads = [1]\nrunners = ["fake"]\n'
                   '[runner_options.fake]\nclock = "simulated"\n[timing]\nmin_samples = 3\nmax_time_s = 0.2\n')
    out = tmp_path / "results"
    assert main(["profile", "--device", str(dev), "--filter", "kernel_conv(cin=64,*r56*", "--no-ceilings",
                 "--out", str(out), "--no-progress"]) == 0
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    said = capsys.readouterr().out
    assert "fake, 1 thread(s): predictor predictor-fake-t1.joblib" in said and "conv_pointwise" in said
    rc = main(["predict", "--profile", str(run), "--runner", "fake", "--model", "kernel_conv", "--knob", "cin=64",
               "--knob", "cout=64", "--format", "json"])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    assert lm.predictor_path(run, "fake", 1).is_file()
    assert "predicted (sum of 1 kernels" in printed.out and "FLOPs only" in printed.out
    assert json.loads(printed.out[printed.out.index("\n[") + 1:])[0]["kind"] == "conv_pointwise"
    assert main(["predict", "--profile", str(run), "--runner", "fake", "--model", "mobilenet_v3_large"]) == 2
    assert "no profiled kernel of kind" in capsys.readouterr().err
    # a run beside the profile, on the same machine, whose workload names the latency_explained study: its
    # verdict predicts what the profile covers and names what it does not
    wl = tmp_path / "explained.toml"
    wl.write_text('name = "explained"\nstudies = ["latency_explained"]\nmetrics = ["latency_forward"]\n'
                  'batch_sizes = [1]\nresolutions = [56]\n[[models]]\nname = "kernel_conv"\n'
                  'axes = { cin = [64], cout = [64, 128] }\n[[models]]\nname = "mobilenet_v3_small"\n'
                  'axes = { width = [0.25] }\n')
    assert main(["run", "--device", str(dev), "--workload", str(wl), "--processes", "1", "--no-ceilings",
                 "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    (measured,) = [p for p in out.iterdir() if p.is_dir() and p != run]
    (v,) = [v for v in json.loads((measured / "verdicts.json").read_text()) if v["study"] == "latency_explained"]
    assert len(v["rows"]) == 2 and {r["profile"] for r in v["rows"]} == {run.name}
    assert "1 network(s) not predicted: no profiled kernel of kind" in v["note"]
    assert main(["verdict", str(measured)]) == 0
    assert "multiply-adds predict latency" in capsys.readouterr().out


def test_the_guideline_costs_add_up_to_the_prediction_and_name_the_rest(profiled):
    from benchsuite.guideline_costs import CATEGORIES, explain

    pred = lm.fit(profiled, {"run_id": "constructed"})
    assert pred.floor_s == pytest.approx(min(t for _, t in profiled))
    for model in ("mobilenet_v2", "shufflenet_v1", "mobilenet_v1"):
        kernels = lm.model_kernels(model)
        total = pred.predict(kernels)["seconds"]
        parts = explain(pred, kernels, measured=1.25 * total)
        assert sum(parts[c] for c in CATEGORIES) == pytest.approx(total)
        assert parts["unexplained"] == pytest.approx(0.25 * total)
        assert all(parts[c] >= 0 for c in CATEGORIES), parts
        assert parts["g4_elementwise"] > 0 and parts["g3_launches"] > 0 and parts["flops_at_best"] > 0
    # group convolutions cost only where there are some (ShuffleNet V1's 1x1 group convs, not MobileNetV2's)
    assert explain(pred, lm.model_kernels("shufflenet_v1"))["g2_group_convs"] > 0
    assert explain(pred, lm.model_kernels("mobilenet_v2"))["g2_group_convs"] == 0


def test_unequal_widths_cost_what_equal_widths_with_the_same_flops_save(profiled):
    from benchsuite.guideline_costs import equal_width, explain

    pred = lm.fit(profiled, {"run_id": "constructed"})
    wide = lm.Kernel("c", "conv_pointwise", madds=28 * 28 * 32 * 512, mac_bytes=4 * (28 * 28 * (32 + 512) + 32 * 512),
                     out_elements=28 * 28 * 512, cin=32, cout=512)
    eq = equal_width(wide)
    assert eq.cin == eq.cout == pytest.approx(128) and eq.madds == wide.madds
    assert eq.mac_bytes == pytest.approx(4 * (28 * 28 * 256 + 128 * 128))  # the equal-width minimum of G1
    g1 = explain(pred, [wide])["g1_unequal_widths"]
    assert g1 > 0 and g1 == pytest.approx(pred.kernel_seconds(wide) - pred.kernel_seconds(eq), rel=1e-6)
    assert explain(pred, [eq])["g1_unequal_widths"] == 0


def _record(model, value, runner="torch_eager", **params):
    return {"run_id": "r1", "case_id": model, "device": "cpu", "runner": runner, "threads": 1, "batch_size": 1,
            "dtype": "float32", "metric": "latency_forward", "status": "ok", "value": value, "model": model,
            "params": params, "resolution": "224", "height": 224, "width": 224}


def test_the_study_judges_flops_against_the_bar_with_the_share_interval():
    from benchsuite.studies import WorkloadInfo
    from benchsuite.studies.latency_explained import LatencyExplainedStudy, share_interval

    def explainer(err):  # FLOPs-only off by `err` for every network, the kernel sum within 1%
        return lambda r: {"predicted": 1.01 * r["value"], "low": 0, "high": 0, "flops_only": (1 + err) * r["value"],
                          "roofline": None, "n_kernels": 10, "profile": "p",
                          "parts": {"unexplained": -0.01 * r["value"]}}

    study = LatencyExplainedStudy()
    recs = [_record(f"m{i}", 1e-3 * (i + 1)) for i in range(80)]
    assert study.verdicts(recs, {}, WorkloadInfo("w")) == []  # no explainer: nothing judged (a run's own looks)
    far = study.verdicts(recs, {}, WorkloadInfo("w", explain_latency=explainer(0.3)))
    (v,) = far
    assert v.verdict == "violated" and "FLOPs only: 0/80" in v.note and "kernel sum (profile p): 80/80" in v.note
    assert v.rows[0]["parts"]["unexplained"] == pytest.approx(-0.01)  # parts are shares of the measured time
    assert study.verdicts(recs, {}, WorkloadInfo("w", explain_latency=explainer(0.05)))[0].verdict == "holds"
    few = study.verdicts(recs[:5], {}, WorkloadInfo("w", explain_latency=explainer(0.05)))[0]
    assert few.verdict == "inconclusive" and share_interval(5, 5)[0] < 0.95  # 5 of 5 cannot show 95%


def test_the_study_says_why_a_runner_or_a_run_is_not_predicted():
    from benchsuite.studies import WorkloadInfo
    from benchsuite.studies.latency_explained import LatencyExplainedStudy

    def refuse(r):
        raise BenchsuiteError("no kernel profile of this machine for onnxruntime")

    (v,) = LatencyExplainedStudy().verdicts([_record("m", 1e-3, "onnxruntime")], {},
                                            WorkloadInfo("w", explain_latency=refuse))
    assert v.verdict == "inconclusive" and "not predicted: no kernel profile" in v.note and not v.rows


@pytest.mark.slow
def test_a_profile_budget_leaves_the_rest_skipped_and_says_so(tmp_path, capsys):
    """`profile --budget`: the first group starts inside the budget and is measured; the groups after it
    (other kinds, taken in turn) end as skipped records naming the budget; the line says how many."""
    dev = tmp_path / "sim.toml"
    dev.write_text('name = "sim"\nkind = "cpu"\nthreads = [1]\nrunners = ["fake"]\n'
                   '[runner_options.fake]\nclock = "simulated"\n[timing]\nmin_samples = 3\nmax_time_s = 0.2\n')
    out = tmp_path / "results"
    main(["profile", "--device", str(dev), "--filter", "*(c*=1024*r7 *", "--no-ceilings", "--budget", "0.5s",
          "--out", str(out), "--no-progress"])
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    said = capsys.readouterr().out
    records = [json.loads(line) for line in (run / "records.jsonl").read_text().splitlines()]
    timed = {r["model"] for r in records if r["metric"] == "latency_forward" and r["status"] == "ok"}
    skipped = [r for r in records if r["metric"] == "latency_forward" and r["status"] == "skipped"]
    assert timed == {"kernel_conv"} and {r["model"] for r in skipped} == {"kernel_elementwise", "kernel_data"}
    assert all("budget of 0.5 s was spent" in r["message"] for r in skipped)
    assert f"{len(skipped)} not measured within the budget (recorded as skipped)" in said
    assert json.loads((run / "run.json").read_text())["deadline"] == {"budget_s": 0.5, "groups_measured": 1,
                                                                      "groups_skipped": 2}
