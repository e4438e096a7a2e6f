"""The run archive and the fleet nightly's merge: concurrent writers lose no run (SQLite index and the git
data branch), the index rebuilt from the records answers as before, a merge over two devices (a CPU run and
a recorded run of the emulated ARM board), and the workflow checked by linters."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from benchsuite.results.archive import archive_runs, rebuild_index
from benchsuite.results.run import run_folders
from benchsuite.cli import main
from benchsuite.results.store import History
from tests.conftest import FAST_TIMING, REPO, SMALL_G1

BOARD_RUN = REPO / "tests" / "data" / "runs" / "arm-emulated-guideline2"  # recorded on the emulated board


@pytest.fixture(scope="module")
def cpu_runs(tmp_path_factory):
    """Three runs of a fake CPU device (a results folder with its history)."""
    tmp = tmp_path_factory.mktemp("fleet")
    dev = tmp / "fakecpu.toml"
    dev.write_text('name = "fakecpu"\nkind = "cpu"\nthreads = [1]\nrunners = ["fake"]\n' + FAST_TIMING)
    wl = tmp / "smallg1.toml"
    wl.write_text(SMALL_G1)
    for _ in range(3):
        assert main(["run", "--device", str(dev), "--workload", str(wl), "--out", str(tmp / "results"),
                     "--no-progress", "--no-ceilings"]) == 0
    return tmp / "results"


def _query(history: History) -> dict:
    """Everything a regression check reads, in a comparable form."""
    out = {}
    for run in history.runs():
        recs = sorted(json.dumps(r, sort_keys=True, default=str) for r in history.records(run["run_id"]))
        out[run["run_id"]] = (run["device"], run["workload"], run["status"], recs,
                              sorted(history.samples(run["run_id"]).items()))
    return out


ADD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from benchsuite.results.run import Run
    from benchsuite.results.store import History
    history, run = Path(sys.argv[1]), Run.from_folder(Path(sys.argv[2]))
    for _ in range(15):
        History(history).add_run(run)
""")


def test_two_processes_writing_one_history_lose_no_run_and_the_index_rebuilds_the_same(cpu_runs, tmp_path):
    runs = run_folders(cpu_runs)[:2]
    db = tmp_path / "history.sqlite"
    procs = [subprocess.Popen([sys.executable, "-c", ADD, str(db), str(r)], cwd=REPO, stderr=subprocess.PIPE,
                              text=True) for r in runs]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    before = _query(History(db))
    assert sorted(before) == sorted(json.loads((r / "run.json").read_text())["run_id"] for r in runs)
    assert all(len(v[3]) > 10 for v in before.values())
    assert rebuild_index([cpu_runs], tmp_path / "rebuilt.sqlite") == 3
    rebuilt = _query(History(tmp_path / "rebuilt.sqlite"))
    assert {k: rebuilt[k] for k in before} == before  # the records are the truth; the index is derived


def test_archive_never_rewrites_a_run_and_rebuild_takes_each_run_once(cpu_runs, tmp_path):
    archive = tmp_path / "archive"
    added = archive_runs(cpu_runs, archive)
    assert len(added) == 3 and all((archive / "fakecpu" / r / "records.jsonl").exists() for r in added)
    (archive / "fakecpu" / added[0] / "records.jsonl").write_text("")  # an archived run is not copied again
    assert archive_runs(cpu_runs, archive) == []
    assert (archive / "fakecpu" / added[0] / "records.jsonl").read_text() == ""
    assert rebuild_index([archive, cpu_runs], tmp_path / "h.sqlite") == 3  # found in both: counted once


