"""The HTML report: content and self-containment, and a real headless Chromium load."""
import os
import re
import shutil
import subprocess

import pytest

from benchsuite.cli import main


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    dev = tmp / "fakedev.toml"
    from tests.conftest import FAST_TIMING, SMALL_G1
    dev.write_text('name = "fakedev"\nkind = "cpu"\nthreads = [1]\n'
                   + 'runners = ["fake"]\n' + FAST_TIMING)
    wl = tmp / "smallg1.toml"
    wl.write_text(SMALL_G1)
    out = tmp / "results"
    for _ in range(2):
        assert main(["run", "--device", str(dev), "--workload", str(wl), "--out", str(out), "--no-progress"]) == 0
    assert main(["report", "--results", str(out), "--out", str(tmp / "reports")]) == 0
    return tmp / "reports" / "index.html"


def test_report_content(report):
    page = report.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)=["']https?://""", page), "the report must not load anything from the network"
    assert len(re.findall(r'src="data:image/png;base64,', page)) >= 2  # G1 figure and the trend plot
    assert "G1 [" in page and "equal channel width" in page
    for section in ("Environment", "Resolution", "Roofline", "Energy", "Trends across the history", "All records"):
        assert section in page
    # sections without records say so instead of vanishing
    assert "No records of study &#x27;g2&#x27;: run a workload that names it" in page
    energy = page[page.index("Energy (measured and modeled)"):page.index("Trends across the history")]
    assert "<h3>modeled</h3>" in energy and "<h3>measured</h3>" not in energy  # modeled only, never mixed
    assert "No ceiling_flops" in page  # the fake runner measures no hardware
    assert "Unsupported, skipped and errors" in page


def test_runs_side_by_side_one_environment_column_each(report, tmp_path):
    runs = sorted(p for p in (report.parent.parent / "results").iterdir() if p.is_dir())
    assert main(["report", *map(str, runs), "--out", str(tmp_path)]) == 0
    page = (tmp_path / "index.html").read_text()
    env = page[page.index("id='environment'"):page.index("</table>", page.index("id='environment'"))]
    assert all(f"fakedev / smallg1 {r.name}" in env for r in runs)
    assert page.count("<tr>") > 20 and 'id="records"' in page


def test_report_opens_with_the_verdict_matrix(report):
    """The first section: a summary in words, then one cell per (claim, device, runner, pass) in the runs,
    each linking to its study's section, with the key ratio and its interval."""
    page = report.read_text()
    first = page.index("<h2")
    assert page[first:].startswith("<h2 id='verdicts-at-a-glance'>Verdicts at a glance</h2>")
    assert "On fakedev, " in page and "verdicts agree with the paper" in page
    matrix = page[page.index('id="verdict-matrix"'):page.index("</table>", page.index('id="verdict-matrix"'))]
    cells = re.findall(r'<td class="cell (holds|violated|inconclusive|notrun)"', matrix)
    assert len(cells) == 2  # one claim (G1 on the small workload) x (fake, forward) and (fake, backward)
    assert matrix.count('href="#study-g1"') == 2 and "id='study-g1'" in page
    assert re.search(r"c1=\d+,c2=\d+: x\d\.\d\d \[\d\.\d\d, \d\.\d\d\]", matrix)


def test_report_without_runs_is_a_clear_error(tmp_path, capsys):
    assert main(["report", "--results", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "no runs under" in capsys.readouterr().err


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_browser = pytest.mark.skipif(not CHROMIUM and not os.environ.get("BENCHSUITE_REQUIRE_BROWSER"),
                                   reason="Chromium not installed (.ci/run installs it and requires this test)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic", "--enable-logging=stderr", "--v=0"]


def _chromium(page, tmp_path, *extra):
    assert CHROMIUM, "Chromium is required here (BENCHSUITE_REQUIRE_BROWSER is set) but not installed"
    r = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *extra, page.as_uri()],
                       capture_output=True, text=True, timeout=120)
    errors = [line for line in r.stderr.splitlines() if "CONSOLE" in line and ("ERROR" in line or "Uncaught" in line)]
    return r.stdout, errors


@needs_browser
def test_console_error_detection_works(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>console.error('boom'); undefinedFunction();</script></body></html>")
    _, errors = _chromium(bad, tmp_path, "--dump-dom")
    assert errors, "the check must see a page's console errors"


@needs_browser
def test_report_in_chromium(report, tmp_path):
    dom, errors = _chromium(report, tmp_path, "--dump-dom", "--virtual-time-budget=5000")
    assert errors == []
    body = re.search(r"<body([^>]*)>", dom).group(1)
    assert 'data-loaded="1"' in body and 'data-figures-failed="0"' in body
    assert int(re.search(r'data-figures="(\d+)"', body).group(1)) >= 2
    shot = tmp_path / "screenshot.png"  # not into the checkout
    _chromium(report, tmp_path, f"--screenshot={shot}", "--window-size=1280,2400")
    assert shot.exists() and shot.stat().st_size > 10_000
