"""Installable anywhere: the sdist and wheel build and pass twine's checks, and the wheel installed into a
fresh venv outside the checkout finds its built-in devices and workloads from an empty folder and runs."""
import subprocess
import sys
import zipfile

import pytest

import benchsuite
from tests.conftest import REPO


def _sh(args, **kw):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=900, **kw)
    assert r.returncode == 0, f"{args}: exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


@pytest.mark.slow
def test_wheel_outside_the_checkout(tmp_path):
    dist = tmp_path / "dist"
    # --no-isolation: the build backend (setuptools) comes from this environment, not a download
    _sh([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", dist, REPO])
    (wheel,) = dist.glob("benchsuite-*.whl")
    (sdist,) = dist.glob("benchsuite-*.tar.gz")
    assert wheel.name.startswith(f"benchsuite-{benchsuite.__version__}-")
    _sh([sys.executable, "-m", "twine", "check", "--strict", wheel, sdist])
    names = zipfile.ZipFile(wheel).namelist()
    assert "benchsuite/builtin/devices/cpu.toml" in names and "benchsuite/builtin/workloads/guideline1.toml" in names

    venv = tmp_path / "venv"
    _sh([sys.executable, "-m", "venv", venv])
    _sh([venv / "bin/pip", "install", "-q", "-c", REPO / "constraints.txt", f"benchsuite[onnx] @ {wheel.as_uri()}"])
    empty = tmp_path / "empty"
    empty.mkdir()
    bs = venv / "bin/benchsuite"
    assert _sh([bs, "--version"], cwd=empty).strip() == f"benchsuite {benchsuite.__version__}"
    devices = _sh([bs, "list", "devices"], cwd=empty)
    assert "cpu " in devices and "built-in" in devices and str(venv) in devices
    assert "guideline1" in _sh([bs, "list", "workloads"], cwd=empty)
    out = _sh([bs, "run", "--device", "cpu", "--workload", "guideline1", "--quick", "--filter", "*c1=[23]2,*",
               "--no-ceilings", "--no-progress", "--out", empty / "results"], cwd=empty)
    assert "verdicts:" in out and "G1 [" in out and "error" not in out.split("records:")[1].split("\n")[0]
    (run,) = [p for p in (empty / "results").iterdir() if p.is_dir()]
    import json

    meta = json.loads((run / "run.json").read_text())
    assert meta["benchsuite_version"] == benchsuite.__version__
    assert meta["device_file"]["path"].startswith(str(venv))  # the built-in, read from the installed package
