"""The CLI end to end with the fake runner, bad input, and a run killed part-way."""
import json
import os
import shutil
import signal
import time

from pathlib import Path

import pytest

from benchsuite import load_runs
from benchsuite.cli import main
from benchsuite.results.store import History
from tests.conftest import start_run_until


def _run_dir(out):
    (d,) = [p for p in out.iterdir() if p.is_dir()]
    return d


def test_run_end_to_end(tmp_path, fake_device, small_workload, capsys):
    out = tmp_path / "results"
    rc = main(["run", "--device", str(fake_device()), "--workload", str(small_workload()), "--out", str(out),
               "--no-progress"])
    assert rc == 0
    run = _run_dir(out)
    df = load_runs(run)
    lat = df[df.metric.str.startswith("latency")]
    assert len(lat) == 6 and (lat.status == "ok").all() and (lat.n >= 5).all()
    assert (lat.ci_low <= lat.value).all() and (lat.value <= lat.ci_high).all()
    meta = (run / "run.json").read_text()
    assert "cpu_model" in meta and "fake" in meta and "smallg1" in meta
    hist = History(out / "history.sqlite")
    assert [r["run_id"] for r in hist.runs()] == [run.name]
    assert len(hist.records(run.name)) == len(df)
    assert "run " in capsys.readouterr().out


def test_error_cases_exit_1_and_run_completes(tmp_path, fake_device, small_workload):
    out = tmp_path / "results"
    dev = fake_device('[runner_options.fake]\nraise_on = ["*c1=8,*"]\n')
    rc = main(["run", "--device", str(dev), "--workload", str(small_workload()), "--out", str(out), "--no-progress"])
    assert rc == 1
    df = load_runs(_run_dir(out))
    lat = df[df.metric.str.startswith("latency")]
    assert set(lat[lat["params.c1"] == 8].status) == {"error"}
    assert set(lat[lat["params.c1"] != 8].status) == {"ok"}
    assert set(df[df.source == "modeled"].status) == {"ok"}, "counts do not depend on the runner"


def test_measure_traffic_adds_the_metric_to_every_case(tmp_path, fake_device, small_workload):
    """--measure-traffic: each case gets traffic_forward_measured, a value or `unsupported` with why."""
    out = tmp_path / "results"
    assert main(["run", "--device", str(fake_device()), "--workload", str(small_workload()), "--out", str(out),
                 "--no-progress", "--measure-traffic", "--no-ceilings"]) == 0
    df = load_runs(_run_dir(out))
    traffic = df[df.metric == "traffic_forward_measured"]
    assert len(traffic) == 3
    for r in traffic.itertuples():
        assert (r.status == "ok" and r.value > 0) or (r.status == "unsupported" and len(r.message) > 20)


@pytest.mark.parametrize("args, fragment", [
    (["run", "--device", "nosuch"], "unknown device 'nosuch'"),
    (["run", "--workload", "nosuch"], "unknown workload 'nosuch'"),
    (["run", "--runner", "nosuch"], "unknown runner 'nosuch'"),
    (["run", "--filter", "zzz*"], "expands to nothing"),
    (["list", "models", "zzz*"], "no model matches"),
])
def test_bad_input_exit_2(args, fragment, capsys, tmp_path):
    assert main(args + (["--out", str(tmp_path)] if args[0] == "run" else [])) == 2
    assert fragment in capsys.readouterr().err
    assert not any(tmp_path.iterdir()), "nothing is written for bad input"


@pytest.mark.parametrize("make, args, fragment", [
    # each input a new user met that ended in a traceback or in a sweep of error records
    (None, ["report", "--results", "{tmp}/none"], "no results folder"),
    (None, ["count", "--model", "mobilenet_v1", "--width", "-1"], "knob 'width': -1.0 is not valid (valid: a positive"),
    (None, ["count", "--model", "g1_block_stack", "--knob", "c1=abc"], "knob 'c1': 'abc' is not valid"),
    (("wl.toml", b'name = "\xff"\n'), ["run", "--workload", "{tmp}/wl.toml"], "not UTF-8 text"),
    (("afile", b""), ["run", "--out", "{tmp}/afile"], "exists and is not a folder"),
    (("wl.toml", b'name = "x"\n[[models]]\nname = "g1_block_stack"\nrows = [{ c1 = "wide" }]\n'),
     ["run", "--workload", "{tmp}/wl.toml"], "key 'models[0].rows[0].c1': bad value 'wide'"),
    (("wl.toml", b'name = "x"\n[[models]]\nname = "g1_block_stack"\nrows = [{ c1 = 0 }]\n'),
     ["run", "--workload", "{tmp}/wl.toml"], "bad value 0 for model 'g1_block_stack' (valid: a positive integer"),
    (None, ["run", "--runner-option", "tvm.trials=abc"], "not valid for tvm.trials (valid: an integer >= 0)"),
    (("dev.toml", b'name = "d"\nkind = "cpu"\nrunners = ["fake"]\n[runner_options.tvm]\ntune = "yes"\n'),
     ["run", "--device", "{tmp}/dev.toml"], "key 'runner_options.tvm.tune': bad value 'yes' (valid: true or false)"),
])
def test_inputs_refused_at_the_door(make, args, fragment, capsys, tmp_path, monkeypatch):
    """Exit 2, one line naming what is wrong and what is valid, no traceback, no run folder left behind."""
    monkeypatch.setattr("benchsuite.host.execute.execute", lambda *a, **k: pytest.fail("the run was not refused"))
    if make:
        (tmp_path / make[0]).write_bytes(make[1])
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    out = tmp_path / "results"
    assert main(argv + (["--out", str(out)] if argv[0] == "run" and "--out" not in argv else [])) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_an_unexpected_exception_is_a_bug_report_not_a_traceback(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    from benchsuite import cli

    monkeypatch.setitem(cli.COMMANDS, "env", lambda a: {}["missing"])
    assert main(["env"]) == 70
    err = capsys.readouterr().err
    assert "internal error: KeyError: 'missing'" in err and "Traceback" not in err
    log = Path(err.split("The traceback is in ")[1].split(";")[0])
    assert log.exists() and "Traceback" in log.read_text() and "KeyError" in log.read_text()


def test_unknown_option_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "--colour", "red"])
    assert e.value.code == 2 and "unrecognized arguments: --colour" in capsys.readouterr().err


