"""The ssh transport against a real OpenSSH server: sshd on 127.0.0.1 with a throw-away host key and client
key, its sessions running the worker on this host (and, where the emulated board is built, inside the
board, forced there by sshd's ForceCommand).

A filtered run gives ok records over ssh; sshd killed mid-case makes that case an error record naming
the connection while the finished cases stay and the run ends; a wrong port, a wrong key and a wrong
`python` are each refused before any run folder, with exit 2, ssh's own words and the command to try.
Without sshd these skip, unless BENCHSUITE_REQUIRE_SSHD=1 (CI installs openssh-server)."""
import getpass
import json
import os
import re
import time
import tomllib
from pathlib import Path

import pytest

from benchsuite import load_runs
from benchsuite.cli import main
from tests.conftest import REPO, start_run_until
from tests.sshd import INTO_THE_BOARD, SSHD, Server, free_port
pytestmark = pytest.mark.skipif(
    not (Path(SSHD).exists() and os.geteuid() == 0) and os.environ.get("BENCHSUITE_REQUIRE_SSHD") != "1",
    reason="no sshd here, or not root (sshd on a test port needs both): apt-get install openssh-server")


@pytest.fixture
def sshd(tmp_path):
    server = Server(tmp_path)
    yield server
    server.stop()


def _run_dir(out: Path) -> Path:
    (d,) = [p for p in out.iterdir() if p.is_dir()]
    return d


def test_a_run_over_a_real_ssh_server(tmp_path, sshd, fake_device, small_workload):
    dev = fake_device(sshd.transport())
    out = tmp_path / "results"
    assert main(["run", "--device", str(dev), "--workload", str(small_workload()), "--out", str(out),
                 "--no-progress", "--filter", "*c1=16,*"]) == 0
    run = _run_dir(out)
    meta = json.loads((run / "run.json").read_text())
    assert meta["transport"] == f"{getpass.getuser()}@127.0.0.1 over ssh" and not meta["emulated"]
    lat = load_runs(run).query("metric.str.startswith('latency')", engine="python")
    assert len(lat) == 2 and set(lat.status) == {"ok"} and set(lat.source) == {"measured"}


def test_sshd_killed_mid_case(tmp_path, sshd, fake_device, small_workload):
    """Each case its own group (no compare axis); the third hangs on the board while sshd dies."""
    wl = small_workload(small_workload().read_text().replace('compare = ["c1", "c2"]\n', ""), "nocompare")
    dev = fake_device(sshd.transport() + '\n[runner_options.fake]\nhang_on = ["*c1=4,*"]\n')
    out = tmp_path / "results"
    proc, records = start_run_until(dev, wl, out, latency_records=4)
    time.sleep(2)  # the third case is now in its (hanging) preparation on the far side
    t0 = time.monotonic()
    sshd.kill()
    assert proc.wait(timeout=120) == 1, "the run ends, with an error record"
    ended_in = time.monotonic() - t0
    lat = load_runs(records.parent).query("metric.str.startswith('latency')", engine="python").set_index("params.c1")
    assert (lat.loc[[16, 8], "status"] == "ok").all()
    (message,) = set(lat.loc[4, "message"])
    assert set(lat.loc[4, "status"]) == {"error"} and "over ssh failed or ended" in message, message
    assert ended_in < 100, f"the run took {ended_in:.0f} s to end after sshd died"


@pytest.mark.parametrize("what", ["port", "key", "python"])
def test_a_wrong_setting_is_refused_at_the_door_in_ssh_s_words(tmp_path, sshd, fake_device, capsys, what):
    wrong = {"port": {"port": free_port()}, "key": {"key": "stranger"},
             "python": {"python": "/nonexistent/bin/python"}}[what]
    dev = fake_device(sshd.transport(**wrong))
    t0 = time.monotonic()
    assert main(["run", "--device", str(dev), "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    assert time.monotonic() - t0 < 30, "a connection that fails in seconds is not waited on for the connect timeout"
    err = capsys.readouterr().err
    said = {"port": "Connection refused", "key": "Permission denied", "python": "exit 127"}[what]
    assert said in err and "did not start" in err, err
    assert "try it by hand: ssh -T" in err and "-p " in err and "-i " in err, err
    assert "Traceback" not in err and not (tmp_path / "r").exists()


BOARD = Path(os.environ.get("BENCHSUITE_BOARD_DIR", Path.home() / ".cache/benchsuite/arm64-board"))


@pytest.mark.slow
@pytest.mark.skipif(not (BOARD / "deps.stamp").exists() and os.environ.get("BENCHSUITE_REQUIRE_BOARD") != "1",
                    reason="no emulated board: run scripts/emulated-arm-board build (as root)")
def test_the_emulated_board_behind_sshd_says_it_is_emulated(tmp_path, small_workload):
    """sshd forces every session into the emulated board; the profile is the built-in `arm` one (no
    `emulated` flag): the board's worker says it is emulated, and the records and verdicts say so."""
    server = Server(tmp_path, force_command=INTO_THE_BOARD)
    try:
        profile = (REPO / "benchsuite/builtin/devices/arm.toml").read_text().replace('name = "arm"', 'name = "myboard"')
        # what is tested is what the board says it is, not its timing: the emulated profile's few samples
        quick = tomllib.loads((REPO / "benchsuite/builtin/devices/arm-emulated.toml").read_text())["timing_quick"]
        profile, n = re.subn(r"\[timing_quick\]\n(?:.+\n)+", "[timing_quick]\n" + "".join(
            f"{k} = {v}\n" for k, v in quick.items()), profile)
        assert n == 1
        profile += server.transport(python="python3", timeout_s=600)
        profile += 'env = { TVM_FFI_DISABLE_TORCH_C_DLPACK = "1" }\n'
        dev = tmp_path / "myboard.toml"
        dev.write_text(profile)
        out = tmp_path / "results"
        t0 = time.monotonic()
        rc = main(["run", "--device", str(dev), "--workload", "guideline2", "--quick", "--filter",
                   "*groups=[18],*paper_set=arm*", "--runner", "torch_eager", "--no-ceilings", "--out", str(out),
                   "--no-progress"])
        took = time.monotonic() - t0
    finally:
        server.stop()
    run = _run_dir(out)
    meta = json.loads((run / "run.json").read_text())
    assert rc == 0, (run / "worker.log").read_text()[-3000:]
    assert meta["emulated"] and "qemu-user" in meta["emulated_because"], meta.get("emulated_because")
    lat = load_runs(run).query("metric.str.startswith('latency')", engine="python")
    assert set(lat.status) == {"ok"} and set(lat.source) == {"emulated"}, lat[["status", "message"]]
    verdicts = json.loads((run / "verdicts.json").read_text())
    assert verdicts and all(v["verdict"] == "inconclusive" and "emulated" in v["note"] for v in verdicts)
    log = (run / "worker.log").read_text()
    assert sum("NNPACK" in line for line in log.splitlines()) <= 3, "a repeated library line is counted, not written"
    print(f"emulated board behind sshd: {len(lat)} latency records in {took:.0f} s")
