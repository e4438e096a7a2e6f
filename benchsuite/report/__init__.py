"""The HTML report: one self-contained file, readable offline from disk with no network.

Figures are Vega-Lite specifications (benchsuite.figures) rendered in the browser by Vega, Vega-Lite and
vega-embed, whose JavaScript (vl-convert's bundle, ~0.9 MB) is inlined once; each figure's spec and data
sit in a JSON script element beside its div."""
from __future__ import annotations

import html
import json
import functools
from collections import Counter
from pathlib import Path

from ..latency_model import Explainer
from ..results import verdicts as vd
from ..records import to_frame
from ..results.run import Run
from ..studies import all_studies
from ..studies.base import reference_rows
from . import matrix

REPORT_FILE = "index.html"

_CSS = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1250px;padding:1em 2em;color:#222}
h1{margin-bottom:0}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
.absent{color:#8a6d3b;background:#fcf8e3;padding:.6em;border-radius:4px}
.not-run{color:#555;font-size:.92em}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:2px 6px}
th{background:#f3f3f3;cursor:pointer;position:sticky;top:0}.env td:first-child{font-weight:bold}
div.vl{margin:.6em 0;overflow-x:auto}div.wide{overflow-x:auto;max-width:100%}
#verdict-matrix th.claim{position:sticky;left:0;z-index:1}
.holds{color:#2a7}.violated{color:#c33}.inconclusive{color:#a80}
#verdict-matrix td.cell{text-align:center;min-width:90px}#verdict-matrix .num{font-size:11px;color:#444}
td.holds{background:#e6f4ea}td.violated{background:#fce8e6}td.inconclusive{background:#fef7e0}
td.notrun{color:#aaa}th.claim{text-align:left;cursor:default}.summary{font-size:15px}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:12px}
#records-wrap{max-height:600px;overflow:auto;content-visibility:auto;contain-intrinsic-size:auto 600px}
"""

# Sorting and filtering of the records table, and a load check the browser test reads.
_JS = """
function sortBy(th){const t=th.closest('table'),i=[...th.parentNode.children].indexOf(th),
 asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';const rows=[...t.tBodies[0].rows];
 rows.sort((a,b)=>{const x=a.cells[i].textContent,y=b.cells[i].textContent,nx=parseFloat(x),
 ny=parseFloat(y);const c=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);return asc?c:-c});
 rows.forEach(r=>t.tBodies[0].appendChild(r));}
function filterRows(q){q=q.toLowerCase();for(const r of document.querySelectorAll('#records tbody tr'))
 r.style.display=r.textContent.toLowerCase().includes(q)?'':'none';}
// Figures are drawn one after another once the page has painted, yielding to the browser between them,
// so the first screen (summary and verdict matrix) is readable at once; body data-* attributes say when
// all are drawn and how many failed (the browser tests read them).
window.addEventListener('load',async()=>{const divs=[...document.querySelectorAll('div.vl')];let bad=0;
 const opts={renderer:'svg',actions:false};
 for(const d of divs){await new Promise(r=>setTimeout(r,0));
  try{await vegaEmbed(d,JSON.parse(document.getElementById(d.id+'-spec').textContent),opts);d.dataset.rendered='1'}
  catch(e){bad++;console.error('figure '+d.id+': '+e)}}
 const b=document.body.dataset;b.figures=divs.length;b.figuresFailed=bad;b.loaded='1';});
"""


class _Figures:
    """Numbers the report's figures: each becomes a div and a JSON script holding its spec."""

    def __init__(self):
        self.count = 0

    def __call__(self, spec: dict | None, alt: str, absent: str) -> str:
        if spec is None:
            return f'<p class="absent">{html.escape(absent)}</p>' if absent else ""
        self.count += 1
        ident = f"fig-{self.count}"
        data = json.dumps(spec, separators=(",", ":"), default=str).replace("</", "<\\/")
        return (f'<div class="vl" id="{ident}" role="img" aria-label="{html.escape(alt)}"></div>'
                f'<script type="application/json" id="{ident}-spec">{data}</script>')


@functools.cache
def _vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script that defines window.vegaEmbed (no network)."""
    import vl_convert

    return vl_convert.javascript_bundle().replace("</script", "<\\/script")


def _table(rows: list[dict], table_id: str = "", cls: str = "") -> str:
    if not rows:
        return ""
    cols = list(rows[0])
    head = "".join(f'<th onclick="sortBy(this)">{html.escape(str(c))}</th>' for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows)
    ident = f' id="{table_id}"' if table_id else ""
    return f'<table{ident} class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _host(env: dict | None) -> str:
    """The host's own machine, where workers ran on a board: what drove the run."""
    if not env:
        return "-"
    return f"{env.get('machine', '')} {env.get('cpu_model')}, Python {env.get('python')}"


def _environment(metas: list[dict]) -> str:
    """One table, a column per run: runs of several devices side by side."""
    if not metas:
        return ""
    cols = {}
    names = Counter(f"{m.get('device')} / {m.get('workload')}" for m in metas)
    for m in metas:
        env = m.get("environment", {})
        libs = ", ".join(f"{k} {v}" for k, v in env.get("libraries", {}).items() if v)
        name = f"{m.get('device')} / {m.get('workload')}"
        cols[name if names[name] == 1 else f"{name} {m['run_id']}"] = {
            "run": f"{m['run_id']} ({m.get('status')}, {m.get('duration_s', '?')} s)",
            "quick / processes": f"{'quick' if m.get('quick') else 'full'} / {m.get('processes', 1)}",
            "machine": f"{env.get('machine', '')} {env.get('cpu_model')} - {env.get('logical_cores')} logical cores",
            "CPU features": ", ".join(env.get("cpu_features", [])),
            "governor": env.get("governor"), "OS / Python": f"{env.get('os')} / {env.get('python')}",
            "libraries": libs, "malloc": env.get("malloc", "not recorded"), "git commit": env.get("git_commit"),
            "emulated": (f"yes: {m.get('emulated_because') or 'the profile says so'} (timings prove paths, not "
                         f"speed)" if m.get("emulated") else "no"),
            "transport": m.get("transport") or "this host",
            "host (drives the board)": _host(m.get("host_environment")),
            "runners": ", ".join(f"{k}: {'yes' if v['available'] else 'no (' + v['reason'] + ')'}"
                                 for k, v in env.get("runners", {}).items()
                                 if not v.get("stand_in") or k in (m.get("runners") or ()))}
    keys = list(next(iter(cols.values())))
    rows = [{"": k, **{name: col.get(k) for name, col in cols.items()}} for k in keys]
    return _table(rows, cls="env")


def _not_ok(df) -> str:
    """Unsupported, skipped and error records collapsed: one line per (status, metric, reason)."""
    if df.empty:
        return ""
    bad = df[df.status != "ok"]
    if bad.empty:
        return "<p>Every record is ok.</p>"
    parts = ["<table id='not-ok'><thead><tr><th>status</th><th>metric</th><th>count</th><th>reason</th></tr>"
             "</thead><tbody>"]
    for (status, metric, message), g in bad.groupby(["status", "metric", "message"], sort=True):
        cases = sorted({f"{r.model} {r.runner} t{r.threads}" for r in g.itertuples()})
        parts.append(f"<tr><td>{html.escape(status)}</td><td>{html.escape(metric)}</td><td>{len(g)}</td>"
                     f"<td>{html.escape(message)}<details><summary>cases</summary>"
                     f"{html.escape('; '.join(cases))}</details></td></tr>")
    return "".join(parts) + "</tbody></table>"


def _verdict_list(verdicts) -> str:
    """The verdicts as the terminal prints them, collapsed: the matrix and the figures come first."""
    if not verdicts:
        return ""
    return (f"<details><summary>{len(verdicts)} verdict(s) as text (every row, interval and note)</summary>"
            f"<pre>{html.escape(vd.format_verdicts(verdicts))}</pre></details>")


def workloads_naming() -> dict[str, list[str]]:
    """Study name -> the built-in workloads that name it (what to run to get its section)."""
    import tomllib

    from ..catalog import entries

    out: dict[str, list[str]] = {}
    for name, entry in sorted(entries("workloads").items()):
        try:
            studies = tomllib.loads(entry.location.read_text()).get("studies", [])
        except (OSError, tomllib.TOMLDecodeError):
            continue  # a broken user file is refused where it is run, not here
        for study in studies:
            out.setdefault(study, []).append(name)
    return out


def _not_run(rows: list[tuple[str, str, str]]) -> str:
    """One line for everything these runs hold no records of, each with what would give it records."""
    items = "; ".join(f'<span id="{html.escape(anchor)}">{html.escape(title)}</span> '
                      f'(<code>{html.escape(how)}</code>)' for title, anchor, how in rows)
    return f'<p class="not-run">{len(rows)} sections have no records in these runs: {items}.</p>'


def build_report(paths, out_dir: Path, history=None) -> Path:
    """Render every run under `paths` (run folders or folders of runs) into out_dir/index.html."""
    from .. import figures

    runs = Run.find(*paths)  # each run loaded once: the figures and the verdict engine read the same objects
    if not runs:
        raise FileNotFoundError(f"no runs under {', '.join(map(str, paths))}")
    metas = [run.meta.raw for run in runs if run.meta is not None]
    records = [r for run in runs for r in run.records]
    df = to_frame(records)
    verdicts = vd.judge(runs, explain_latency=Explainer(runs))

    fig = _Figures()
    sections = [("Verdicts at a glance", matrix.summary(verdicts)
                 + f'<div class="wide">{matrix.matrix(verdicts)}</div>'),
                ("Environment", _environment(metas))]
    not_run: list[tuple[str, str, str]] = []  # (title, anchor, what would give it records): one line, not a section
    claims = df[df["tags.calibration"].isna()] if "tags.calibration" in df else df  # ceilings are no claim's
    naming = workloads_naming()
    for study in all_studies():  # each study draws its own figures from the records of the runs naming it
        own = claims[claims.run_id.isin({m["run_id"] for m in metas if study.name in m.get("studies", [])})]
        vs = [v for v in verdicts if v.study == study.name]
        if not len(own) and not vs:
            runs = naming.get(study.name, [])
            not_run.append((study.title, matrix.anchor(study.name),
                            "run " + " or ".join(f"--workload {w}" for w in runs) if runs else
                            f"run a workload that names study '{study.name}'"))
            continue
        shown = [fig(spec, alt, "") for spec, alt in study.figures(own, vs)]
        sections.append((study.title, "".join(shown) + _verdict_list(vs), matrix.anchor(study.name)))
    figure_sections = [
        ("Runtime breakdown by operator category", figures.breakdown(df, reference_rows(
            "shufflenetv2_runtime_breakdown.csv")), "runtime breakdown", "run --workload architectures"),
        ("Roofline", figures.roofline(df), "roofline", "run without --no-ceilings"),
        ("Memory traffic (modeled, simulated, measured)", figures.traffic(df), "memory traffic per inference",
         "two kinds of traffic records: memory_access is modeled; --simulate-traffic (cachegrind) or "
         "--measure-traffic (perf) adds the other")]
    for title, spec, alt, how in figure_sections:
        if spec is None:
            not_run.append((title, _slug(title), how))
        else:
            sections.append((title, fig(spec, alt, "")))
    if df.empty or not df.metric.str.startswith("energy").any():
        not_run.append(("Energy (measured and modeled)", _slug("Energy (measured and modeled)"),
                        "a workload with energy metrics, e.g. --workload guideline1"))
    else:
        sections.append(("Energy (measured and modeled)", _energy(df, fig)))
    for section in _runner_sections(df, fig):  # what each runner says of its own numbers (TVM: its tuning)
        sections.append(section)
    sections.append(("Unsupported, skipped and errors", _not_ok(df)))
    trend_rows = _trend_rows(history, metas) if history is not None else []
    trends = figures.trends(trend_rows)
    if trends is None:
        not_run.append(("Trends across the history", "trends-across-the-history",
                        "two or more runs of these workloads in the history"))
    else:
        sections.append(("Trends across the history", fig(trends, "latency trends", "")))
    if not_run:
        sections.append(("Not in these runs", _not_run(not_run), "not-run"))
    cols = [c for c in ("run_id", "workload", "runner", "model", "batch_size", "resolution", "dtype", "threads",
                        "metric", "unit", "value", "ci_low", "ci_high", "n", "source", "status", "message")]
    param_cols = sorted(c for c in df.columns if c.startswith(("params.", "tags.")))
    table_rows = [{c: r.get(c) for c in cols[:4] + param_cols + cols[4:]} for r in df.to_dict("records")]
    sections.append(("All records", '<input placeholder="filter records..." oninput="filterRows(this.value)" '
                     'style="width:300px;margin-bottom:.5em"><div id="records-wrap">'
                     + _table(table_rows, "records") + "</div>"))

    body = "".join(f"<h2 id='{s[2] if len(s) > 2 else _slug(s[0])}'>{html.escape(s[0])}</h2>{s[1]}" for s in sections)
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>benchsuite report</title>"
            f"<style>{_CSS}</style></head><body><h1>benchsuite report</h1>"
            f"<p>{len(runs)} run(s), {len(records)} records. Every number says its source: measured, simulated "
            f"or modeled.</p>{body}<script>{_vega_bundle()}</script><script>{_JS}</script></body></html>")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / REPORT_FILE
    out.write_text(page)
    return out


def _runner_sections(df, fig) -> list[tuple[str, str]]:
    """The sections the runners of these records add (`Runner.report_section`), in runner order."""
    from ..runners import get_runner, runner_names

    present = set(df.runner) if len(df) else set()
    out = []
    for name in runner_names():
        if name in present:
            section = get_runner(name).report_section(df, fig, _table)
            if section is not None:
                out.append(section)
    return out


def _slug(title: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-")


def _energy(df, fig) -> str:
    sub = df[df.metric.str.startswith("energy") & (df.status == "ok")]
    if sub.empty:
        return '<p class="absent">Every energy record here is unsupported; the reasons are in "Unsupported".</p>'
    from .. import figures

    parts = [fig(figures.energy(df), "energy per inference by source", "")]
    knobs = sorted(c for c in sub.columns if c.startswith("params."))
    for source in ("measured", "modeled", "simulated", "emulated"):
        s = sub[sub.source == source]
        if s.empty:
            continue
        rows = {}
        for r in s.to_dict("records"):  # a modeled value is the runner's too: one row per case, runners listed
            case = " ".join(f"{k[7:]}={figures.knob_value(r[k])}" for k in knobs if r.get(k) == r.get(k))
            key = (r["model"], case, r["metric"], round(r["value"], 12))
            row = rows.setdefault(key, {"model": r["model"], "case": case, "metric": r["metric"],
                                        "mJ": f"{r['value'] * 1e3:.3g}", "runners": []})
            row["runners"].append(r["runner"])
        parts.append(f"<h3>{source}</h3>" + _table([{**r, "runners": ", ".join(sorted(set(r["runners"])))}
                                                    for r in rows.values()]))
    return "".join(parts)


def _trend_rows(history, metas) -> list[dict]:
    rows = []
    for wl, dev in {(m.get("workload"), m.get("device")) for m in metas}:
        for run in history.runs(workload=wl, device=dev):
            for r in history.records(run["run_id"]):
                if r["status"] == "ok" and r["metric"] == "latency_forward":
                    knobs = ",".join(f"{k}={v}" for k, v in {**r["params"], **r["tags"]}.items())
                    rows.append({"run_id": run["run_id"], "started": run["started"], "value": r["value"],
                                 "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                                 "label": f"{r['model']}({knobs}) {r['runner']} t{r['threads']}"})
    return rows
