"""Transports: the worker reached through a launcher (command), ssh and adb command lines, a board that
does not answer, an incompatible benchsuite there, a connection dropped mid-case, a host killed mid-run.

A relay (tests/data/relay.py) stands in for ssh: it runs the worker as its own child and relays its
stdin and stdout, so killing it drops the connection the way a dead ssh does."""
import json
import os
import signal
import sys
import time

from benchsuite import load_runs
from benchsuite.cli import main
from benchsuite.spec import load_device
from benchsuite.transports import transport_for
from tests.conftest import REPO, start_run_until

RELAY = REPO / "tests" / "data" / "relay.py"


def _command_transport(command, extra=""):
    return (f'\n[transport]\nkind = "command"\ncommand = {json.dumps([str(c) for c in command])}\n'
            f'python = {json.dumps(sys.executable)}\nconnect_timeout_s = 60\n{extra}')


def _run_dir(out):
    (d,) = [p for p in out.iterdir() if p.is_dir()]
    return d


def test_a_board_behind_a_launcher_runs_the_same_worker(tmp_path, fake_device, small_workload, capsys):
    dev = fake_device(_command_transport([sys.executable, RELAY]))
    out = tmp_path / "results"
    assert main(["run", "--device", str(dev), "--workload", str(small_workload()), "--out", str(out),
                 "--no-progress"]) == 0
    run = _run_dir(out)
    meta = json.loads((run / "run.json").read_text())
    assert meta["transport"].startswith("the command ") and "relay.py" in meta["transport"]
    assert meta["environment"]["runners"]["fake"]["available"] and "host_environment" in meta
    df = load_runs(run)
    lat = df[df.metric.str.startswith("latency")]
    assert len(lat) == 6 and set(lat.status) == {"ok"} and set(lat.source) == {"measured"}
    assert "verdicts:" in capsys.readouterr().out