def _git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t"})


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_two_jobs_pushing_to_the_history_branch_at_once_both_land(cpu_runs, tmp_path):
    """Two matrix jobs (a CPU box and an ARM board) push their runs to the data branch at the same moment:
    the loser's push is refused, it rebases (no conflict: one folder per run) and pushes again."""
    origin = tmp_path / "origin.git"
    _git("init", "-q", "--bare", str(origin), cwd=tmp_path)
    jobs = {"cpu": cpu_runs, "arm": tmp_path / "board-results"}
    shutil.copytree(BOARD_RUN, jobs["arm"] / BOARD_RUN.name)
    procs = []
    for name, results in jobs.items():
        clone = tmp_path / f"job-{name}"
        _git("init", "-q", str(clone), cwd=tmp_path)
        _git("commit", "-q", "--allow-empty", "-m", "code", cwd=clone)
        _git("remote", "add", "origin", str(origin), cwd=clone)
        procs.append(subprocess.Popen(["bash", str(REPO / "scripts" / "push-history"), str(results)], cwd=clone,
                                      env={**os.environ, "BENCHSUITE": f"{sys.executable} -m benchsuite",
                                           "PYTHONPATH": str(REPO)},
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for p in procs:
        out = p.communicate(timeout=300)[0]
        assert p.returncode == 0, out
    check = tmp_path / "check"
    _git("clone", "-q", "--branch", "benchsuite-history", str(origin), str(check), cwd=tmp_path)
    landed = {p.parent.name for p in check.rglob("run.json")}
    expected = {json.loads((r / "run.json").read_text())["run_id"] for r in run_folders(*jobs.values())}
    assert landed == expected and len(expected) == 4


def test_merge_over_two_devices_regress_per_device_and_one_report(cpu_runs, tmp_path, capsys):
    """The nightly's merge job: the archive of two devices -> index -> regress per device -> one report
    with the devices side by side (an emulated-board run recorded by this project, and CPU runs)."""
    archive = tmp_path / "archive"
    archive_runs(cpu_runs, archive)
    shutil.copytree(BOARD_RUN, tmp_path / "board" / BOARD_RUN.name)
    archive_runs(tmp_path / "board", archive)
    assert main(["history", "rebuild", "--from", str(archive), "--history", str(tmp_path / "h.sqlite")]) == 0
    assert main(["regress", "--history", str(tmp_path / "h.sqlite"), "--window", "10"]) == 0
    out = capsys.readouterr().out
    assert "== smallg1 on fakecpu" in out and "== guideline2 on arm-emulated" in out
    assert main(["report", "--results", str(archive), "--out", str(tmp_path / "report")]) == 0
    page = (tmp_path / "report" / "index.html").read_text()
    env = page[page.index("id='environment'"):page.index("</table>", page.index("id='environment'"))]
    assert "fakecpu / smallg1" in env and "arm-emulated / guideline2" in env
    assert "On arm-emulated, " in page and "On fakecpu, " in page


WORKFLOW = REPO / ".github" / "workflows" / "nightly.yml"


def _tool(name: str) -> str:
    """A linter of the test extra: beside this Python (the venv's bin), else on PATH."""
    found = shutil.which(name, path=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    assert found, f"{name} is not installed: install the test extra (make install)"
    return found


def test_the_nightly_workflow_passes_the_workflow_schema():
    """SchemaStore's GitHub workflow schema (vendored by check-jsonschema: no network)."""
    r = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_nightly_workflow_passes_zizmor():
    """zizmor's offline audits (injection, credentials, permissions, pinning policy in .github/zizmor.yml)."""
    r = subprocess.run([_tool("zizmor"), "--offline", "--config", str(REPO / ".github" / "zizmor.yml"),
                        str(WORKFLOW)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_linters_do_find_a_broken_workflow(tmp_path):
    """Both linters fail on a workflow with a schema error and a template injection (so a pass means something)."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ github.event.issue.title }}\n        bogus_key: 1\n")
    schema = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(bad)],
                            capture_output=True, text=True)
    audit = subprocess.run([_tool("zizmor"), "--offline", str(bad)], capture_output=True, text=True)
    assert schema.returncode != 0 and audit.returncode != 0, schema.stdout + audit.stdout
