"""Where devices and workloads come from: built-ins in the package, user layers on top, init, --version."""
import pytest

import benchsuite
from benchsuite import catalog
from benchsuite.cli import main
from benchsuite.spec import load_device


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """An empty working folder, no $BENCHSUITE_HOME, and a per-user config folder under tmp_path."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("BENCHSUITE_HOME", raising=False)
    monkeypatch.setattr(catalog, "user_config_dir", lambda: tmp_path / "config")
    return tmp_path


def _cpu(name_line: str, threads: int) -> str:
    return f'{name_line}kind = "cpu"\nthreads = [{threads}]\nrunners = ["fake"]\n'


def test_builtins_come_from_the_package(isolated, capsys):
    assert main(["list", "devices"]) == 0
    out = capsys.readouterr().out
    assert "cpu " in out and "arm-emulated" in out and "built-in" in out and "benchsuite/builtin/devices" in out
    assert load_device("cpu").source.endswith("benchsuite/builtin/devices/cpu.toml")


def test_layers_override_in_order_and_list_says_so(isolated, monkeypatch, capsys):
    (isolated / "config" / "devices").mkdir(parents=True)
    (isolated / "config" / "devices" / "cpu.toml").write_text(_cpu("", 3))
    assert load_device("cpu").threads == (3,)  # user config beats the built-in
    (isolated / "work" / "devices").mkdir()
    (isolated / "work" / "devices" / "cpu.toml").write_text(_cpu("", 5))
    assert load_device("cpu").threads == (5,)  # the working folder beats the user config
    home = isolated / "home"
    (home / "devices").mkdir(parents=True)
    (home / "devices" / "cpu.toml").write_text(_cpu("", 7))
    monkeypatch.setenv("BENCHSUITE_HOME", str(home))
    assert load_device("cpu").threads == (7,)  # $BENCHSUITE_HOME beats them all
    assert main(["list", "devices"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("cpu "))
    assert "$BENCHSUITE_HOME" in line and "overrides working folder, user config, built-in" in line


def test_nothing_to_list_says_where_it_looked(isolated, monkeypatch, capsys):
    empty = isolated / "nothing"
    empty.mkdir()
    monkeypatch.setattr(catalog, "builtin_dir", lambda kind: empty / kind)
    assert main(["list", "workloads"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("no workloads found; looked in: working folder:") and "built-in:" in out


def test_init_into_empty_and_non_empty_folders(isolated, capsys):
    target = isolated / "mine"
    assert main(["init", str(target)]) == 0
    copied = sorted(p.name for p in (target / "devices").iterdir())
    assert copied == sorted(f.name for f in catalog._tomls(catalog.builtin_dir("devices")))
    assert (target / "workloads" / "guideline2.toml").read_bytes() == \
        (catalog.builtin_dir("workloads") / "guideline2.toml").read_bytes()
    (target / "devices" / "cpu.toml").write_text("# my edits\n")
    capsys.readouterr()
    assert main(["init", str(target)]) == 2
    err = capsys.readouterr().err
    assert "refusing to overwrite" in err and "cpu.toml" in err
    assert (target / "devices" / "cpu.toml").read_text() == "# my edits\n"  # nothing was overwritten
    other = isolated / "other"
    (other / "workloads").mkdir(parents=True)
    (other / "workloads" / "notes.txt").write_text("unrelated")
    assert main(["init", str(other)]) == 0  # a folder with other files is fine


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"benchsuite {benchsuite.__version__}"
