"""Analytic counts against the published figures (the suite's copy in benchsuite/data/)."""
import csv
from importlib import resources

import pytest
import torch
from torch import nn

from benchsuite.counting import UnknownOpError, count_model, count_registered


def reference(name: str) -> list[dict]:
    text = resources.files("benchsuite.data").joinpath(name).read_text()
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


# complexity.csv model name -> (registered model, knobs)
MODELS = {
    "mobilenet_v1": ("mobilenet_v1", {}), "mobilenet_v1_full_conv": ("mobilenet_v1_full_conv", {}),
    "mobilenet_v2": ("mobilenet_v2", {}), "shufflenet_v2": ("shufflenet_v2", {}),
    "mobilenet_v3_large": ("mobilenet_v3_large", {}), "mobilenet_v3_small": ("mobilenet_v3_small", {}),
    "ghostnet": ("ghostnet", {}), "efficientnet_b0": ("efficientnet_b0", {}), "resnet50": ("resnet50", {}),
    "efficientnet_b1": ("efficientnet_b1", {}), "efficientnet_b2": ("efficientnet_b2", {}),
    "efficientnet_b3": ("efficientnet_b3", {}), "shufflenet_v1_g3": ("shufflenet_v1", {"groups": 3}),
    "mobilenet_v2_cifar_a": ("mobilenet_v2_cifar", {"variant": "a"}),
    "mobilenet_v2_cifar_replication_b": ("mobilenet_v2_cifar", {"variant": "b"}),
    "mobilenet_v2_cifar_replication_c": ("mobilenet_v2_cifar", {"variant": "c"}),
    "mobilenet_v2_cifar_replication_d": ("mobilenet_v2_cifar", {"variant": "d"}),
}
WIDTH_KNOB = {"mobilenet_v1", "mobilenet_v2", "shufflenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "ghostnet"}

# Where the paper's printed parameter count disagrees with the reference implementation whose
# structure the suite follows (torchvision for these), the test follows the implementation: the
# structure is what runs, and these exact counts are the implementation's. Values: exact count.
IMPLEMENTATION_FOLLOWED = {
    # MobileNetV2 paper prints 3.4M; torchvision and TF-slim mobilenet_v2_1.0 have 3,504,872.
    ("mobilenet_v2", "1.0"): 3_504_872,
    # MobileNetV2 paper prints 6.9M for 1.4; the same structure at 1.4 (TF-slim's) has 6.11M.
    ("mobilenet_v2", "1.4"): 6_108_776,
    # MobileNetV3 paper prints 5.4M for Large; torchvision's mobilenet_v3_large has 5,483,032 (5.5M).
    ("mobilenet_v3_large", "1.0"): 5_483_032,
    # EfficientNet paper prints 9.2M for B2; torchvision's efficientnet_b2 (same scaling) has 9,109,994.
    ("efficientnet_b2", "1.0"): 9_109_994,
    # The replication post prints (b) 1.6M and (d) 1.4M without its code; built as the issue describes
    # them on the CIFAR reference structure they are 1.55M and 1.48M (a->b still cuts 32.7%, its "30%").
    ("mobilenet_v2_cifar_replication_b", "1.0"): 1_546_138,
    ("mobilenet_v2_cifar_replication_d", "1.0"): 1_481_018,
}
# Exact counts of the reference implementations, where the test can pin them.
TORCHVISION = {("shufflenet_v2", "0.5"): 1_366_792, ("shufflenet_v2", "1.0"): 2_278_604,
               ("shufflenet_v2", "1.5"): 3_503_624, ("shufflenet_v2", "2.0"): 7_393_996,
               ("mobilenet_v3_small", "1.0"): 2_542_856, ("efficientnet_b0", "1.0"): 5_288_548,
               ("efficientnet_b1", "1.0"): 7_794_184, ("efficientnet_b3", "1.0"): 12_233_232,
               ("resnet50", "1.0"): 25_557_032}


@pytest.mark.parametrize("row", reference("complexity.csv"),
                         ids=lambda r: f"{r['model']}-{r['width']}-{r['resolution']}")
def test_complexity_reference(row):
    name, knobs = MODELS[row["model"]]
    if row["model"] in WIDTH_KNOB:
        knobs = {**knobs, "width": float(row["width"])}
    elif name == "shufflenet_v1":
        knobs = {**knobs, "scale": float(row["width"])}
    counts = count_registered(name, int(row["resolution"]), **knobs).totals()
    key = (row["model"], row["width"])
    if row["madds_millions"]:
        published = float(row["madds_millions"]) * 1e6
        # within 2%, or within the printed precision where that is coarser (ShuffleNet's "13" M at 0.25x)
        printed_digits = len(row["madds_millions"].split(".")[1]) if "." in row["madds_millions"] else 0
        allowed = max(0.02 * published, 0.5e6 * 10 ** -printed_digits)
        assert abs(counts["madds"] - published) <= allowed, f"madds {counts['madds']:,} vs {published:,.0f}"
    printed = row["params_millions"]
    if not printed:
        return  # the source prints no parameter count
    if key in IMPLEMENTATION_FOLLOWED:
        assert counts["params"] == IMPLEMENTATION_FOLLOWED[key]
    else:
        decimals = len(printed.split(".")[1]) if "." in printed else 0
        assert round(counts["params"] / 1e6, decimals) == float(printed), f"params {counts['params']:,} vs {printed}M"
    if key in TORCHVISION:
        assert counts["params"] == TORCHVISION[key]


def test_replication_variants_order_and_saving():
    p = {v: count_registered("mobilenet_v2_cifar", variant=v).totals()["params"] for v in "abcd"}
    assert p["a"] > p["b"] > p["c"] > p["d"]
    assert 0.28 <= 1 - p["b"] / p["a"] <= 0.36  # "Reducing MobileNetV2 Parameter Count by 30%"


def test_mobilenet_v1_table2_breakdown():
    """Table 2 counts conv and FC weights only (its parameter shares sum to 100% of 4.21M, without
    BatchNorm), so shares are taken over those layer types. The paper prints 1.19% for the first
    3x3 conv, but 1.19% of its own 569M is 6.8M, while that layer has 10.8M (224/2)^2 * 3*3*3*32
    multiply-adds = 1.91%: a transposed digit. The rows then sum to 100.01%; the test uses 1.91."""
    rows = {r["layer_type"]: r for r in reference("mobilenetv1_breakdown.csv")}
    rows["conv3x3"]["madds_percent"] = "1.91"
    by = count_registered("mobilenet_v1").by()
    kinds = [k for k in by if k.startswith("conv") or k == "fully_connected"]
    tot = {f: sum(by[k][f] for k in kinds) for f in ("madds", "params")}
    for k, ref in rows.items():
        assert abs(100 * by[k]["madds"] / tot["madds"] - float(ref["madds_percent"])) <= 0.2, k
        assert abs(100 * by[k]["params"] / tot["params"] - float(ref["params_percent"])) <= 0.2, k


def _single_layer(cin, cout, size, separable):
    layers = ([nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False), nn.Conv2d(cin, cout, 1, bias=False)]
              if separable else [nn.Conv2d(cin, cout, 3, padding=1, bias=False)])
    return count_model(nn.Sequential(*layers), (1, cin, size, size)).totals()


