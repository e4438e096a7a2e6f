"""Slow is not hung: the worker's heartbeat keeps a case alive while its work advances, a worker whose work
stands still (or that goes silent) times out naming the key to raise; a library's repeated line is
counted, not written each time; a process says itself whether it runs under qemu-user."""
import json
import sys

import pytest

from benchsuite.env import emulation
from benchsuite.host.supervisor import WorkerFailed, run_job, run_group
from benchsuite.host.worker_log import WRITTEN, WorkerLog
from benchsuite.spec import load_device, load_workload
from benchsuite.sweep import expand, groups
from benchsuite.transports import transport_for

X86_CPUINFO = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R45\nflags\t\t: fpu sse avx2\n"
ARM_CPUINFO = "processor\t: 0\nBogoMIPS\t: 48.00\nFeatures\t: fp asimd evtstrm\nCPU implementer\t: 0x41\n"


def test_emulation_is_told_by_the_cpu_the_process_sees():
    why = emulation(X86_CPUINFO, "aarch64")
    assert why and "qemu-user" in why and "x86_64" in why and "AMD EPYC 9R45" in why and "aarch64" in why
    assert emulation(ARM_CPUINFO, "aarch64") is None
    assert emulation(X86_CPUINFO, "x86_64") is None
    assert "aarch64" in emulation(ARM_CPUINFO, "x86_64")
    assert emulation("", "aarch64") is None, "an unreadable /proc/cpuinfo proves nothing"


def test_an_emulated_cpu_names_the_core_qemu_emulates(monkeypatch):
    """qemu-user's default core (`max`, with SVE) runs torch's kernels some 20x slower than a named NEON
    core: the record says which one the timings came from."""
    from benchsuite import env

    monkeypatch.setattr(env, "_cpuinfo", lambda: X86_CPUINFO)
    monkeypatch.setattr(env.platform, "machine", lambda: "aarch64")
    monkeypatch.setenv("QEMU_CPU", "cortex-a76")
    assert env.cpu_model() == "emulated aarch64 (qemu-user, cortex-a76 core) on AMD EPYC 9R45"
    monkeypatch.delenv("QEMU_CPU")
    assert env.cpu_model() == "emulated aarch64 (qemu-user, max core) on AMD EPYC 9R45"


def _scripted_worker(tmp_path, body: str):
    """A stand-in worker: says hello, reads its job, then runs `body` (which may print heartbeats)."""
    from benchsuite import protocol

    script = tmp_path / "worker.py"
    script.write_text("import json, sys, time\n"
                      f"print({json.dumps(json.dumps(protocol.hello()))}, flush=True)\n"
                      "sys.stdin.readline()\n"
                      "def say(**m):\n    print(json.dumps(m), flush=True)\n" + body)
    return transport_for({"kind": "command", "command": [sys.executable, str(script)], "python": "unused",
                          "connect_timeout_s": 30})


def test_heartbeats_with_advancing_work_keep_a_slow_step_alive(tmp_path):
    # 3 s of work in a step bounded by 1 s without work: each heartbeat reports more work done
    board = _scripted_worker(tmp_path, "for i in range(12):\n    time.sleep(0.25)\n"
                                       "    say(type='heartbeat', doing='measuring', work=i)\nsay(type='end')\n")
    run_job(board, {"task": "x"}, lambda m: None, lambda s: None, timeout_s=1.0)


def test_heartbeats_without_work_time_out_naming_the_step_and_the_key(tmp_path):
    board = _scripted_worker(tmp_path, "say(type='progress', text='preparing big_model', timeout_s=1.5,"
                                       " timeout_key='prepare_timeout_s', case_id='c1')\n"
                                       "while True:\n    time.sleep(0.25)\n"
                                       "    say(type='heartbeat', doing='preparing big_model', work=7)\n")
    with pytest.raises(WorkerFailed) as e:
        run_job(board, {"task": "x"}, lambda m: None, lambda s: None, timeout_s=30,
                table="[timing_quick] of device profile 'myboard'")
    text = str(e.value)
    assert e.value.kind == "timeout" and e.value.case_id == "c1"
    assert "no progress for 1.5 s while preparing big_model" in text and "alive but its work stood still" in text
    assert "raise prepare_timeout_s in [timing_quick] of device profile 'myboard'" in text


def test_a_silent_worker_times_out_saying_it_went_silent(tmp_path):
    board = _scripted_worker(tmp_path, "time.sleep(60)\n")
    with pytest.raises(WorkerFailed) as e:
        run_job(board, {"task": "x"}, lambda m: None, lambda s: None, timeout_s=1.0)
    assert e.value.kind == "timeout" and "not even its heartbeat" in str(e.value), str(e.value)


def test_a_slow_case_longer_than_the_timeout_is_measured_not_killed(fake_device, small_workload):
    """Each call takes ~0.1 s, so calibrating the group's 6 series and each round of sampling them take
    longer than the 0.5 s case timeout: without the heartbeat's work count the group would time out."""
    path = fake_device("[runner_options.fake]\nslowdown = SLOW\n".replace("SLOW", str(SLOWDOWN)))
    path.write_text(path.read_text().replace("case_timeout_s = 20", "case_timeout_s = 0.5"))
    dev = load_device(str(path))
    (group,) = groups(expand(load_workload(str(small_workload())), dev))
    got = {}
    run_group(group, dev, False, lambda case, recs, samples: got.setdefault(case.params["c1"], recs))
    lat = [r for recs in got.values() for r in recs if r["metric"].startswith("latency")]
    assert {r["status"] for r in lat} == {"ok"}, [r["message"] for r in lat]
    assert sum(r["value"] for r in lat) > 0.5, "a round of the group's series is longer than the timeout"


SLOWDOWN = 150


def test_a_repeated_library_line_is_written_a_few_times_then_counted(tmp_path):
    log = WorkerLog(tmp_path / "worker.log")
    for i in range(500):
        log.write(f"[W1202 00:12:{i % 60:02d}.{i:06d} NNPACK.cpp:62] Could not initialize NNPACK! "
                  f"Reason: Out of memory.\n".encode())
        if i % 100 == 0:
            log.write(f"case {i} done\n".encode())
    log.close()
    text = (tmp_path / "worker.log").read_text()
    assert sum("NNPACK" in line for line in text.splitlines()) == WRITTEN and "counted, not written" in text
    (nnpack,) = [r for r in log.repeated() if "NNPACK" in r["text"]]
    assert nnpack["count"] == 500
    assert json.dumps(log.repeated())  # it goes into run.json as it is
