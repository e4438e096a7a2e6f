"""Memory-traffic readers against recorded outputs, and the probes' honesty where they cannot run."""
import shutil
import sys
from dataclasses import replace

import pytest

from benchsuite.measure import Timed
from benchsuite.runners.base import Prepared
from benchsuite.probes.traffic import (CachegrindProbe, NcuTrafficProbe, PerfTrafficProbe, parse_cachegrind,
                                       parse_ncu_csv, parse_perf_csv)
from benchsuite.spec import load_device
from benchsuite.sweep import Case
from tests.conftest import REPO

DATA = REPO / "tests" / "data"


def test_parse_cachegrind_summary():
    misses, line, desc = parse_cachegrind((DATA / "cachegrind.out").read_text())
    assert misses == 112778 + 314039 and line == 64 and desc.startswith("33554432 B, 64 B, 16-way")
    with pytest.raises(ValueError, match="cache simulation"):
        parse_cachegrind("events: Ir\nsummary: 100\n")
    with pytest.raises(ValueError, match="not a cachegrind output"):
        parse_cachegrind("hello")


def test_parse_perf_csv():
    assert parse_perf_csv((DATA / "perf_stat_ok.csv").read_text()) == {"LLC-load-misses": 1234567,
                                                                      "LLC-store-misses": 89012}
    assert parse_perf_csv((DATA / "perf_stat_unsupported.csv").read_text()) == {"LLC-load-misses": None,
                                                                               "LLC-store-misses": None}


def test_parse_ncu_csv_sums_kernels_and_scales_units():
    """A constructed Nsight Compute details page in the CLI's layout: grouping commas, a Kbyte value."""
    totals, kernels = parse_ncu_csv((DATA / "ncu_details.csv").read_text())
    assert kernels == 3
    assert totals == {"dram__bytes_read.sum": 1605632 + 12500 + 401408, "dram__bytes_write.sum": 802816 + 401408}
    with pytest.raises(ValueError, match="not Nsight Compute CSV"):
        parse_ncu_csv("==PROF== Connected to process 1\nhello\n")
    bad = '"ID","Metric Name","Metric Unit","Metric Value"\n"0","dram__bytes_read.sum","%","5"\n'
    with pytest.raises(ValueError, match="unexpected unit '%'"):
        parse_ncu_csv(bad)


FAKE_NCU = """#!{python}
import sys
args = sys.argv[1:]
assert args[args.index("--nvtx-include") + 1] == "benchsuite_forward/", args
assert "--nvtx" in args and args[args.index("--print-units") + 1] == "base", args
child = args[args.index("--log-file") + 2:]
assert child[1:3] == ["-m", "benchsuite.device.profiled_forward"] and '"nvtx": "benchsuite_forward"' in child[3], child
log = args[args.index("--log-file") + 1]
{action}
"""


def _fake_ncu(tmp_path, monkeypatch, action):
    ncu = tmp_path / "ncu"
    ncu.write_text(FAKE_NCU.format(python=sys.executable, action=action))
    ncu.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{__import__('os').environ['PATH']}")


def test_ncu_probe_runs_one_forward_in_the_nvtx_range_and_sums_dram_bytes(tmp_path, monkeypatch):
    """A stand-in ncu checks the command line (NVTX filter, base units, the case's child) and
    answers with the recorded page; the probe reports read + write bytes of the range's kernels."""
    _fake_ncu(tmp_path, monkeypatch, f"open(log, 'w').write(open({str(DATA / 'ncu_details.csv')!r}).read())")
    (r,) = NcuTrafficProbe().measure(None, _case("traffic_forward_measured"), load_device("gpu"))
    assert r["value"] == 1605632 + 12500 + 401408 + 802816 + 401408 and r["unit"] == "B"
    assert "3 kernels of one forward" in r["message"]


def test_ncu_probe_explains_counter_permission(tmp_path, monkeypatch):
    _fake_ncu(tmp_path, monkeypatch, "print('==ERROR== ERR_NVGPUCTRPERM - The user does not have permission'); "
                                     "sys.exit(1)")
    (r,) = NcuTrafficProbe().measure(None, _case("traffic_forward_measured"), load_device("gpu"))
    assert r["status"] == "unsupported" and "NVreg_RestrictProfilingToAdminUsers=0" in r["message"]


