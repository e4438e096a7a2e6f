"""Inputs checked at the door: generated device and workload documents (valid ones load, mutated ones are
refused with exit 2 and no traceback, before any work), and a fuzz over every subcommand's options.

Hypothesis settings: 60 examples per property (150 for the CLI fuzz), no deadline (the first load imports
the model zoo), derandomized so that CI sees the same examples every time (a failure is reproducible, not a
coin toss); runs with 10x and more examples and random seeds were made by hand while writing them (the fuzz
found `regress --history FOLDER` ending in a traceback). The whole file runs in well under two minutes on
CI's 2 cores (the numbers: `pytest --durations`)."""
import argparse
import math

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchsuite import cli
from benchsuite.errors import EXIT_BUG, SpecError
from benchsuite.spec import MAX_SIZE, load_device, load_workload

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
NAMES = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)
POSITIVE_FLOAT = st.floats(min_value=0.001, max_value=10.0, allow_nan=False)


@st.composite
def devices(draw):
    doc = {"name": draw(NAMES), "kind": "cpu", "runners": ["fake"],
           "threads": draw(st.lists(st.integers(1, 8), min_size=1, max_size=3, unique=True))}
    if draw(st.booleans()):
        doc["timing"] = {"warmup_s": draw(POSITIVE_FLOAT), "min_samples": draw(st.integers(1, 50)),
                         "target_precision": draw(st.floats(0.001, 0.5))}
    if draw(st.booleans()):
        doc["energy"] = {"caches": {"L1d": draw(st.sampled_from(["32KiB", "48K", 49152])), "L3": "32MiB"}}
    return doc


@st.composite
def workloads(draw):
    rows = draw(st.lists(st.fixed_dictionaries({"c1": st.integers(1, 64), "c2": st.integers(1, 64)}),
                         min_size=1, max_size=4))
    return {"name": draw(NAMES), "metrics": ["latency_forward"],
            "resolutions": draw(st.lists(st.integers(1, 64), min_size=1, max_size=2, unique=True)),
            "batch_sizes": [draw(st.integers(1, 4))], "compare": ["c1", "c2"],
            "models": [{"name": "g1_block_stack", "rows": rows}]}


# a mutation: (where in the document, the bad value); every one must be refused
BAD_VALUES = st.sampled_from(["wide", "", -1, 0, -0.5, 10**18, 1e300, math.inf, [], {}, True])


def _mutate(doc: dict, path: tuple, value) -> dict:
    out = {**doc}
    node = out
    for key in path[:-1]:
        node[key] = node[key].copy() if isinstance(node[key], (dict, list)) else node[key]
        node = node[key]
    node[path[-1]] = value
    return out


def _write(tmp_path, name: str, doc: dict | bytes):
    path = tmp_path / name
    path.write_bytes(doc if isinstance(doc, bytes) else tomli_w.dumps(doc).encode())
    return path


def _refused(path, kind: str, capsys, monkeypatch) -> None:
    """Through the CLI: exit 2, one line, no traceback, and no work started (execute is never reached)."""
    monkeypatch.setattr("benchsuite.host.execute.execute", lambda *a, **k: pytest.fail(f"{kind} {path} was accepted"))
    args = ["run", f"--{kind}", str(path), "--quick", "--no-progress"]
    code = cli.main(args + (["--device", "cpu"] if kind == "workload" else ["--workload", "guideline1"]))
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and err.startswith("benchsuite"), err
    assert str(path) in err  # the message names the file


@SETTINGS
@given(doc=devices())
def test_generated_devices_load(doc, tmp_path):
    dev = load_device(str(_write(tmp_path, "dev.toml", doc)))
    assert dev.name == doc["name"] and dev.threads == tuple(doc["threads"])


@SETTINGS
@given(doc=workloads())
def test_generated_workloads_load(doc, tmp_path):
    wl = load_workload(str(_write(tmp_path, "wl.toml", doc)))
    assert wl.name == doc["name"] and tuple(str(r) for r in wl.resolutions) == tuple(map(str, doc["resolutions"]))


DEVICE_PATHS = st.sampled_from([("threads",), ("runners",), ("kind",), ("timing", "warmup_s"),
                                ("timing", "min_samples"), ("unknown_key",), ("energy", "caches", "L1d")])


