"""Devices that cannot run here fail at once; ARM boards over TVM RPC, tested on loopback."""
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from benchsuite import load_runs
from benchsuite.cli import main
from benchsuite.errors import BenchsuiteError
from benchsuite.runners.tvm.rpc import RemoteSpec, check_tracker, request_session
from tests.conftest import FAST_TIMING, SMALL_G1

not_arm = pytest.mark.skipif(platform.machine().lower() in ("aarch64", "arm64"), reason="this host is ARM")


@not_arm
def test_arm_without_remote_fails_at_once_with_instructions(capsys, tmp_path):
    t0 = time.monotonic()
    assert main(["run", "--device", "arm", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "ARM profile" in err and "[remote]" in err and "rpc_tracker" in err and time.monotonic() - t0 < 10
    assert not any(tmp_path.iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_gpu_without_cuda_fails_at_once(capsys, tmp_path):
    assert main(["run", "--device", "gpu", "--out", str(tmp_path)]) == 2
    assert "no CUDA GPU is usable here" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tracker():
    from tvm import rpc
    from tvm.rpc.tracker import Tracker

    tr = Tracker("127.0.0.1", port=19190, port_end=19390, silent=True)
    time.sleep(1)
    servers = [rpc.Server(host="127.0.0.1", port=19400, port_end=19600, key=key,
                          tracker_addr=("127.0.0.1", tr.port), silent=True) for key in ("loopback", "busy")]
    deadline = time.monotonic() + 30
    spec = RemoteSpec("127.0.0.1", tr.port, "loopback", {"kind": "llvm"}, connect_timeout_s=2,
                      request_timeout_s=3)
    while time.monotonic() < deadline:  # both servers registered (on a loaded machine one can lag)
        try:
            check_tracker(spec)
            check_tracker(replace(spec, key="busy"))
            break
        except BenchsuiteError:
            time.sleep(0.5)
    yield spec
    for srv in servers:
        srv.terminate()
    tr.terminate()


def _remote_device(tmp_path, spec, key=None, cc=""):
    dev = tmp_path / "board.toml"
    dev.write_text(f'name = "board"\nkind = "arm"\nthreads = [1]\nrunners = ["tvm", "torch_eager"]\n{FAST_TIMING}\n'
                   f'[remote]\ntracker = "127.0.0.1:{spec.tracker_port}"\nkey = "{key or spec.key}"\n'
                   f'target = {{ kind = "llvm" }}\ncc = "{cc}"\nconnect_timeout_s = 2\nrequest_timeout_s = 60\n')
    return dev


TWO_ROWS = SMALL_G1.replace(", { c1 = 4, c2 = 64 }", "")


@not_arm
@pytest.mark.slow
def test_remote_run_on_loopback_board_tuned_over_rpc(tracker, tmp_path):
    """Two cases in one comparison group share the board's session, each is tuned with candidates
    measured on the board (the session is handed back meanwhile), and a second run re-uses the records."""
    wl = tmp_path / "w.toml"
    wl.write_text(TWO_ROWS)
    out = tmp_path / "results"
    # cc: this host's g++ stands in for a cross compiler, so candidates are linked on this side
    args = ["run", "--device", str(_remote_device(tmp_path, tracker, cc="g++")), "--workload", str(wl), "--quick",
            "--out", str(out), "--no-progress", "--no-ceilings", "--runner-option", "tvm.trials=2",
            "--runner-option", "tvm.tune=true", "--runner-option", f"tvm.database_dir={tmp_path / 'db'}"]
    assert main(args) == 0
    df = load_runs(next(p for p in out.iterdir() if p.is_dir()))
    tvm = df[df.runner == "tvm"].set_index(["metric", "case_id"])
    fwd = tvm.loc["latency_forward"]
    assert len(fwd) == 2 and (fwd.status == "ok").all() and (fwd.value > 0).all() and (fwd.n >= 5).all()
    assert (fwd["config.remote_key"] == "loopback").all() and fwd["config.tuned"].all()
    assert (fwd["config.trials_per_task"] == 2).all() and (fwd["config.trials_tuned_here"] > 0).any()
    assert tvm.loc["tuning_time"].message.str.contains("measured on 'loopback' over RPC").all()
    for db in fwd["config.database"]:  # candidates were built and measured on the board: records exist
        records = [json.loads(ln) for ln in (Path(db) / "database_tuning_record.json").read_text().splitlines()]
        assert any(max(run_secs) < 1.0 for _, (_, run_secs, *_) in records)  # a real board timing
    assert (tvm.loc["output_error"].value < 1e-4).all() and (tvm.loc["upload_time"].value > 0).all()
    assert (tvm.loc["latency_backward"].status == "unsupported").all()
    eager = df[(df.runner == "torch_eager") & (df.metric == "latency_forward")]
    assert (eager.status == "unsupported").all() and eager.message.str.contains("add a \\[transport\\]").all()

    assert main(args) == 0
    second = load_runs(sorted(p for p in out.iterdir() if p.is_dir())[-1])
    fwd = second[(second.runner == "tvm") & (second.metric == "latency_forward")]
    assert (fwd.status == "ok").all() and (fwd["config.trials_tuned_here"] == 0).all() and fwd["config.tuned"].all()


def test_unreachable_tracker_fails_within_the_bound():
    spec = RemoteSpec("127.0.0.1", 1, "any", {"kind": "llvm"}, connect_timeout_s=2)
    t0 = time.monotonic()
    with pytest.raises(BenchsuiteError, match="unreachable within 2 s"):
        check_tracker(spec)
    assert time.monotonic() - t0 < 5


def test_unknown_key_is_refused_listing_the_registered(tracker):
    with pytest.raises(BenchsuiteError, match=r"no board with key 'nosuch'.*registered: busy, loopback"):
        check_tracker(replace(tracker, key="nosuch"))


def test_busy_board_request_times_out(tracker):
    busy = replace(tracker, key="busy")
    held = request_session(replace(busy, request_timeout_s=30))  # the only board with this key is now taken
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="no free board with key 'busy' within 3 s"):
        request_session(busy)
    assert time.monotonic() - t0 < 15
    del held
