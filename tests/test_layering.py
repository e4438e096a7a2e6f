"""The seams: names stay in the module that owns them, and a runner or a study is added in one module plus
one entry point (shown here with a toy plugin package installed into a temporary folder)."""
import ast
import json
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from benchsuite.models import get_model_entry, list_models
from tests.conftest import FAST_TIMING, REPO

PACKAGE = REPO / "benchsuite"
# strings that are a name *and* something else: each with why it may appear outside its owner
ALSO_NOT_A_NAME = {
    "resolution": "a record column and a Case field (the workload is named after its axis)",
    "onnxruntime": "the PyPI distribution whose version env.py records",
}
REGISTRY_MODULES = "benchsuite.models.registry"  # lists the model modules, some named like their models


def _owners() -> dict[str, tuple[str, str | None]]:
    """name -> (kind, the module that may spell it)."""
    owners = {f.stem: ("workload", None) for f in (PACKAGE / "builtin" / "workloads").glob("*.toml")}
    for group, kind in (("benchsuite.runners", "runner"), ("benchsuite.studies", "study")):
        owners.update({ep.name: (kind, ep.value.split(":")[0]) for ep in entry_points(group=group)})
    owners.update({m: ("model", get_model_entry(m).fn.__module__) for m in list_models()})
    return owners


