import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

_FAST = """warmup_s = 0.01
min_sample_s = 0.002
target_precision = 0.05
min_samples = 5
max_time_s = 0.3
case_timeout_s = 20
"""
FAST_TIMING = f"\n[timing]\n{_FAST}[timing_quick]\n{_FAST}"


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def fake_device(tmp_path):
    """A device profile running the fake runner with fast timing; extra TOML can be appended."""
    def make(extra: str = "", name: str = "fakedev", runners='["fake"]') -> Path:
        return write(tmp_path / f"{name}.toml", f'name = "{name}"\nkind = "cpu"\nthreads = [1]\n'
                     f'runners = {runners}\n' + FAST_TIMING + textwrap.dedent(extra))
    return make


SMALL_G1 = """
name = "smallg1"
studies = ["g1"]
metrics = ["latency_forward", "latency_backward"]
resolutions = [16]
compare = ["c1", "c2"]
[[models]]
name = "g1_block_stack"
rows = [{ c1 = 16, c2 = 16 }, { c1 = 8, c2 = 32 }, { c1 = 4, c2 = 64 }]
"""


@pytest.fixture
def small_workload(tmp_path):
    def make(text: str = SMALL_G1, name: str = "smallg1") -> Path:
        return write(tmp_path / f"{name}.toml", text)
    return make


def start_run_until(dev: Path, wl: Path, out: Path, latency_records: int, timeout_s: float = 120):
    """Start `benchsuite run` as its own process and return (process, records file) once the records file
    holds `latency_records` latency records: the moment a kill test pulls the plug."""
    proc = subprocess.Popen([sys.executable, "-m", "benchsuite", "run", "--device", str(dev), "--workload", str(wl),
                             "--out", str(out), "--no-progress"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = list(out.glob("*/records.jsonl")) if out.exists() else []
        if runs and runs[0].read_text().count('"latency_') >= latency_records:
            return proc, runs[0]
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"no {latency_records} latency records within {timeout_s} s")
