"""Energy meters against constructed inputs (powercap tree, NVML stand-in, hwmon file), and the model."""
import os
import threading
import time
from dataclasses import replace

import pytest

from benchsuite.runners.base import Prepared

from benchsuite.counting import CountResult, LayerCount
from benchsuite.energy import EnergyUnavailable, HwmonMeter, NvmlMeter, RaplMeter
from benchsuite.energy_model import Caches, cache_pj_per_64bit, caches_for, host_caches, modeled_energy
from benchsuite.measure import Timed
from benchsuite.probes.energy import EnergyProbe
from benchsuite.spec import load_device
from benchsuite.sweep import Case


def powercap_tree(root, energy_uj=1000, max_range=2**32):
    for d, name, e in (("intel-rapl:0", "package-0", energy_uj), ("intel-rapl:0:0", "core", 10),
                       ("intel-rapl:0:1", "dram", 20)):
        (root / d).mkdir(parents=True)
        (root / d / "name").write_text(name + "\n")
        (root / d / "energy_uj").write_text(f"{e}\n")
        (root / d / "max_energy_range_uj").write_text(f"{max_range}\n")
    return root


def test_rapl_domains_and_delta(tmp_path):
    meter = RaplMeter(powercap_tree(tmp_path / "pc"))
    assert set(meter.domains) == {"package-0", "package-0/core", "package-0/dram"}
    start = meter.read()
    end = {**start, "package-0": start["package-0"] + 2_500_000, "package-0/dram": start["package-0/dram"] + 500_000}
    delta = meter.delta_joules(start, end)
    assert delta["package-0"] == pytest.approx(2.5) and meter.total(delta) == pytest.approx(3.0)


def test_rapl_wraparound(tmp_path):
    meter = RaplMeter(powercap_tree(tmp_path / "pc", energy_uj=999_000, max_range=1_000_000))
    start = meter.read()
    end = {**start, "package-0": 4_000}  # wrapped: 999000 -> 1000000 -> 0 -> 4000
    assert meter.delta_joules(start, end)["package-0"] == pytest.approx(0.005)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_rapl_permission_denied_explains_the_fix(tmp_path):
    root = powercap_tree(tmp_path / "pc")
    (root / "intel-rapl:0" / "energy_uj").chmod(0)
    with pytest.raises(EnergyUnavailable, match=r"permission denied.*chmod o\+r"):
        RaplMeter(root)


def test_rapl_permission_denied_explains_the_fix_as_root(tmp_path, monkeypatch):
    """Root ignores file modes, so the kernel's refusal is simulated at the read."""
    meter = RaplMeter(powercap_tree(tmp_path / "pc"))
    real = type(tmp_path).read_text

    def deny(self, *a, **kw):
        if self.name == "energy_uj":
            raise PermissionError(13, "Permission denied")
        return real(self, *a, **kw)

    monkeypatch.setattr(type(tmp_path), "read_text", deny)
    with pytest.raises(EnergyUnavailable, match=r"root-only \(CVE-2020-8694\).*chmod o\+r"):
        meter.read()


def test_no_powercap_is_unavailable_with_reason(tmp_path):
    with pytest.raises(EnergyUnavailable, match="does not exist"):
        RaplMeter(tmp_path / "absent")


class FakeNvml:
    class NVMLError(Exception):
        pass

    def __init__(self):
        self.mj = 1000

    def nvmlInit(self):
        pass

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        self.mj += 250
        return self.mj

    def nvmlShutdown(self):
        self.shut = True


def test_nvml_meter_with_a_stand_in():
    meter = NvmlMeter(nvml=FakeNvml())
    a = meter.read()
    b = meter.read()
    assert meter.delta_joules(a, b) == pytest.approx(0.25)
    meter.close()
    assert meter.nvml.shut


def test_hwmon_integrates_power(tmp_path):
    rail = tmp_path / "power1_input"
    rail.write_text("5000000\n")  # 5 W
    meter = HwmonMeter(str(rail), interval_s=0.002)
    a = meter.read()
    time.sleep(0.3)
    b = meter.read()
    meter.close()
    assert meter.delta_joules(a, b) == pytest.approx(5 * 0.3, rel=0.15)