@pytest.mark.parametrize("cin, size, separable, madds_m, params_m", [
    (512, 14, False, 462, 2.36),   # standard 3x3 conv, M=N=512, D_F=14
    (512, 14, True, 52.3, 0.27),   # depthwise separable
    (384, 14, True, 29.6, 0.15),   # alpha = 0.75
    (384, 10, True, 15.1, 0.15),   # rho = 0.714: D_F = 10
])
def test_mobilenet_v1_table3(cin, size, separable, madds_m, params_m):
    t = _single_layer(cin, cin, size, separable)
    assert round(t["madds"] / 1e6, 1 if madds_m < 100 else 0) == madds_m
    assert round(t["params"] / 1e6, 2) == params_m


def _g_rows(table, platform="gpu"):
    return [r for r in reference(table) if r["platform"] == platform]


@pytest.mark.parametrize("platform", ["gpu", "arm"])
def test_guideline_stacks_flop_equal(platform):
    def madds(model, **knobs):
        return count_registered(model, 56, **knobs).totals()["madds"]

    for mult in (1, 2, 4):
        # G1: the paper's printed channels keep c1*c2 within 5.5% of the 1:1 row, not 5% (1:12 on
        # the GPU set is 36*432 = 0.949 of 128^2; 1:2 on the ARM set 22*44 = 0.945 of 32^2). The suite
        # runs the paper's channels, so the count must equal that ratio exactly.
        rows = [r for r in _g_rows("shufflenetv2_g1.csv", platform) if r["multiplier"] == str(mult)]
        g1 = [madds("g1_block_stack", c1=int(r["c1"]), c2=int(r["c2"]), multiplier=mult) for r in rows]
        for r, m in zip(rows, g1):
            assert m / g1[0] == pytest.approx(int(r["c1"]) * int(r["c2"]) / int(rows[0]["c1"]) ** 2)
            assert abs(m / g1[0] - 1) <= 0.055
        g2 = [madds("g2_group_conv_stack", c=int(r["c"]), groups=int(r["groups"]), multiplier=mult)
              for r in _g_rows("shufflenetv2_g2.csv", platform) if r["multiplier"] == str(mult)]
        assert all(abs(m / g2[0] - 1) <= 0.05 for m in g2), g2
    for c in {r["c"] for r in _g_rows("shufflenetv2_g3.csv", platform)}:
        g3 = [madds("g3_fragment_stack", c=int(c), structure=r["structure"])
              for r in _g_rows("shufflenetv2_g3.csv", platform) if r["c"] == c]
        assert len(g3) == 5 and all(abs(m / g3[0] - 1) <= 0.05 for m in g3), g3
    for c in {r["c"] for r in _g_rows("shufflenetv2_g4.csv", platform)}:
        g4 = {(r["relu"], r["shortcut"]): count_registered("g4_bottleneck_stack", 56, c=int(c),
                                                           relu=r["relu"] == "yes", shortcut=r["shortcut"] == "yes")
              for r in _g_rows("shufflenetv2_g4.csv", platform) if r["c"] == c}
        full, bare = g4[("yes", "yes")].totals(), g4[("no", "no")].totals()
        assert full["madds"] == bare["madds"] and full["elementwise_ops"] > bare["elementwise_ops"]