def test_no_runner_workload_model_or_study_name_outside_its_module():
    owners, found = _owners(), []
    for py in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(("benchsuite", *py.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
        for node in ast.walk(ast.parse(py.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in owners:
                kind, owner = owners[node.value]
                if module != owner and node.value not in ALSO_NOT_A_NAME and module != REGISTRY_MODULES:
                    found.append(f"{py.relative_to(REPO)}:{node.lineno}: {kind} name {node.value!r}")
    assert not found, "names spelled outside the module that owns them:\n" + "\n".join(found)


# What only the TVM package may spell: its name, the provenance keys its records carry, its RPC session.
TVM_PACKAGE = PACKAGE / "runners" / "tvm"
TVM_KEYS = {"tuning", "tuned", "last_doubling_gain", "tasks_tuned", "tasks_missed", "trials_per_task", "database_id",
            "convergence", "tuned_kernel_time", "tuning_time", "upload_time", "config.tuning", "config.convergence"}
TVM_IDENTIFIERS = {"BoardSession", "board_session", "RemoteSpec", "request_session", "check_tracker", "remote_of"}


def _docstrings(tree) -> set[int]:
    kinds = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {id(n.body[0].value) for n in ast.walk(tree) if isinstance(n, kinds) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}


def _identifiers(node) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [a.name for a in node.names] + ([node.module] if getattr(node, "module", None) else [])
    if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
        return [node.name]
    return []


def test_nothing_outside_the_tvm_package_names_tvm_its_provenance_or_its_rpc_session():
    """TVM reaches the core only through runner hooks: no string (docstrings aside: prose may give TVM as an
    example) or identifier outside runners/tvm/ names it, its tuning provenance keys or its RPC session."""
    found = []
    for py in sorted(PACKAGE.rglob("*.py")):
        if py.is_relative_to(TVM_PACKAGE):
            continue
        tree = ast.parse(py.read_text())
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                if "tvm" in node.value.lower() or node.value in TVM_KEYS:
                    found.append(f"{py.relative_to(REPO)}:{node.lineno}: {node.value[:60]!r}")
            for name in _identifiers(node):
                if "tvm" in name.lower() or name in TVM_IDENTIFIERS:
                    found.append(f"{py.relative_to(REPO)}:{node.lineno}: identifier {name}")
    assert not found, "TVM outside runners/tvm/:\n" + "\n".join(found)


def test_run_files_are_spelled_only_by_the_results_layer():
    """run.json and samples.jsonl are read and written through results/run.py alone (prose aside)."""
    found = []
    for py in sorted(PACKAGE.rglob("*.py")):
        if py == PACKAGE / "results" / "run.py":
            continue
        tree = ast.parse(py.read_text())
        docs = _docstrings(tree)
        found += [f"{py.relative_to(REPO)}:{n.lineno}" for n in ast.walk(tree)
                  if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
                  and ("run.json" in n.value or "samples.jsonl" in n.value)]
    assert not found, "run files spelled outside results/run.py: " + ", ".join(found)


TOY = '''
"""A runner, a probe and a study from outside benchsuite: each is one class and one entry point. The
runner also uses every optional hook: a declared one-shot metric, a tuning step, a report section and a
caveat; the probe declares its own metric."""
import json
import os
import time
from pathlib import Path

from benchsuite.measure import Timed
from benchsuite.metrics import Metric
from benchsuite.probes import Probe
from benchsuite.runners import Prepared, Runner, Tuned
from benchsuite.studies import Study, Verdict

STATE = Path(os.environ["TOY_STATE"])  # what the toy tuning step leaves for the runs after it


class ToyRunner(Runner):
    name = "toy"
    description = "torch eager with a 2 ms sleep: a plugin runner"
    measures_hardware = False
    options = {"trials": 2}
    metrics = (Metric("toy_setup_time", "s", "runner", "the toy runner's setup"),)

    def prepare(self, model, example, case, options, device):
        import torch

        model.eval()

        def run():
            with torch.inference_mode():
                out = model(example)
            time.sleep(0.002)
            return out

        tuned = json.loads(STATE.read_text()).get(case.label) if STATE.exists() else None
        return Prepared(timed={"latency_forward": Timed(run=run)}, output=run, torch_allocator=True,
                        unsupported={"latency_backward": "the toy runner runs inference only"},
                        config={"toy_tuned": tuned is not None},
                        one_shot=[{"metric": "toy_setup_time", "value": 0.001, "message": "nothing to set up"}])

    def tune(self, cases, device, options, *, build, trials_per_task=None, budget_s=None, say=print):
        done = {}
        for case in cases:
            model, x = build(case)  # built as a run builds it
            done[case.label] = trials_per_task or options["trials"]
            say(f"toy-tuned {case.label}")
        STATE.write_text(json.dumps(done))
        return Tuned(sum(done.values()), 0.0, False, f"toy database: {len(done)} cases")

    def claim_caveat(self, record, margin):
        if record["metric"] != "latency_forward" or (record.get("config") or {}).get("toy_tuned"):
            return ""
        return "the toy runner was not tuned"

    def report_section(self, df, figure, table):
        rows = df[df.runner == "toy"]
        return "Toy runner provenance", table([{"records": len(rows), "tuned": bool(rows["config.toy_tuned"].all())}])


class ToyProbe(Probe):
    name = "toy_calls"
    metrics = (Metric("toy_calls", "count", "probe", "forwards the toy probe made"),)

    def measure(self, prepared, case, device):
        if "toy_calls" not in case.metrics:
            return []
        for _ in range(3):
            prepared.output()
        return [{"metric": "toy_calls", "value": 3, "source": "measured", "unit": "count"}]


class WiderIsSlower(Study):
    name = "toy_wider_is_slower"
    title = "Toy: a wider second conv is slower"
    hint = " (the toy workload)"

    def verdicts(self, records, samples, workload):
        lat = sorted((r["params"]["c2"], r["value"]) for r in records
                     if r["metric"] == "latency_forward" and r["status"] == "ok")
        ok = all(b[1] >= a[1] * 0.5 for a, b in zip(lat, lat[1:]))
        return [Verdict("TOY", "wider is not faster", "holds" if ok else "violated",
                        {"device": records[0]["device"], "runner": records[0]["runner"], "workload": workload.name},
                        [{"c2": c2, "latency_s": v} for c2, v in lat], study=self.name)]

    def format_row(self, verdict, row):
        return f"c2={row['c2']}: {row['latency_s'] * 1e3:.2f} ms"
'''


@pytest.fixture
def toy_plugin(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "toyplug-0.1.dist-info").mkdir(parents=True)
    (site / "toyplug.py").write_text(textwrap.dedent(TOY))
    (site / "toyplug-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: toyplug\nVersion: 0.1\n")
    (site / "toyplug-0.1.dist-info" / "entry_points.txt").write_text(
        "[benchsuite.runners]\ntoy = toyplug:ToyRunner\n\n[benchsuite.studies]\n"
        "toy_wider_is_slower = toyplug:WiderIsSlower\n\n[benchsuite.probes]\ntoy_calls = toyplug:ToyProbe\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", f"{site}:{REPO}")  # the workers find it too
    monkeypatch.setenv("TOY_STATE", str(tmp_path / "toy-tuned.json"))
    from benchsuite import metrics, probes, studies
    from benchsuite.plugins import Registry

    def forget():
        Registry.refresh()
        for cached in (studies.get_study, probes.all_probes, metrics.all_metrics):
            cached.cache_clear()

    forget()
    yield site
    forget()


def _tree_state() -> str:
    import subprocess

    return subprocess.run(["git", "status", "--porcelain", "--", "benchsuite", "pyproject.toml"], cwd=REPO,
                          capture_output=True, text=True).stdout


def test_plugins_with_every_hook_are_one_module_and_entry_points(toy_plugin, tmp_path, capsys, monkeypatch):
    """A runner (with a tuning step, a report section, a declared metric and a caveat), a probe with its
    own metric and a study, added by one module and entry points only, run end to end: tune, run,
    verdicts, report. Nothing in benchsuite changes for them."""
    from benchsuite.cli import main
    from benchsuite.report import build_report

    before = _tree_state()
    assert main(["list", "runners"]) == 0
    assert "toy " in capsys.readouterr().out
    dev = tmp_path / "toydev.toml"
    dev.write_text('name = "toydev"\nkind = "cpu"\nthreads = [1]\nrunners = ["toy"]\n' + FAST_TIMING)
    wl = tmp_path / "toywl.toml"
    wl.write_text('name = "toywl"\nstudies = ["toy_wider_is_slower"]\nresolutions = [16]\ncompare = ["c2"]\n'
                  'metrics = ["latency_forward", "toy_calls"]\n'
                  '[[models]]\nname = "g1_block_stack"\nrows = [{ c1 = 8, c2 = 8 }, { c1 = 8, c2 = 64 }]\n')
    out = tmp_path / "results"
    run = ["run", "--device", str(dev), "--workload", str(wl), "--out", str(out), "--no-progress", "--no-ceilings"]
    assert main(run) == 0  # untuned: the runner's caveat makes the verdict inconclusive
    printed = capsys.readouterr().out
    assert "TOY [INCONCLUSIVE] wider is not faster" in printed and "the toy runner was not tuned" in printed
    assert main(["tune", "--device", str(dev), "--workload", str(wl)]) == 0
    captured = capsys.readouterr()
    assert "toy database: 2 cases" in captured.out and "tuned 4 trials" in captured.out
    assert "toy-tuned g1_block_stack" in captured.err
    assert main(run) == 0
    printed = capsys.readouterr().out
    assert "TOY [HOLDS] wider is not faster" in printed and "c2=64:" in printed
    newest = sorted(p for p in out.iterdir() if p.is_dir())[-1]
    assert json.loads((newest / "run.json").read_text())["studies"] == ["toy_wider_is_slower"]
    from benchsuite import load_runs

    df = load_runs(newest)
    assert set(df[df.metric == "toy_calls"].value) == {3} and set(df[df.metric == "toy_calls"].unit) == {"count"}
    assert set(df[df.metric == "toy_setup_time"].unit) == {"s"}  # the runner's declared metric has its unit
    page = build_report([newest], tmp_path / "report").read_text()
    assert "Toy: a wider second conv is slower" in page and "c2=64:" in page
    assert "Toy runner provenance" in page
    # all the plugin needed: its module and the entry points; benchsuite's own files are as they were
    files = sorted(str(p.relative_to(toy_plugin)) for p in toy_plugin.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts)
    assert files == ["toyplug-0.1.dist-info/METADATA", "toyplug-0.1.dist-info/entry_points.txt", "toyplug.py"]
    assert _tree_state() == before


def test_a_workload_naming_an_unknown_study_is_refused(tmp_path, capsys):
    from benchsuite.cli import main

    wl = tmp_path / "w.toml"
    wl.write_text('studies = ["g9"]\n[[models]]\nname = "g1_block_stack"\n')
    assert main(["run", "--workload", str(wl), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "key 'studies': bad value 'g9'" in err and "g1, g2" in err and not (tmp_path / "r").exists()


def test_import_contracts_hold():
    """lint-imports (also in make lint): the layers of pyproject.toml, and no import cycles anywhere."""
    import subprocess

    lint = Path(sys.executable).parent / "lint-imports"
    r = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:]
    assert "Contracts: 2 kept, 0 broken." in r.stdout