def _counts(*layers, peak=0):
    """A constructed count: layers as (madds, params, mac_bytes)."""
    return CountResult("m", (1, 3, 8, 8), "float32", [LayerCount(f"l{i}", "conv", "conv1x1", (1,), madds=m, params=p,
                                                                 mac_bytes=b) for i, (m, p, b) in enumerate(layers)],
                       peak_activation_bytes=peak)


NO_CACHES = Caches({}, "none given")


def test_modeled_energy_halves_at_16_bit():
    e32, how, _ = modeled_energy(_counts((1_000_000, 0, 0)), "float32", NO_CACHES)
    e16, _, _ = modeled_energy(_counts((1_000_000, 0, 0)), "float16", NO_CACHES)
    assert e32 == pytest.approx(1e6 * 4.6e-12) and e16 < e32 / 2 and "Horowitz" in how
    mem, how, config = modeled_energy(_counts((0, 0, 8 * 1000)), "float32", NO_CACHES)
    assert mem == pytest.approx(1000 * 1.3e-9) and config["dram_bytes"] == 8000
    assert "cache sizes unknown (none given): every byte charged at DRAM" in how
    with pytest.raises(KeyError):
        modeled_energy(_counts((1, 0, 0)), "bfloat16", NO_CACHES)


def test_cache_energy_follows_the_source_points_and_says_when_it_extrapolates():
    assert cache_pj_per_64bit(8192) == (10.0, False) and cache_pj_per_64bit(32768) == (20.0, False)
    assert cache_pj_per_64bit(1 << 20) == (pytest.approx(100.0), False)
    mid, extrapolated = cache_pj_per_64bit(256 << 10)
    assert 20 < mid < 100 and not extrapolated
    big, extrapolated = cache_pj_per_64bit(32 << 20)
    assert 100 < big < 1300 and extrapolated
    assert cache_pj_per_64bit(1 << 40) == (1300.0, True)  # never above DRAM


def test_each_layer_is_charged_at_the_smallest_level_holding_its_working_set():
    caches = Caches({"L1d": 32 << 10, "L2": 1 << 20, "L3": 32 << 20}, "a test")
    counts = _counts((0, 100, 16 << 10), (0, 100, 512 << 10), (0, 100, 8 << 20), (0, 100, 64 << 20), peak=1 << 20)
    joules, how, config = modeled_energy(counts, "float32", caches)
    assert config["bytes_by_level"] == {"L1d": 16 << 10, "L2": 512 << 10, "L3": 8 << 20, "DRAM": 64 << 20}
    assert "L1d 32 KiB, L2 1 MiB, L3 32 MiB (from a test)" in how and "L3 energy extrapolated" in how
    expected = sum(b / 8 * cache_pj_per_64bit(s)[0] for b, s in ((16 << 10, 32 << 10), (512 << 10, 1 << 20),
                                                                 (8 << 20, 32 << 20))) + (64 << 20) / 8 * 1300
    assert joules == pytest.approx(expected * 1e-12)
    everything_dram, _, _ = modeled_energy(counts, "float32", NO_CACHES)
    assert joules < everything_dram


def test_weights_go_to_dram_when_the_model_does_not_fit_the_last_level_cache():
    caches = Caches({"L2": 1 << 20}, "a test")
    small = _counts((0, 1000, 100_000), peak=10_000)           # 4 kB of weights: all stays in L2
    big = _counts((0, 200_000, 900_000), peak=400_000)        # 800 kB weights + 400 kB live > 1 MiB
    assert modeled_energy(small, "float32", caches)[2]["dram_bytes"] == 0
    _, how, config = modeled_energy(big, "float32", caches)
    assert config["dram_bytes"] == 800_000 and config["bytes_by_level"]["L2"] == 100_000
    assert "weights charged at DRAM" in how


def test_cache_sizes_from_sysfs_the_profile_or_said_unknown(tmp_path):
    for i, (level, kind, size) in enumerate(((1, "Data", "48K"), (1, "Instruction", "32K"), (2, "Unified", "1024K"),
                                             (3, "Unified", "32M"))):
        d = tmp_path / f"index{i}"
        d.mkdir()
        for name, value in (("level", level), ("type", kind), ("size", size)):
            (d / name).write_text(f"{value}\n")
    assert host_caches(tmp_path).sizes == {"L1d": 48 << 10, "L2": 1 << 20, "L3": 32 << 20}
    assert host_caches(tmp_path / "absent").sizes == {}
    cpu = load_device("cpu")
    profiled = replace(cpu, energy={"caches": {"L3": 8 << 20, "L2": 256 << 10}})
    assert list(caches_for(profiled).sizes) == ["L2", "L3"] and caches_for(profiled).source == "the device profile"
    rpc = replace(cpu, kind="arm", remote=object(), transport=None)
    assert caches_for(rpc).sizes == {} and "reached by RPC" in caches_for(rpc).source