@SETTINGS
@given(doc=devices(), path=DEVICE_PATHS, value=BAD_VALUES)
def test_mutated_devices_are_refused(doc, path, value, tmp_path, capsys, monkeypatch):
    doc = {**doc, "timing": dict(doc.get("timing", {"warmup_s": 0.1})),
           "energy": {"caches": dict(doc.get("energy", {"caches": {"L3": "32MiB"}})["caches"])}}
    bad = _mutate(doc, path, value)
    if path == ("threads",) and value == []:
        bad["threads"] = [0]  # an empty list means the default; a list holding a bad value is the mutation
    if path == ("runners",) and value == "":
        bad["runners"] = [""]
    _refused(_write(tmp_path, "dev.toml", bad), "device", capsys, monkeypatch)


WORKLOAD_PATHS = st.sampled_from([("models", 0, "rows", 0, "c1"), ("resolutions",), ("batch_sizes",), ("metrics",),
                                  ("models", 0, "name"), ("unknown_key",), ("compare",)])


@SETTINGS
@given(doc=workloads(), path=WORKLOAD_PATHS, value=BAD_VALUES)
def test_mutated_workloads_are_refused(doc, path, value, tmp_path, capsys, monkeypatch):
    doc = {**doc, "models": [{**doc["models"][0], "rows": [dict(r) for r in doc["models"][0]["rows"]]}]}
    bad = _mutate(doc, path, value)
    if path in (("resolutions",), ("batch_sizes",), ("metrics",), ("compare",)):
        bad[path[0]] = [value]  # a list holding the bad value (an empty list is a valid one)
    if path == ("compare",) and value in ("wide", ""):
        bad["compare"] = 7
    if path == ("metrics",) and value == "wide":
        bad["metrics"] = ["wide"]
    _refused(_write(tmp_path, "wl.toml", bad), "workload", capsys, monkeypatch)


@SETTINGS
@given(junk=st.binary(min_size=1, max_size=40).filter(lambda b: _not_utf8(b)))
def test_non_utf8_files_are_refused(junk, tmp_path, capsys, monkeypatch):
    _refused(_write(tmp_path, "wl.toml", b'name = "x"\n# ' + junk + b"\n"), "workload", capsys, monkeypatch)


def _not_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True


def test_a_spec_error_says_file_key_value_and_what_is_valid(tmp_path):
    path = _write(tmp_path, "wl.toml", {"name": "x", "models": [{"name": "g1_block_stack", "rows": [{"c1": 0}]}]})
    with pytest.raises(SpecError, match=r"wl\.toml: key 'models\[0\]\.rows\[0\]\.c1': bad value 0 .*positive integer"):
        load_workload(str(path))
    path = _write(tmp_path, "big.toml", {"name": "x", "resolutions": [MAX_SIZE + 1],
                                         "models": [{"name": "g1_block_stack"}]})
    with pytest.raises(SpecError, match=f"each side must be 1 to {MAX_SIZE}"):
        load_workload(str(path))


# ---------------------------------------------------------------- CLI fuzz

def _subcommands():
    parser = cli._parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


ARG_VALUES = st.sampled_from(["0", "-1", "1", "3", "abc", "", "1e999", "nan", "x=y", "tvm.trials=abc", "fake",
                              "cpu", "guideline1", "/nonexistent", "..", "30m", "g1_block_stack", "c1=0", "\xff"])


@st.composite
def argvs(draw):
    commands = _subcommands()
    name = draw(st.sampled_from(sorted(commands)))
    argv = [name]
    for action in commands[name]._actions:
        if isinstance(action, argparse._HelpAction) or not draw(st.booleans()):
            continue
        if action.option_strings:
            argv.append(action.option_strings[0])
            if action.nargs != 0:
                argv.append(draw(ARG_VALUES))
        else:
            argv.append(draw(ARG_VALUES))
    return argv


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=argvs())
def test_cli_fuzz_never_shows_a_traceback(argv, tmp_path, capsys, monkeypatch):
    """Any combination of every subcommand's options: argparse's usage error (2) or the command's own exit
    code, never an internal error (70) or a traceback. The heavy work itself (a run, a tuning) is replaced
    by a stand-in that records it was reached: only the door is under test."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("benchsuite.host.execute.execute", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    monkeypatch.setattr("benchsuite.host.tune.tune_workload",
                        lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        code = cli.main(argv)
    except SystemExit as e:  # argparse: a usage error
        code = e.code
    err = capsys.readouterr().err
    assert code != EXIT_BUG and "Traceback" not in err, (argv, err)
    assert code in (0, 1, 2, 3, 130), (argv, code, err)
