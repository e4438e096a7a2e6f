"""The ARM path end to end on the emulated aarch64 board (scripts/emulated-arm-board, qemu-user).

torch eager, onnxruntime and TVM (compiled on the board) run *inside* the aarch64 userland through the
`command` transport; TVM also runs the other way, cross-compiled here with aarch64-linux-gnu-g++ and
timed on the board through an RPC tracker. Records come back with the board's environment, outputs are
verified against eager on the board, and verdicts on emulated timings stay inconclusive.

The board must be built first (`scripts/emulated-arm-board build`, as root; .ci/run does it). Without
it these tests skip, unless BENCHSUITE_REQUIRE_BOARD=1 (CI), where a missing board is a failure.
"""
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from benchsuite import load_runs
from benchsuite.cli import main
from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "emulated-arm-board"
BOARD = Path(os.environ.get("BENCHSUITE_BOARD_DIR", Path.home() / ".cache/benchsuite/arm64-board"))
FILTER = "*groups=[18],*paper_set=arm*"  # the ARM channel set's g=1 and g=8 rows of G2
BOARD_ENV = "TVM_FFI_DISABLE_TORCH_C_DLPACK=1"


def _board_ready() -> bool:
    return (BOARD / "deps.stamp").exists()


pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not _board_ready() and os.environ.get("BENCHSUITE_REQUIRE_BOARD") != "1",
    reason="no emulated board: run scripts/emulated-arm-board build (as root)")]


def _run_dir(out: Path) -> Path:
    (d,) = [p for p in out.iterdir() if p.is_dir()]
    return d


def test_every_runner_inside_the_emulated_board(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)  # the profile's launcher is scripts/emulated-arm-board
    out = tmp_path / "results"
    rc = main(["run", "--device", "arm-emulated", "--workload", "guideline2", "--quick", "--filter", FILTER,
               "--no-ceilings", "--out", str(out), "--no-progress"])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    run = _run_dir(out)
    meta = json.loads((run / "run.json").read_text())
    env = meta["environment"]
    assert env["machine"] == "aarch64" and meta["host_environment"]["machine"] != "aarch64"
    assert env["cpu_model"].startswith("emulated aarch64") and env["libraries"]["torch"]
    # the board's named core (scripts/emulated-arm-board sets QEMU_CPU), not qemu's slow SVE default `max`
    assert f"(qemu-user, {os.environ.get('BENCHSUITE_BOARD_CPU', 'cortex-a76')} core)" in env["cpu_model"]
    df = load_runs(run)
    fwd = df[df.metric == "latency_forward"]
    assert set(fwd.runner) == {"torch_eager", "onnxruntime", "tvm"}
    assert (fwd.status == "ok").all() and set(fwd.source) == {"emulated"}, fwd[["runner", "status", "message"]]
    checked = df[df.metric == "output_error"]
    assert set(checked.runner) == {"onnxruntime", "tvm"} and (checked.value < 1e-3).all()
    assert (df[(df.runner == "tvm") & (df.metric == "latency_forward")]["config.tuned"] == False).all()  # noqa: E712
    verdicts = json.loads((run / "verdicts.json").read_text())
    g2 = [v for v in verdicts if v["label"] == "G2"]
    assert len(g2) == 4  # eager forward + backward, onnxruntime and TVM forward
    assert all(v["verdict"] == "inconclusive" and "emulated" in v["note"] for v in g2)
    assert "timings are emulated" in printed