def test_profile_cache_sizes_are_checked_at_load(tmp_path, capsys):
    from benchsuite.spec import SpecError

    ok = tmp_path / "ok.toml"
    ok.write_text('name = "ok"\nkind = "cpu"\nrunners = ["fake"]\n[energy]\ncaches = { L1d = "48KiB", L2 = 1048576, '
                  'L3 = "32 MiB" }\n')
    assert load_device(str(ok)).energy["caches"] == {"L1d": 48 << 10, "L2": 1 << 20, "L3": 32 << 20}
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\nkind = "cpu"\nrunners = ["fake"]\n[energy]\ncaches = { L2 = "lots" }\n')
    with pytest.raises(SpecError, match=r"energy\.caches\.L2.*'lots'.*48KiB"):
        load_device(str(bad))


def test_energy_probe_with_an_advancing_powercap_counter(tmp_path):
    """A fake package drawing a steady 20 W: energy per call = 20 W x call time, ~0 above idle."""
    root = powercap_tree(tmp_path / "pc", energy_uj=0)
    counter = root / "intel-rapl:0" / "energy_uj"
    stop = threading.Event()
    t_start = time.monotonic()

    tmp = counter.with_name("energy_uj.tmp")

    def advance():  # atomic replace: a reader never sees a half-written file (sysfs never shows one)
        while not stop.wait(0.001):
            tmp.write_text(f"{int((time.monotonic() - t_start) * 20e6)}\n")
            os.replace(tmp, counter)

    threading.Thread(target=advance, daemon=True).start()
    try:
        device = replace(load_device("cpu"), energy={"powercap": str(root), "idle_s": 0.3, "window_s": 0.5})
        case = Case("t", "cpu", "torch_eager", "g1_block_stack", (), (), 1, 16, "float32", 1,
                    ("energy_forward", "energy_backward"))

        prepared = Prepared(timed={"latency_forward": Timed(run=lambda: time.sleep(0.01)),
                                   "latency_backward": Timed(run=lambda: time.sleep(0.02),
                                                             setup=lambda: time.sleep(0.01))},
                            output=lambda: None)
        out = {r["metric"]: r for r in EnergyProbe().measure(prepared, case, device)}
    finally:
        stop.set()
    fwd, bwd = out["energy_forward"]["value"], out["energy_backward"]["value"]
    assert fwd == pytest.approx(20 * 0.0101, rel=0.35) and bwd == pytest.approx(20 * 0.0201, rel=0.35)
    assert abs(out["energy_forward_above_idle"]["value"]) < 0.3 * fwd
    assert "rapl" in out["energy_forward"]["message"] and "idle" in out["energy_forward"]["message"]


def test_energy_probe_unsupported_here_says_why():
    device = replace(load_device("cpu"), energy={"powercap": "/nonexistent/powercap"})
    case = Case("t", "cpu", "torch_eager", "g1_block_stack", (), (), 1, 16, "float32", 1, ("energy_forward",))
    out = EnergyProbe().measure(Prepared(timed={}, output=lambda: None), case, device)
    assert {r["metric"] for r in out} == {"energy_forward", "energy_forward_above_idle"}
    assert all(r["status"] == "unsupported" and "does not exist" in r["message"] for r in out)


def test_energy_probe_for_a_model_on_an_rpc_board_is_unsupported_with_both_variants():
    device = load_device("arm")
    case = Case("t", "arm", "tvm", "g1_block_stack", (), (), 1, 16, "float32", 1, ("energy_forward",))
    prepared = Prepared(timed={}, output=lambda: None, runs_on="the board 'rk3399' behind the RPC tracker")
    out = EnergyProbe().measure(prepared, case, device)
    assert {r["metric"] for r in out} == {"energy_forward", "energy_forward_above_idle"}
    assert all(r["status"] == "unsupported" and "do not see it" in r["message"] for r in out)
