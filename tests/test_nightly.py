"""`make nightly` end to end with the fake runner: green twice, then red on an injected 25% slowdown (with two
earlier runs there is no run-to-run spread yet: regress falls back to the samples with the 10% floor)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FAST_TIMING, REPO, SMALL_G1

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def _nightly(tmp_path, slowdown: float) -> subprocess.CompletedProcess:
    dev = tmp_path / "fakedev.toml"
    dev.write_text(f'name = "fakedev"\nkind = "cpu"\nthreads = [1]\nrunners = ["fake"]\n{FAST_TIMING}\n'
                   f"[runner_options.fake]\nslowdown = {slowdown}\nseconds_per_gmac = 0.1\nclock = \"simulated\"\n")
    wl = tmp_path / "smallg1.toml"
    wl.write_text(SMALL_G1)
    bin_dir = Path(sys.executable).parent
    return subprocess.run(
        ["make", "-C", str(REPO), "-o", f"{bin_dir}/benchsuite", "nightly", f"BIN={bin_dir}",
         f"DEVICE={dev}", f"NIGHTLY_WORKLOADS={wl}", f"RESULTS={tmp_path / 'results'}",
         f"REPORTS={tmp_path / 'reports'}"], capture_output=True, text=True, timeout=600)


def test_make_nightly_flags_an_injected_regression(tmp_path):
    first = _nightly(tmp_path, 1.0)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "nothing to compare yet" in first.stdout and (tmp_path / "reports" / "index.html").exists()
    second = _nightly(tmp_path, 1.0)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "0 slower" in second.stdout
    third = _nightly(tmp_path, 1.25)
    assert third.returncode != 0 and "6 slower" in third.stdout, third.stdout + third.stderr
    assert (tmp_path / "reports" / "index.html").exists(), "the report is written even when the check fails"