def test_transport_table_is_validated(tmp_path, fake_device, capsys):
    bad = fake_device('\n[transport]\nkind = "pigeon"\n', name="bad1")
    assert main(["run", "--device", str(bad), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "transport.kind" in err and "adb, command, local, ssh" in err
    bad = fake_device('\n[transport]\nkind = "ssh"\nport = 0\nhost = "pi@board"\n', name="bad2")
    assert main(["run", "--device", str(bad), "--out", str(tmp_path / "r")]) == 2
    assert "transport.port" in capsys.readouterr().err
    bad = fake_device('\n[transport]\nkind = "command"\n', name="bad3")
    assert main(["run", "--device", str(bad), "--out", str(tmp_path / "r")]) == 2
    assert "key 'transport.command': missing" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_ssh_and_adb_command_lines(fake_device):
    dev = load_device(str(fake_device('\n[transport]\nkind = "ssh"\nhost = "pi@board.local"\nport = 2222\n'
                                      'identity = "/k/id"\npython = "/opt/bs venv/bin/python"\n'
                                      'connect_timeout_s = 7\nenv = { OMP_NUM_THREADS = "1" }\n', name="s")))
    argv = transport_for(dev.transport).argv()
    assert argv[:2] == ["ssh", "-T"] and "BatchMode=yes" in argv and "ConnectTimeout=7" in argv
    assert argv[argv.index("-p") + 1] == "2222" and argv[argv.index("-i") + 1] == "/k/id"
    assert argv[-3:] == ["pi@board.local", "--",
                         "env OMP_NUM_THREADS=1 /opt/bs venv/bin/python -m benchsuite.device.worker"]
    dev = load_device(str(fake_device('\n[transport]\nkind = "adb"\nserial = "R58M"\n'
                                      'python = "/data/data/com.termux/files/usr/bin/python"\n', name="a")))
    assert transport_for(dev.transport).argv() == [
        "adb", "-s", "R58M", "shell", "-T", "/data/data/com.termux/files/usr/bin/python -m benchsuite.device.worker"]


def test_adb_transport_through_a_stand_in_adb(tmp_path, fake_device, small_workload):
    """A stand-in `adb` checks its arguments and runs the remote command line with a shell, as adb shell does."""
    adb = tmp_path / "adb"
    adb.write_text(f"#!/bin/sh\n[ \"$1 $2 $3 $4\" = \"-s R58M shell -T\" ] || exit 9\nshift 4\n"
                   f"exec {sys.executable} {RELAY} /bin/sh -c \"$*\"\n")
    adb.chmod(0o755)
    dev = fake_device(f'\n[transport]\nkind = "adb"\nserial = "R58M"\nadb = "{adb}"\npython = "{sys.executable}"\n')
    out = tmp_path / "results"
    assert main(["run", "--device", str(dev), "--workload", str(small_workload()), "--out", str(out),
                 "--no-progress"]) == 0
    assert json.loads((_run_dir(out) / "run.json").read_text())["transport"].startswith("Android device R58M")


def test_silent_board_fails_within_the_connect_timeout(tmp_path, fake_device, capsys):
    dev = fake_device('\n[transport]\nkind = "command"\ncommand = ["sh", "-c", "sleep 60", "--"]\n'
                      'connect_timeout_s = 2\n')
    t0 = time.monotonic()
    assert main(["run", "--device", str(dev), "--out", str(tmp_path / "r")]) == 2
    assert time.monotonic() - t0 < 10
    err = capsys.readouterr().err
    assert "no worker answered on the command sh -c sleep 60" in err and "within 2 s" in err and "check" in err
    assert not (tmp_path / "r").exists(), "a run refused at the door leaves no run folder"


def test_unreachable_ssh_board_names_the_host(tmp_path, fake_device, capsys):
    """ssh to a loopback port where nothing listens: refused at once, the message names the host and what
    to check."""
    import socket

    with socket.socket() as s:  # a free loopback port, closed again: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dev = fake_device(f'\n[transport]\nkind = "ssh"\nhost = "nobody@127.0.0.1"\nport = {port}\n'
                      'connect_timeout_s = 5\n')
    t0 = time.monotonic()
    assert main(["run", "--device", str(dev), "--out", str(tmp_path / "r")]) == 2
    assert time.monotonic() - t0 < 15
    err = capsys.readouterr().err
    assert "nobody@127.0.0.1 over ssh" in err and "BatchMode" in err


def test_incompatible_benchsuite_on_the_board_is_refused_saying_which(tmp_path, fake_device, capsys):
    fake_worker = tmp_path / "oldworker.py"
    fake_worker.write_text('import json, sys\nprint(json.dumps({"type": "hello", "benchsuite": "0.0.1", '
                           '"schema_version": 1}), flush=True)\nsys.stdin.readline()\n')
    dev = fake_device(f'\n[transport]\nkind = "command"\ncommand = ["{sys.executable}", "{fake_worker}"]\n'
                      'python = "ignored"\n')
    assert main(["run", "--device", str(dev), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "benchsuite 0.0.1 is installed there but this host runs" in err and "not comparable" in err


def test_connection_dropped_mid_case_is_an_error_record_and_the_run_goes_on(tmp_path, fake_device, small_workload,
                                                                           monkeypatch):
    monkeypatch.setenv("RELAY_DIE_ON", "preparing g1_block_stack(c1=8,")
    dev = fake_device(_command_transport([sys.executable, RELAY]))
    out = tmp_path / "results"
    assert main(["run", "--device", str(dev), "--workload", str(small_workload()), "--out", str(out),
                 "--no-progress"]) == 1
    df = load_runs(_run_dir(out))
    lat = df[df.metric == "latency_forward"].set_index("params.c1")
    assert lat.status[16] == "ok" and lat.status[4] == "ok"
    assert lat.status[8] == "error" and "died from SIGKILL" in lat.message[8] and "relay.py" in lat.message[8]


def test_host_killed_mid_run_keeps_finished_board_cases(tmp_path, fake_device, small_workload):
    """SIGKILL the host while the third case hangs on the board: the finished cases stay, and the worker
    behind the launcher ends when its stdin closes (the way a board's worker ends when ssh drops)."""
    import psutil

    wl = small_workload(small_workload().read_text().replace('compare = ["c1", "c2"]\n', ""), "nocompare")
    dev = fake_device(_command_transport([sys.executable, RELAY], '\n[runner_options.fake]\nhang_on = ["*c1=4,*"]\n'))
    out = tmp_path / "results"
    proc, records = start_run_until(dev, wl, out, latency_records=4)
    time.sleep(3)  # the third case's worker is now stuck in its (hanging) preparation
    board_side = psutil.Process(proc.pid).children(recursive=True)
    assert any("benchsuite.device.worker" in " ".join(p.cmdline()) for p in board_side)
    os.kill(proc.pid, signal.SIGKILL)  # the host alone
    proc.wait()
    _, alive = psutil.wait_procs(board_side, timeout=15)
    assert not alive, f"outlived the host: {[p.cmdline() for p in alive]}"
    lat = load_runs(records.parent).query("metric.str.startswith('latency')", engine="python")
    assert len(lat) == 4 and set(lat.status) == {"ok"}


def test_a_launcher_banner_on_stdout_does_not_break_the_protocol(tmp_path, fake_device, small_workload):
    """Launchers print (a login banner, an emulator's notice): lines that are not messages are skipped."""
    chatty = tmp_path / "chatty.sh"
    chatty.write_text('#!/bin/sh\necho "Welcome to the board"\necho "{not json"\nexec "$@"\n')
    chatty.chmod(0o755)
    dev = fake_device(_command_transport([chatty]))
    out = tmp_path / "results"
    assert main(["run", "--device", str(dev), "--workload", str(small_workload()), "--out", str(out),
                 "--no-progress"]) == 0
    assert set(load_runs(_run_dir(out)).status) == {"ok"}