def test_unknown_op_fails_naming_it():
    class Odd(nn.Module):
        def forward(self, x):
            return torch.fft.fft2(x).real

    with pytest.raises(UnknownOpError, match="fft2"):
        count_model(Odd(), (1, 3, 8, 8))

    class OddMethod(nn.Module):
        def forward(self, x):
            return x.exp()

    with pytest.raises(UnknownOpError, match=r"\.exp\(\)"):
        count_model(OddMethod(), (1, 3, 8, 8))


def test_mac_and_peak_memory_of_a_simple_stack():
    c, s = 16, 8
    t = count_model(nn.Sequential(nn.Conv2d(c, 2 * c, 1, bias=False), nn.ReLU(), nn.Conv2d(2 * c, c, 1, bias=False)),
                    (1, c, s, s)).totals()
    act = s * s * 4
    # MAC: conv1 reads c, writes 2c plus weights; relu reads and writes 2c; conv2 reads 2c writes c plus weights
    assert t["mac_bytes"] == act * (3 * c + 4 * c + 3 * c) + 2 * (2 * c * c) * 4
    # never more than an op's input and output live at once
    assert t["peak_activation_bytes"] == act * 4 * c == t["peak_io_bytes"]


def test_mobilenet_v1_peak_matches_mobilenet_v2_table3():
    """MobileNetV2's Table 3 gives MobileNetV1's max memory as 1600K values (112^2 x 128)."""
    t = count_registered("mobilenet_v1").totals()
    assert t["peak_io_bytes"] // 4 == 112 * 112 * 128 == 1_605_632


def test_counting_leaves_the_model_usable():
    m = nn.Sequential(nn.Conv2d(3, 4, 1))
    count_model(m, (1, 3, 4, 4))
    assert not next(m.parameters()).is_meta
    assert m(torch.randn(1, 3, 4, 4)).shape == (1, 4, 4, 4)
