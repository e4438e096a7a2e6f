"""The HTML report: content and self-containment, and a real headless Chromium load."""
import json
import os
import re
import shutil

import pytest

from benchsuite.cli import main


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    from tests.conftest import FAST_TIMING, SMALL_G1
    wl = tmp / "smallg1.toml"
    wl.write_text(SMALL_G1)
    out = tmp / "results"
    for name in ("fakedev", "fakedev", "otherdev"):  # two runs of one device (a trend), one of a second device
        dev = tmp / f"{name}.toml"
        dev.write_text(f'name = "{name}"\nkind = "cpu"\nthreads = [1]\nrunners = ["fake"]\n'
                       + FAST_TIMING)
        assert main(["run", "--device", str(dev), "--workload", str(wl), "--out", str(out), "--no-progress"]) == 0
    assert main(["report", "--results", str(out), "--out", str(tmp / "reports")]) == 0
    return tmp / "reports" / "index.html"


def test_report_content(report):
    page = report.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)=["']https?://""", page), "the report must not load anything from the network"
    figures = re.findall(r'<script type="application/json" id="(fig-\d+)-spec">(.*?)</script>', page)
    assert len(figures) >= 3  # G1, the trend plot, energy
    for _, spec in figures:  # Vega-Lite specs with their data inside
        assert json.loads(spec)["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    assert page.count("window.vegaEmbed=") == 1  # the plotting library inlined once, not per figure
    assert "G1 [" in page and "equal channel width" in page
    for section in ("Environment", "Energy", "Trends across the history", "All records"):
        assert f">{section}" in page
    # sections without records collapse into one line naming each and the workload that gives it records
    not_run = page[page.index("<h2 id='not-run'>"):page.index("<h2", page.index("<h2 id='not-run'>") + 5)]
    assert "(<code>run --workload guideline2</code>)" in not_run and "G3" in not_run
    assert "Roofline" in not_run and "run without --no-ceilings" in not_run  # the fake runner measures no hardware
    assert "<h2 id='roofline'>" not in page and "No records of study" not in page
    start = page.index(">Energy (measured and modeled)</h2>")
    energy = page[start:page.index("<h2", start)]
    assert "<h3>modeled</h3>" in energy and "<h3>measured</h3>" not in energy  # modeled only, never mixed
    assert "c1=16 c2=16" in energy and "c1=16.0" not in page, "integer knobs print as integers"
    assert "Unsupported, skipped and errors" in page


def test_runs_side_by_side_one_environment_column_each(report, tmp_path):
    runs = sorted(p for p in (report.parent.parent / "results").iterdir() if p.is_dir())
    assert main(["report", *map(str, runs), "--out", str(tmp_path)]) == 0
    page = (tmp_path / "index.html").read_text()
    env = page[page.index("id='environment'"):page.index("</table>", page.index("id='environment'"))]
    # a column per run: the device's name alone where it ran once, with the run id where it ran twice
    assert all(f"fakedev / smallg1 {r.name}" in env for r in runs if "-fakedev-" in r.name)
    assert "otherdev / smallg1</th>" in env
    assert page.count("<tr>") > 20 and 'id="records"' in page


def test_report_opens_with_the_verdict_matrix(report):
    """The first section: a summary in words, then one cell per (claim, device, runner, pass) in the runs,
    each linking to its study's section, with the key ratio and its interval."""
    page = report.read_text()
    first = page.index("<h2", page.index("<body"))
    assert page[first:].startswith("<h2 id='verdicts-at-a-glance'>Verdicts at a glance</h2>")
    assert "On fakedev, " in page and "On otherdev, " in page and "verdicts agree with the paper" in page
    matrix = page[page.index('id="verdict-matrix"'):page.index("</table>", page.index('id="verdict-matrix"'))]
    cells = re.findall(r'<td class="cell (holds|violated|inconclusive|notrun)"', matrix)
    # one claim (G1 on the small workload) x 2 devices x (fake, forward) and (fake, backward)
    assert len(cells) == 4
    assert matrix.count('href="#study-g1"') == 4 and "id='study-g1'" in page
    assert re.search(r"c1=\d+,c2=\d+: x\d\.\d\d \[\d\.\d\d, \d\.\d\d\]", matrix)


def test_report_without_runs_is_a_clear_error(tmp_path, capsys):
    assert main(["report", "--results", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "no runs under" in capsys.readouterr().err


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_browser = pytest.mark.skipif(not CHROMIUM and not os.environ.get("BENCHSUITE_REQUIRE_BROWSER"),
                                   reason="Chromium not installed (.ci/run installs it and requires this test)")
SIZE_BUDGET = 5_000_000  # bytes: the report must stay small enough to mail and open fast


@pytest.fixture(scope="module")
def browser():
    """The system's Chromium driven by Playwright (its own browser downloads are never used)."""
    assert CHROMIUM, "Chromium is required here (BENCHSUITE_REQUIRE_BROWSER is set) but not installed"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _open(browser, path):
    """Open a file with every non-file request blocked and recorded; returns (page, errors, requests)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors, requests = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def gate(route):
        if route.request.url.startswith(("file:", "data:", "blob:")):
            return route.continue_()
        requests.append(route.request.url)
        return route.abort()
    page.route("**/*", gate)
    page.goto(path.as_uri())
    return page, errors, requests


@needs_browser
def test_console_error_detection_works(browser, tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><img src='https://example.com/x.png'><script>console.error('boom');"
                   " undefinedFunction();</script></body></html>")
    page, errors, requests = _open(browser, bad)
    page.wait_for_load_state("load")
    assert "boom" in errors and any("undefinedFunction" in e for e in errors), \
        "the check must see a page's console errors and uncaught exceptions"
    assert requests == ["https://example.com/x.png"], "the check must see (and block) network requests"


@needs_browser
def test_report_in_chromium(report, browser, tmp_path):
    """Opened from disk with the network blocked: every figure renders as SVG, nothing is requested, no
    console error; hovering a bar shows its value in a tooltip; a matrix cell links to its section."""
    assert report.stat().st_size < SIZE_BUDGET
    page, errors, requests = _open(browser, report)
    page.wait_for_function("document.body.dataset.loaded === '1'", timeout=60_000)
    assert errors == [] and requests == []
    n = int(page.evaluate("document.body.dataset.figures"))
    assert n >= 3 and page.evaluate("document.body.dataset.figuresFailed") == "0"
    assert page.locator("div.vl svg").count() == n  # every figure drew itself
    bar = page.locator("#study-g1 ~ div.vl").first.locator("path[role=graphics-symbol]").first
    bar.scroll_into_view_if_needed()
    bar.hover(force=True)
    tip = page.locator("#vg-tooltip-element")
    tip.wait_for(state="visible", timeout=5_000)
    text = tip.inner_text()
    assert "speed" in text and "95% low" in text and re.search(r"\d\.\d{3}", text)
    page.locator("#verdict-matrix td.cell a").first.click()
    assert page.evaluate("location.hash") == "#study-g1"
    not_run = page.locator("p.not-run")  # one line, visible, naming the claims these runs did not measure
    assert not_run.count() == 1 and "guideline2" in not_run.inner_text() and not_run.is_visible()
    page.screenshot(path=str(tmp_path / "screenshot.png"))  # not into the checkout
    assert (tmp_path / "screenshot.png").stat().st_size > 10_000
    page.close()