@pytest.fixture
def board_rpc_server():
    """A TVM RPC tracker on this host and an RPC server inside the emulated board registered with it.

    --no-fork: the server serves each session in a child process, and a fork of its (threaded) worker under
    qemu-user can deadlock before the child reads a byte (seen once: the child at 0 CPU for 13 minutes while
    the client waited in connect); spawned children re-import TVM instead (slower, never stuck)."""
    from tvm.rpc.tracker import Tracker

    tracker = Tracker("127.0.0.1", port=19700, port_end=19800, silent=True)
    server = subprocess.Popen([str(SCRIPT), "exec", "--", "env", BOARD_ENV, "python3", "-m",
                               "tvm.exec.rpc_server", "--no-fork", "--host", "127.0.0.1", "--port", "19810",
                               "--port-end", "19900", "--tracker", f"127.0.0.1:{tracker.port}",
                               "--key", "arm-emulated"], cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    from benchsuite.errors import BenchsuiteError
    from benchsuite.runners.tvm.rpc import RemoteSpec, check_tracker

    spec = RemoteSpec("127.0.0.1", tracker.port, "arm-emulated", {}, connect_timeout_s=2)
    deadline = time.monotonic() + 300  # the emulated server imports TVM first
    while True:
        try:
            check_tracker(spec)
            break
        except BenchsuiteError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise
            time.sleep(2)
    yield tracker.port
    os.killpg(server.pid, 9)
    server.wait()
    tracker.terminate()


@pytest.mark.skipif(shutil.which("aarch64-linux-gnu-g++") is None, reason="no aarch64 cross compiler")
def test_tvm_cross_compiled_here_and_timed_on_the_board_over_rpc(tmp_path, monkeypatch, board_rpc_server):
    monkeypatch.chdir(REPO)
    profile = (REPO / "benchsuite/builtin/devices/arm-emulated.toml").read_text()
    profile = profile.replace('name = "arm-emulated"', 'name = "arm-emulated-rpc"').replace(
        'via = "worker"', 'via = "rpc"')
    profile += (f'\n[remote]\ntracker = "127.0.0.1:{board_rpc_server}"\nkey = "arm-emulated"\n'
                'target = { kind = "llvm", mtriple = "aarch64-linux-gnu" }\ncc = "aarch64-linux-gnu-g++"\n'
                'request_timeout_s = 120\nsession_timeout_s = 1800\n')
    dev = tmp_path / "arm-emulated-rpc.toml"
    dev.write_text(profile)
    out = tmp_path / "results"
    assert main(["run", "--device", str(dev), "--workload", "guideline2", "--quick", "--filter", FILTER,
                 "--runner", "tvm", "--no-ceilings", "--out", str(out), "--no-progress"]) == 0
    df = load_runs(_run_dir(out))
    fwd = df[df.metric == "latency_forward"]
    assert len(fwd) == 2 and (fwd.status == "ok").all() and set(fwd.source) == {"emulated"}
    assert set(fwd["config.via"]) == {"rpc"} and set(fwd["config.remote_key"]) == {"arm-emulated"}
    assert (df[df.metric == "output_error"].value < 1e-3).all() and (df[df.metric == "upload_time"].value > 0).all()
    energy = df[df.metric == "energy_forward"]
    assert (energy.status == "unsupported").all() and energy.message.str.contains("do not see it").all()


def test_the_boards_benchsuite_is_this_hosts():
    """The board's benchsuite (installed from this checkout's wheel) says hello as aarch64 and is accepted:
    its library versions differ from this host's (torch 2.9.1 there) and are recorded, not refused."""
    out = subprocess.run([str(SCRIPT), "exec", "--", "python3", "-c",
                          "import benchsuite.protocol as p, json; print(json.dumps(p.hello()))"],
                         capture_output=True, text=True, timeout=600, cwd=REPO)
    hello = json.loads(out.stdout.strip().splitlines()[-1])
    from benchsuite.protocol import incompatibility

    assert hello["machine"] == "aarch64" and incompatibility(hello) is None


def test_installed_wheel_on_the_board_from_an_empty_folder():
    """The board's benchsuite is this checkout's wheel installed with the aarch64 constraints (torch's CPU
    build): from an empty folder it lists its built-ins and runs a quick case locally on aarch64."""
    script = ("mkdir -p /tmp/empty && cd /tmp/empty && rm -rf results && "
              "python3 -m benchsuite list devices && python3 -m benchsuite list workloads && "
              "python3 -c 'import torch; print(\"torch\", torch.__version__)' && "
              "python3 -m benchsuite run --device cpu --workload guideline1 --quick --filter '*c1=[23]2,*' "
              "--runner torch_eager --no-ceilings --no-progress")
    r = subprocess.run([str(SCRIPT), "exec", "--", "env", BOARD_ENV, "sh", "-c", script], capture_output=True,
                       text=True, timeout=1500, cwd=REPO)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = r.stdout
    assert "cpu " in out and "built-in" in out and "/opt/benchsuite/site/benchsuite/builtin" in out
    assert "guideline1" in out and "torch 2.9.1" in out and "+cpu" in out
    assert "records: " in out and " ok" in out and "error" not in out.split("records:")[1].split("\n")[0]
    assert "G1 [" in out