def test_list_and_env(capsys):
    assert main(["list", "runners"]) == 0
    assert "torch_eager      available" in capsys.readouterr().out
    assert main(["list", "models", "g1*"]) == 0
    assert "g1_block_stack" in capsys.readouterr().out
    assert main(["env"]) == 0
    env = json.loads(capsys.readouterr().out)
    assert env["machine_id"] and env["runners"]["torch_eager"]["available"]
    assert env["measurement_tools"]["valgrind"] == shutil.which("valgrind")  # None, or where it was found


def test_sigkill_keeps_finished_records(tmp_path, fake_device, small_workload):
    """SIGKILL the run's process after two cases finished, while the third hangs in its worker: the
    finished records stay loadable and the hung worker does not outlive the run."""
    import psutil

    wl = small_workload(small_workload().read_text().replace('compare = ["c1", "c2"]\n', ""), "nocompare")
    dev = fake_device('[runner_options.fake]\nhang_on = ["*c1=4,*"]\n')
    out = tmp_path / "results"
    proc, records = start_run_until(dev, wl, out, latency_records=4)
    time.sleep(3)  # the third case's worker is now stuck in its (hanging) preparation
    workers = psutil.Process(proc.pid).children(recursive=True)
    assert workers, "the hanging case's worker should be running"
    os.kill(proc.pid, signal.SIGKILL)  # the run's process alone
    proc.wait()
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, "a worker outlived the killed run"
    df = load_runs(records.parent)
    lat = df[df.metric.str.startswith("latency")]
    assert len(lat) == 4 and set(df.status) == {"ok"} and df.value.notna().all()


def test_counts_are_modeled_records_in_every_run(tmp_path, fake_device, small_workload):
    out = tmp_path / "results"
    assert main(["run", "--device", str(fake_device()), "--workload", str(small_workload()), "--out", str(out),
                 "--no-progress"]) == 0
    df = load_runs(_run_dir(out))
    counts = df[df.metric.isin(["madds", "params", "memory_access", "activation_memory_peak"])]
    assert len(counts) == 3 * 4 and set(counts.source) == {"modeled"} and (counts.value > 0).all()
    madds = counts[counts.metric == "madds"].set_index("params.c2").value
    assert madds[16] == 10 * 2 * 16 * 16 * 16 * 16  # 10 blocks x 2 convs x c1*c2 x 16x16 pixels


def test_count_command(capsys):
    assert main(["count", "--model", "mobilenet_v1", "--by", "type", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("type,layers,madds") and "conv1x1,13,539492352" in out
    assert main(["count", "--model", "shufflenet_v1", "--knob", "groups=8", "--format", "json"]) == 0
    assert '"params": 2433768' in capsys.readouterr().out
    assert main(["count", "--model", "resnet50", "--width", "2"]) == 2
    assert "has no knob 'width'" in capsys.readouterr().err
    assert main(["count", "--model", "resnet50", "--resolution", "640x480", "--format", "json"]) == 0
    (wide,) = json.loads(capsys.readouterr().out)
    assert wide["input"] == "1x3x640x480"
    assert main(["count", "--model", "resnet50", "--resolution", "480x640", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["madds"] == wide["madds"]  # same pixels, transposed
    for bad in ("0", "0x5", "5x", "axb"):
        with pytest.raises(SystemExit) as e:
            main(["count", "--model", "resnet50", "--resolution", bad])
        err = capsys.readouterr().err
        assert e.value.code == 2 and "--resolution" in err and f"bad input size '{bad}'" in err, err
        assert "HEIGHTxWIDTH" in err


def test_a_history_that_is_a_folder_or_not_sqlite_is_refused(tmp_path, capsys):
    """Found by the CLI fuzz: `regress --history FOLDER` ended in an internal error."""
    (tmp_path / "folder").mkdir()
    (tmp_path / "junk.sqlite").write_text("not a database")
    for path, says in (("folder", "is a folder, not a history database file"),
                       ("junk.sqlite", "cannot be used as a history database (file is not a database)")):
        assert main(["regress", "--history", str(tmp_path / path)]) == 2
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err and "internal error" not in err
