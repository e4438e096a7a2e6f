"""ShuffleNet V2's guidelines G1-G4 (Tables 1-4): within each comparison group (the rows of one paper
table, measured interleaved) every row's latency is divided by the baseline row's.

The 95% interval of that ratio comes from a hierarchical bootstrap (processes, then samples within them;
with one process it covers that process's noise only, and says so); where raw samples are missing, a
conservative interval from the two records' median CIs is used and said. A row is `slower` / `faster`
only when its interval lies wholly beyond the practical-equivalence margin (default 2%, the workload's
`margin`, or --margin), `same` when wholly inside it, `slower or same` / `faster or same` when it
straddles only the margin's upper / lower edge (one-sided: not beyond the margin the other way), else
`unresolved`. For G1-G3 (the baseline should be fastest) a group is `violated` if any row is faster or
every row ties (the claimed difference is not there), `holds` if no row can be faster (each is slower, a
tie, or slower or same) and one is decided slower (ties are findings, said as "holds, with ties within
±2%"); otherwise `inconclusive`, and its note says how far from decided it is (the widest open interval,
and the processes it would take at the spread measured). G4 (removing ReLU / shortcut should speed up) is
the mirror image. The verdict uses the raw latency ratio; each row shows beside it the FLOP-normalised ratio
(latency ratio / FLOP ratio: the paper's channel choices are up to 5.5% off FLOP-equal), the paper's
normalised speed and the FLOP ratio.
Registered as studies g1..g4; a workload names one (`studies = ["g1"]`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import math

import numpy as np

from ..replicates import processes_to_decide
from .base import CONFIDENCE, LATENCY, MARGIN, Study, Verdict, WorkloadInfo, div, reference_rows, sample_ratio, scope_of
from .base import one_sided_outcome


@dataclass(frozen=True)
class Guideline:
    name: str
    reference: str                          # the published table (the workload's `reference` overrides it)
    claim: str
    compare: tuple[str, ...]
    row_knobs: Callable[[dict], dict]       # reference CSV row -> model knobs
    is_baseline: Callable[[dict], bool]
    expect: str                             # how the other rows should compare: "slower" or "faster"


_yes = lambda v: v == "yes"  # noqa: E731
GUIDELINES = {g.name: g for g in (
    Guideline("G1", "shufflenetv2_g1.csv", "equal channel width (1:1) is fastest at equal FLOPs",
              ("c1", "c2"), lambda r: {"c1": int(r["c1"]), "c2": int(r["c2"]), "multiplier": int(r["multiplier"])},
              lambda k: k["c1"] == k["c2"], "slower"),
    Guideline("G2", "shufflenetv2_g2.csv", "more groups are slower at equal FLOPs",
              ("groups", "c"), lambda r: {"groups": int(r["groups"]), "c": int(r["c"]),
                                          "multiplier": int(r["multiplier"])},
              lambda k: k["groups"] == 1, "slower"),
    Guideline("G3", "shufflenetv2_g3.csv", "fragmented blocks are slower at equal FLOPs",
              ("structure",), lambda r: {"structure": r["structure"], "c": int(r["c"])},
              lambda k: k["structure"] == "1-fragment", "slower"),
    Guideline("G4", "shufflenetv2_g4.csv", "removing ReLU and/or the shortcut speeds up",
              ("relu", "shortcut"), lambda r: {"relu": _yes(r["relu"]), "shortcut": _yes(r["shortcut"]),
                                               "c": int(r["c"])},
              lambda k: k["relu"] and k["shortcut"], "faster"),
)}


def paper_ratios(g: Guideline, reference: str | None = None) -> dict[tuple, dict[str, float]]:
    """knob items -> {platform: the row's speed over its table block's baseline speed}."""
    rows = [(r["platform"], g.row_knobs(r), float(r["speed"])) for r in reference_rows(reference or g.reference)]
    block = lambda plat, k: (plat,) + tuple(sorted((n, v) for n, v in k.items() if n not in g.compare))  # noqa: E731
    base = {block(plat, k): speed for plat, k, speed in rows if g.is_baseline(k)}
    out: dict[tuple, dict[str, float]] = {}
    for plat, k, speed in rows:
        out.setdefault(tuple(sorted(k.items())), {})[plat] = speed / base[block(plat, k)]
    return out


def _paper_for(params: dict, tags: dict, table: dict) -> dict[str, float]:
    for key, per_platform in table.items():
        if all(params.get(n) == v for n, v in key):
            plat = tags.get("paper_set")
            return {p: v for p, v in per_platform.items() if plat in (None, p)}
    return {}


def _group_verdict(outcomes: list[str], expect: str) -> str:
    """holds: no row can be against the claim (each is decided as claimed, a tie, or `<as claimed> or
    same`) and at least one is decided as claimed (ties within the margin are findings: said in the note);
    violated: a row decided against the claim, or every row a tie (the claimed cost is not there);
    inconclusive: a row that may still be against the claim, or no row decided as claimed while some
    could yet be."""
    wrong = "faster" if expect == "slower" else "slower"
    if any(o == wrong for o in outcomes):
        return "violated"
    if not outcomes or any(o in ("unresolved", f"{wrong} or same") for o in outcomes):
        return "inconclusive"
    if any(o == expect for o in outcomes):
        return "holds"
    return "violated" if all(o == "same" for o in outcomes) else "inconclusive"


def _open_rows(vrows: list[dict], expect: str) -> list[dict]:
    """The rows whose further measurement could still decide an inconclusive group: unresolved ones, those
    that may yet be against the claim, and, while no row is decided as claimed, those that may yet be."""
    wrong = "faster" if expect == "slower" else "slower"
    could = {"unresolved", f"{wrong} or same"}
    if not any(r["outcome"] == expect for r in vrows):
        could.add(f"{expect} or same")
    return [r for r in vrows if r["outcome"] in could]


def _decision_note(verdict: str, vrows: list[dict], margin: float, processes: int,
                   conf: float = CONFIDENCE) -> str:
    """What a decided verdict rests on beyond its rows, or how far an undecided one is from decided."""
    label = lambda r: ",".join(f"{k}={v}" for k, v in r["row"].items())  # noqa: E731
    ties = [label(r) for r in vrows if r["outcome"] == "same"]
    either = [f"{label(r)} ({r['outcome']})" for r in vrows if r["outcome"].endswith(" or same")]
    within = f"within ±{margin * 100:g}%"
    if verdict == "holds" and (ties or either):
        said = f"with ties {within} ({'; '.join(ties)}): a tie inside the margin is a finding" if ties else ""
        if either:
            said += ("; " if said else "") + (f"{'; '.join(either)}: the interval straddles only the margin edge "
                                              "on the claim's side, so the row is not against the claim")
        return f"holds, {said}. "
    if verdict == "violated" and ties and len(ties) == sum(r["outcome"] != "baseline" for r in vrows):
        return f"every row ties with the baseline {within}: the claimed difference is not there. "
    if verdict != "inconclusive":
        return ""
    open_rows = [r for r in vrows if r["outcome"] == "unresolved" or r["outcome"].endswith(" or same")]
    if not open_rows:  # the group ran its baseline row alone (a filter): there is nothing to decide
        return "only the baseline row ran: no ratio to judge. "
    widest = max(open_rows, key=lambda r: r["latency_ratio_ci"][1] / r["latency_ratio_ci"][0])
    lo, hi = widest["latency_ratio_ci"]
    processes = widest.get("processes") or processes  # its own: a decided row may have stopped earlier
    need = processes_to_decide(lo, hi, processes, margin, conf)
    if processes <= 1:
        more = "measured in one process: its interval covers that process only (--processes 3 or more)"
    elif need == float("inf"):
        more = "its centre sits on a margin edge: no number of processes decides it"
    else:
        more = f"about {math.ceil(need)} processes would decide it at the spread measured ({processes} now)"
    return (f"undecided: {len(open_rows)} row(s) unresolved; widest {label(widest)} latency x[{lo:.3f}, "
            f"{hi:.3f}] across the ±{margin * 100:g}% margin; {more}. ")


def guideline_verdicts(g: Guideline, records: list[dict], samples, reference: str | None = None,
                       margin: float = MARGIN, conf: float = CONFIDENCE) -> list[Verdict]:
    rng = np.random.default_rng(0)
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        if r["status"] == "ok" and r["metric"] in LATENCY and all(k in r["params"] for k in g.compare):
            groups.setdefault((r["run_id"], r["group_id"], r["metric"]), []).append(r)
    madds = {(r["run_id"], r["case_id"]): r["value"] for r in records
             if r["metric"] == "madds" and r["status"] == "ok"}
    out = []
    table = paper_ratios(g, reference)
    for rows in groups.values():
        base = next((r for r in rows if g.is_baseline(r["params"])), None)
        if base is None:
            continue
        vrows, outcomes = [], []
        for r in rows:
            flops = div(madds.get((r["run_id"], r["case_id"])), madds.get((base["run_id"], base["case_id"])))
            if r is base:
                ratio, lo, hi, method, outcome = 1.0, 1.0, 1.0, "", "baseline"
            else:
                ratio, lo, hi, method = sample_ratio(r, base, samples, rng, conf)
                outcome = one_sided_outcome(lo, hi, margin)
                outcomes.append(outcome)
            vrows.append({"row": {k: r["params"][k] for k in g.compare}, "case_id": r["case_id"],
                          "processes": min(r.get("processes") or 1, base.get("processes") or 1),
                          "latency_s": r["value"],
                          "images_per_s": r["batch_size"] / r["value"], "batches_per_s": 1 / r["value"],
                          "speed_ratio": 1 / ratio, "speed_ratio_ci": [1 / hi, 1 / lo],
                          "latency_ratio": ratio, "latency_ratio_ci": [lo, hi], "interval": method,
                          "outcome": outcome, "paper_speed_ratio": _paper_for(r["params"], r["tags"], table),
                          "flops_ratio": flops, "flops_normalised_ratio": div(ratio, flops)})
        fixed = {k: v for k, v in base["params"].items() if k not in g.compare}
        verdict = _group_verdict(outcomes, g.expect)
        processes = min(r.get("processes") or 1 for r in rows)
        still = _open_rows(vrows, g.expect) if verdict == "inconclusive" else []
        out.append(Verdict(g.name, g.claim, verdict, scope_of(base, **fixed, **base["tags"]), vrows,
                           study=g.name.lower(), margin=margin,
                           open_cases=[base["case_id"], *(r["case_id"] for r in still)] if still else None,
                           note=_decision_note(verdict, vrows, margin, processes, conf)
                           + "the verdict uses the raw latency ratio; latency/flops divides it by the FLOP ratio"))
    return out




class GuidelineStudy(Study):
    guideline: Guideline

    def __init__(self):
        self.name = self.guideline.name.lower()
        self.title = f"{self.guideline.name}: {self.guideline.claim}"
        self.order = int(self.guideline.name[1])

    def verdicts(self, records, samples, workload: WorkloadInfo) -> list[Verdict]:
        return guideline_verdicts(self.guideline, records, samples, workload.reference, workload.margin,
                                  workload.confidence)

    def format_row(self, verdict, r) -> str:
        label = ",".join(f"{k}={val}" for k, val in r["row"].items())
        lo, hi = r["speed_ratio_ci"]
        paper = " ".join(f"{p}={x:.2f}" for p, x in r["paper_speed_ratio"].items()) or "-"
        flops = (f"flops x{r['flops_ratio']:.3f}, latency/flops x{r['flops_normalised_ratio']:.3f}"
                 if r.get("flops_ratio") else "")
        return (f"{label:32s} {r['images_per_s']:9.1f} img/s  speed x{r['speed_ratio']:.3f} "
                f"[{lo:.3f}, {hi:.3f}] {r['outcome']:14s} paper: {paper:14s} {flops}")

    def headline(self, verdict) -> tuple[str, str]:
        """The row that comes closest to contradicting the claim: its speed ratio to the baseline row."""
        rows = [r for r in verdict.rows if r["outcome"] != "baseline"]
        if not rows:
            return "", ""
        pick = max if self.guideline.expect == "slower" else min
        r = pick(rows, key=lambda x: x["speed_ratio"])
        lo, hi = r["speed_ratio_ci"]
        label = ",".join(f"{k}={v}" for k, v in r["row"].items())
        paper = " ".join(f"{p}={x:.2f}" for p, x in r["paper_speed_ratio"].items())
        return (f"{label}: x{r['speed_ratio']:.2f} [{lo:.2f}, {hi:.2f}]",
                f"paper for {label}: {paper or '-'}")

    def figures(self, df, verdicts):
        return [(speed_figure(verdicts), f"{self.guideline.name} speed ratios")]


class G1(GuidelineStudy):
    guideline = GUIDELINES["G1"]


class G2(GuidelineStudy):
    guideline = GUIDELINES["G2"]


class G3(GuidelineStudy):
    guideline = GUIDELINES["G3"]


class G4(GuidelineStudy):
    guideline = GUIDELINES["G4"]


def speed_figure(verdicts) -> dict | None:
    """Measured speed relative to each group's baseline row with its interval, one bar per device x runner,
    the paper's GPU and ARM ratios as markers; one panel per scope (channel set, pass)."""

    from .. import figures

    return figures.speed_bars(verdicts, lambda r: {f"paper {p}": x for p, x in r.get("paper_speed_ratio", {}).items()},
                      "speed / baseline")
