"""Memory-traffic readers against recorded outputs, and the probes' honesty where they cannot run."""
import shutil
from dataclasses import replace

import pytest

from benchsuite.measure import Timed
from benchsuite.probes.traffic import CachegrindProbe, PerfTrafficProbe, parse_cachegrind, parse_perf_csv
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


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_cachegrind_traffic_approaches_the_analytic_mac_when_nothing_fits():
    """With a 256 KiB simulated LL, the G1 1:1 stack (400 KB activations) streams every tensor
    through memory: simulated traffic must land near the analytic MAC (16.6 MB per forward)."""
    from benchsuite.counting import count_registered

    device = replace(load_device("cpu"), cachegrind_ll="262144,16,64")
    knobs = (("c1", 32), ("c2", 32), ("multiplier", 1))
    case = Case("t", "cpu", "torch_eager", "g1_block_stack", knobs, (), 1, 56, "float32", 1,
                ("traffic_forward_simulated",))
    (r,) = CachegrindProbe().measure(None, case, device)
    mac = count_registered("g1_block_stack", 56, c1=32, c2=32).totals()["mac_bytes"]
    assert r["source"] == "simulated" and "262144 B" in r["message"], r
    assert 0.3 * mac < r["value"] < 3 * mac, (r["value"], mac)
