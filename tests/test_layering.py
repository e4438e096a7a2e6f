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


TOY = '''
"""A runner and a study from outside benchsuite: each is one class and one entry point."""
import time

from benchsuite.measure import Timed
from benchsuite.runners import Prepared, Runner
from benchsuite.studies import Study, Verdict


class ToyRunner(Runner):
    name = "toy"
    description = "torch eager with a 2 ms sleep: a plugin runner"
    measures_hardware = False

    def prepare(self, model, example, case, options, device):
        import torch

        model.eval()

        def run():
            with torch.inference_mode():
                out = model(example)
            time.sleep(0.002)
            return out

        return Prepared(timed={"latency_forward": Timed(run=run)}, output=run, torch_allocator=True,
                        unsupported={"latency_backward": "the toy runner runs inference only"})


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
                        [{"c2": c2, "latency_s": v} for c2, v in lat], by=self.name)]

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
        "toy_wider_is_slower = toyplug:WiderIsSlower\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", f"{site}:{REPO}")  # the workers find it too
    from benchsuite import studies
    from benchsuite.plugins import Registry

    Registry.refresh()
    studies.get_study.cache_clear()
    yield site
    Registry.refresh()
    studies.get_study.cache_clear()


def test_a_runner_and_a_study_are_one_module_and_one_entry_point_each(toy_plugin, tmp_path, capsys):
    from benchsuite.cli import main

    assert main(["list", "runners"]) == 0
    assert "toy " in capsys.readouterr().out
    dev = tmp_path / "toydev.toml"
    dev.write_text('name = "toydev"\nkind = "cpu"\nthreads = [1]\nrunners = ["toy"]\n' + FAST_TIMING)
    wl = tmp_path / "toywl.toml"
    wl.write_text('name = "toywl"\nstudies = ["toy_wider_is_slower"]\nresolutions = [16]\ncompare = ["c2"]\n'
                  '[[models]]\nname = "g1_block_stack"\nrows = [{ c1 = 8, c2 = 8 }, { c1 = 8, c2 = 64 }]\n')
    out = tmp_path / "results"
    assert main(["run", "--device", str(dev), "--workload", str(wl), "--out", str(out), "--no-progress",
                 "--no-ceilings"]) == 0
    printed = capsys.readouterr().out
    assert "TOY [HOLDS] wider is not faster" in printed and "c2=64:" in printed
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    assert json.loads((run / "run.json").read_text())["studies"] == ["toy_wider_is_slower"]
    from benchsuite.report import build_report

    page = build_report([run], tmp_path / "report").read_text()
    assert "Toy: a wider second conv is slower" in page and "c2=64:" in page


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