def test_ncu_probe_without_ncu_or_gpu(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    case = _case("traffic_forward_measured")
    (r,) = NcuTrafficProbe().measure(None, case, load_device("gpu"))
    assert r["status"] == "unsupported" and "ncu" in r["message"]
    assert NcuTrafficProbe().measure(None, case, load_device("cpu")) == []
    assert PerfTrafficProbe().measure(None, case, load_device("gpu")) == []  # one traffic probe per device kind


def _case(metric):
    return Case("t", "cpu", "torch_eager", "g1_block_stack", (("c1", 8), ("c2", 8), ("multiplier", 1)), (), 1, 8,
                "float32", 1, (metric,))


@pytest.mark.skipif(shutil.which("perf") is None, reason="perf not installed")
def test_perf_probe_measures_or_says_why():
    class P:
        timed = {"latency_forward": Timed(run=lambda: sum(range(1000)))}

    (r,) = PerfTrafficProbe().measure(P(), _case("traffic_forward_measured"), load_device("cpu"))
    if r.get("status") == "unsupported":
        assert "PMU is not readable" in r["message"]
    else:
        assert r["value"] > 0 and r["unit"] == "B"


@pytest.mark.parametrize("misses, expect", [({1: 5000, 11: 4990}, 0.0), ({1: 5000, 11: 6000}, 100 * 64)])
def test_cachegrind_difference_below_the_noise_is_zero_traffic_with_its_bound(monkeypatch, misses, expect):
    """A case that fits the simulated LL can miss fewer lines over 11 forwards than over 1 (two processes differ
    in startup); that is zero traffic to within the difference, never a negative byte count nor an error."""
    import benchsuite.probes.traffic as traffic

    monkeypatch.setattr(traffic.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(traffic, "simulate", lambda case, device, k, ll=None: (misses[k], 64, "LL 32 MiB"))
    (r,) = CachegrindProbe().measure(Prepared(timed={}, output=lambda: None), _case("traffic_forward_simulated"),
                                     load_device("cpu"))
    assert r["value"] == expect and r["source"] == "simulated" and r.get("status", "ok") == "ok", r
    if expect == 0.0:
        assert "to within 64 B" in r["message"] and "LL 32 MiB" in r["message"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
@pytest.mark.parametrize("ll", [33554432, 262144])
def test_cachegrind_traffic_and_the_modeled_energy_agree_on_what_fits(ll):
    """The G1 1:1 stack (c = 32 at 56x56: 400 KB of activations per layer) under cachegrind and under the
    cache-aware energy model, with the same last-level cache. 256 KiB LL: every tensor streams through
    memory, so simulated traffic lands near the analytic MAC (16.1 MB per forward) and the model charges
    the bulk of it to DRAM. 32 MiB LL: cachegrind sees a few % of the MAC, and the model charges no DRAM."""
    from benchsuite.counting import count_registered
    from benchsuite.energy_model import Caches, modeled_energy

    device = replace(load_device("cpu"), cachegrind_ll=f"{ll},16,64")
    case = Case("t", "cpu", "torch_eager", "g1_block_stack", (("c1", 32), ("c2", 32), ("multiplier", 1)), (), 1, 56,
                "float32", 1, ("traffic_forward_simulated",))
    (r,) = CachegrindProbe().measure(Prepared(timed={}, output=lambda: None), case, device)
    counts = count_registered("g1_block_stack", 56, c1=32, c2=32)
    mac = counts.totals()["mac_bytes"]
    _, how, config = modeled_energy(counts, "float32", Caches({"L1d": 32768, "L2": 524288, "LL": ll}, "the test"))
    print(f"LL {ll} B: simulated {r['value'] / 1e6:.2f} MB, MAC {mac / 1e6:.2f} MB, "
          f"model DRAM {config['dram_bytes'] / 1e6:.2f} MB")
    assert r["source"] == "simulated" and f"{ll} B" in r["message"], r
    if r["value"] < 0.1 * mac:
        assert config["dram_bytes"] == 0, how
    else:
        assert 0.3 * mac < r["value"] < 3 * mac and config["dram_bytes"] > 0.3 * mac, how
    assert (ll > 1 << 20) == (r["value"] < 0.1 * mac)  # the two regimes this test is about both occur
