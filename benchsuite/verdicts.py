"""Verdicts: the published claims checked against a run's measurements.

Guidelines (ShuffleNet V2 G1-G4): within each comparison group (the rows of one paper table,
measured interleaved) every row's latency is divided by the baseline row's. The 95% interval of
that ratio comes from a bootstrap over the raw samples of both rows (medians resampled, 2000
times); where raw samples are missing, a conservative interval from the two records' median CIs
is used and said. A row is `slower` / `faster` when its interval excludes 1, else `same`.
For G1-G3 (the baseline should be fastest) a group's verdict is `holds` if every other row is
slower, `violated` if any is faster, else `inconclusive`; for G4 (removing ReLU / shortcut
should speed up) the mirror image. Each row shows the paper's normalised speed beside it.

Resolution: the log-log slope of latency against pixel count per model (OLS, t interval), and
the smallest resolution at which MobileNetV2 replication (b) is significantly faster than (a).
Architectures / multipliers: Spearman rank correlation of multiply-adds with latency.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import Callable

import numpy as np
from scipy import stats as sps

BOOTSTRAP = 2000
LATENCY = ("latency_forward", "latency_backward")


@dataclass(frozen=True)
class Guideline:
    name: str
    model: str
    reference: str
    claim: str
    compare: tuple[str, ...]
    row_knobs: Callable[[dict], dict]       # reference CSV row -> model knobs
    is_baseline: Callable[[dict], bool]
    expect: str                             # how the other rows should compare: "slower" or "faster"


_yes = lambda v: v == "yes"  # noqa: E731
GUIDELINES = {g.model: g for g in (
    Guideline("G1", "g1_block_stack", "shufflenetv2_g1.csv", "equal channel width (1:1) is fastest at equal FLOPs",
              ("c1", "c2"), lambda r: {"c1": int(r["c1"]), "c2": int(r["c2"]), "multiplier": int(r["multiplier"])},
              lambda k: k["c1"] == k["c2"], "slower"),
    Guideline("G2", "g2_group_conv_stack", "shufflenetv2_g2.csv", "more groups are slower at equal FLOPs",
              ("groups", "c"), lambda r: {"groups": int(r["groups"]), "c": int(r["c"]),
                                          "multiplier": int(r["multiplier"])},
              lambda k: k["groups"] == 1, "slower"),
    Guideline("G3", "g3_fragment_stack", "shufflenetv2_g3.csv", "fragmented blocks are slower at equal FLOPs",
              ("structure",), lambda r: {"structure": r["structure"], "c": int(r["c"])},
              lambda k: k["structure"] == "1-fragment", "slower"),
    Guideline("G4", "g4_bottleneck_stack", "shufflenetv2_g4.csv", "removing ReLU and/or the shortcut speeds up",
              ("relu", "shortcut"), lambda r: {"relu": _yes(r["relu"]), "shortcut": _yes(r["shortcut"]),
                                               "c": int(r["c"])},
              lambda k: k["relu"] and k["shortcut"], "faster"),
)}


@dataclass
class Verdict:
    study: str                 # G1..G4, resolution, flops_vs_latency
    claim: str
    verdict: str               # holds / violated / inconclusive
    scope: dict                # what the verdict is about: device, runner, threads, metric, group knobs
    rows: list[dict] = field(default_factory=list)
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def reference_rows(name: str) -> list[dict]:
    text = resources.files("benchsuite.data").joinpath(name).read_text()
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


def paper_ratios(g: Guideline) -> dict[tuple, dict[str, float]]:
    """knob items -> {platform: the row's speed over its table block's baseline speed}."""
    rows = [(r["platform"], g.row_knobs(r), float(r["speed"])) for r in reference_rows(g.reference)]
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


def ratio_interval(a, b, rng) -> tuple[float, float, float]:
    """Median ratio a/b and its 95% bootstrap interval, a and b raw samples."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ra = np.median(a[rng.integers(0, len(a), (BOOTSTRAP, len(a)))], axis=1)
    rb = np.median(b[rng.integers(0, len(b), (BOOTSTRAP, len(b)))], axis=1)
    lo, hi = np.percentile(ra / rb, [2.5, 97.5])
    return float(np.median(a) / np.median(b)), float(lo), float(hi)


def _ratio(row: dict, base: dict, samples, rng) -> tuple[float, float, float, str]:
    sa = samples.get((row["run_id"], row["case_id"], row["metric"]))
    sb = samples.get((base["run_id"], base["case_id"], base["metric"]))
    if sa and sb:
        return (*ratio_interval(sa, sb, rng), "bootstrap")
    # conservative: the extreme ratios the two medians' CIs allow
    return (row["value"] / base["value"], row["ci_low"] / base["ci_high"], row["ci_high"] / base["ci_low"],
            "ci-bounds")


def _div(a, b):
    return a / b if a is not None and b else None


def _outcome(lo: float, hi: float) -> str:
    return "slower" if lo > 1 else "faster" if hi < 1 else "same"


def _group_verdict(outcomes: list[str], expect: str) -> str:
    wrong = "faster" if expect == "slower" else "slower"
    if any(o == wrong for o in outcomes):
        return "violated"
    return "holds" if outcomes and all(o == expect for o in outcomes) else "inconclusive"


def _scope(r: dict, extra: dict) -> dict:
    return {"device": r["device"], "runner": r["runner"], "threads": r["threads"], "batch_size": r["batch_size"],
            "dtype": r["dtype"], "resolution": r["resolution"], "metric": r["metric"], **extra}


def guideline_verdicts(records: list[dict], samples) -> list[Verdict]:
    rng = np.random.default_rng(0)
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        if r["status"] == "ok" and r["metric"] in LATENCY and r["model"] in GUIDELINES:
            groups.setdefault((r["run_id"], r["group_id"], r["metric"]), []).append(r)
    madds = {(r["run_id"], r["case_id"]): r["value"] for r in records
             if r["metric"] == "madds" and r["status"] == "ok"}
    out = []
    for rows in groups.values():
        g = GUIDELINES[rows[0]["model"]]
        base = next((r for r in rows if g.is_baseline(r["params"])), None)
        if base is None:
            continue
        table = paper_ratios(g)
        vrows, outcomes = [], []
        for r in rows:
            if r is base:
                ratio, lo, hi, method, outcome = 1.0, 1.0, 1.0, "", "baseline"
            else:
                ratio, lo, hi, method = _ratio(r, base, samples, rng)
                outcome = _outcome(lo, hi)
                outcomes.append(outcome)
            vrows.append({"row": {k: r["params"][k] for k in g.compare}, "latency_s": r["value"],
                          "images_per_s": r["batch_size"] / r["value"], "batches_per_s": 1 / r["value"],
                          "speed_ratio": 1 / ratio, "speed_ratio_ci": [1 / hi, 1 / lo],
                          "latency_ratio": ratio, "latency_ratio_ci": [lo, hi], "interval": method,
                          "outcome": outcome, "paper_speed_ratio": _paper_for(r["params"], r["tags"], table),
                          "flops_ratio": _div(madds.get((r["run_id"], r["case_id"])),
                                              madds.get((base["run_id"], base["case_id"])))})
        fixed = {k: v for k, v in base["params"].items() if k not in g.compare}
        out.append(Verdict(g.name, g.claim, _group_verdict(outcomes, g.expect),
                           _scope(base, {**fixed, **base["tags"]}), vrows))
    return out


def resolution_verdicts(df, samples) -> list[Verdict]:
    """Latency exponent vs pixels per model, and where replication (b) overtakes MobileNetV2 (a)."""
    rng = np.random.default_rng(0)
    out = []
    ok = df[(df.status == "ok") & df.metric.isin(LATENCY) & (df.workload == "resolution")]
    if ok.empty:
        return out
    keys = ["run_id", "device", "runner", "threads", "batch_size", "dtype", "metric"]
    for key, grp in ok.groupby(keys, sort=False):
        scope = dict(zip(keys[1:], key[1:]))
        variant = grp["params.variant"] if "params.variant" in grp else None
        fits = []
        for model, mg in grp.assign(label=grp.model + (("_" + variant.fillna("")) if variant is not None else ""))\
                .groupby("label"):
            mg = mg.sort_values("resolution")
            if len(mg) < 2:
                continue
            x, y = np.log(mg.resolution.astype(float) ** 2), np.log(mg.value.astype(float))
            fit = sps.linregress(x, y)
            ci = None
            if len(x) > 2:
                t = sps.t.ppf(0.975, len(x) - 2)
                ci = [fit.slope - t * fit.stderr, fit.slope + t * fit.stderr]
            fits.append({"model": model.rstrip("_"), "exponent": fit.slope, "exponent_ci": ci, "points": len(x)})
        if fits:
            grows = all(f["exponent_ci"] and f["exponent_ci"][0] > 0 for f in fits)
            out.append(Verdict("resolution", "latency grows with pixel count (fitted exponent)",
                               "holds" if grows else "inconclusive",
                               {**scope, "metric": key[-1]}, fits,
                               "exponent 1 = linear in pixels; 95% OLS t-interval (none from 2 resolutions)"))
        mb = grp[grp.model == "mobilenet_v2"] if variant is not None else grp.iloc[0:0]
        rows = []
        for res, rg in mb.groupby("resolution"):
            a = rg[rg["params.variant"] == "a"]
            b = rg[rg["params.variant"] == "b"]
            if a.empty or b.empty:
                continue
            ra, rb = a.iloc[0].to_dict(), b.iloc[0].to_dict()
            ratio, lo, hi, method = _ratio(rb, ra, samples, rng)
            rows.append({"resolution": int(res), "latency_a_s": ra["value"], "latency_b_s": rb["value"],
                         "speed_ratio_b_over_a": 1 / ratio, "speed_ratio_ci": [1 / hi, 1 / lo],
                         "outcome": {"slower": "b slower", "faster": "b faster", "same": "same"}[_outcome(lo, hi)],
                         "interval": method})
        if rows:
            faster = [r["resolution"] for r in rows if r["outcome"] == "b faster"]
            small, large = rows[0], rows[-1]
            if large["outcome"] == "b faster" and small["outcome"] != "b faster":
                verdict = "holds"
            elif large["outcome"] == "b slower" or (small["outcome"] == "b faster" and len(rows) > 1):
                verdict = "violated"
            else:
                verdict = "inconclusive"
            out.append(Verdict("replication", "MobileNetV2 replication (b) is faster only at large resolutions",
                               verdict, {**scope, "metric": key[-1]}, rows,
                               f"smallest resolution where (b) is significantly faster: "
                               f"{min(faster) if faster else 'none'}"))
    return out


RHO_CLAIM = 0.9


def _label(row) -> str:
    knobs = ",".join(f"{c[7:]}={row[c]}" for c in row.index if c.startswith("params.") and row[c] == row[c])
    return f"{row['model']}({knobs})@{row['resolution']}"


def spearman_interval(rho: float, n: int) -> tuple[float, float]:
    """95% interval of Spearman's rho by Fisher's z with the Fieller-Hartley-Pearson variance."""
    if n <= 3 or not math.isfinite(rho):
        return (-1.0, 1.0)
    z, se = math.atanh(min(max(rho, -0.9999), 0.9999)), math.sqrt(1.06 / (n - 3))
    return (math.tanh(z - 1.96 * se), math.tanh(z + 1.96 * se))


def flops_verdicts(df) -> list[Verdict]:
    """Spearman rank correlation of counted multiply-adds with measured latency, per scope."""
    out = []
    for workload in ("architectures", "multipliers"):
        sub = df[(df.workload == workload) & (df.status == "ok")]
        if sub.empty:
            continue
        madds = sub[sub.metric == "madds"].set_index(["run_id", "case_id"]).value
        lat = sub[sub.metric.isin(LATENCY)]
        keys = ["run_id", "device", "runner", "threads", "batch_size", "dtype", "metric"]
        for key, grp in lat.groupby(keys, sort=False):
            m = madds.reindex(list(zip(grp.run_id, grp.case_id))).to_numpy()
            if len(grp) < 3 or np.isnan(m).any():
                continue
            rho, p = sps.spearmanr(m, grp.value.to_numpy())
            lo, hi = spearman_interval(rho, len(grp))
            verdict = "holds" if lo >= RHO_CLAIM else "violated" if hi < RHO_CLAIM else "inconclusive"
            rows = [{"case": _label(r), "madds": float(mm), "latency_s": r["value"]}
                    for (_, r), mm in zip(grp.iterrows(), m)]
            claim = f"multiply-adds rank the models by latency (Spearman rho >= {RHO_CLAIM})"
            out.append(Verdict("flops_vs_latency", claim,
                               verdict, {**dict(zip(keys[1:], key[1:])), "workload": workload},
                               sorted(rows, key=lambda r: r["madds"]),
                               f"Spearman rho = {rho:.3f}, 95% interval [{lo:.2f}, {hi:.2f}] "
                               f"(Fisher z; p = {p:.2g} against rho = 0; n = {len(grp)})"))
    return out


def compute(records: list[dict], samples: dict) -> list[Verdict]:
    from .records import to_frame

    if not records:
        return []
    df = to_frame(records)
    verdicts = guideline_verdicts(records, samples) + resolution_verdicts(df, samples) + flops_verdicts(df)
    return _emulated_inconclusive(verdicts, records)


def _emulated_inconclusive(verdicts: list[Verdict], records: list[dict]) -> list[Verdict]:
    """Timings from an emulator prove that a path runs, not how fast hardware is: never holds/violated."""
    emulated = {(r["device"], r["runner"]) for r in records if r.get("source") == "emulated"}
    for v in verdicts:
        if (v.scope.get("device"), v.scope.get("runner")) in emulated:
            would = f" (the numbers alone would say {v.verdict})" if v.verdict != "inconclusive" else ""
            v.note = (f"inconclusive because the timings are emulated{would}; an emulator proves the path, "
                      "not the speed. " + v.note).strip()
            v.verdict = "inconclusive"
    return verdicts


def for_runs(*paths) -> list[Verdict]:
    from .records import read_jsonl, read_records, run_dirs

    records, samples = [], {}
    for d in run_dirs(*paths):
        records += read_records(d)
        for s in read_jsonl(d / "samples.jsonl"):
            samples[(s.get("run_id"), s["case_id"], s["metric"])] = s["samples"]
    return compute(records, samples)


def format_verdicts(verdicts: list[Verdict]) -> str:
    """Human-readable verdict lines: one header per verdict, one line per row."""
    lines = []
    for v in verdicts:
        s = v.scope
        where = ", ".join(f"{k}={val}" for k, val in s.items() if k not in ("device", "dtype"))
        lines.append(f"{v.study} [{v.verdict.upper()}] {v.claim} — {s.get('device')}: {where}")
        for r in v.rows:
            if v.study.startswith("G"):
                label = ",".join(f"{k}={val}" for k, val in r["row"].items())
                lo, hi = r["speed_ratio_ci"]
                paper = " ".join(f"{p}={x:.2f}" for p, x in r["paper_speed_ratio"].items()) or "-"
                flops = f"flops x{r['flops_ratio']:.3f}" if r.get("flops_ratio") else ""
                lines.append(f"    {label:32s} {r['images_per_s']:9.1f} img/s  speed x{r['speed_ratio']:.3f} "
                             f"[{lo:.3f}, {hi:.3f}] {r['outcome']:8s} paper: {paper:14s} {flops}")
            elif v.study == "resolution":
                ci = "[{:.2f}, {:.2f}]".format(*r["exponent_ci"]) if r["exponent_ci"] else "(no interval)"
                lines.append(f"    {r['model']:24s} latency ~ pixels^{r['exponent']:.2f} {ci}")
            elif v.study == "flops_vs_latency":
                lines.append(f"    {r['case']:32s} {r['madds'] / 1e6:9.1f} M madds  {r['latency_s'] * 1e3:9.3f} ms")
            elif v.study == "replication":
                lo, hi = r["speed_ratio_ci"]
                lines.append(f"    {r['resolution']:4d}px  b/a speed x{r['speed_ratio_b_over_a']:.3f} "
                             f"[{lo:.3f}, {hi:.3f}] {r['outcome']}")
        if v.note:
            lines.append(f"    {v.note}")
    return "\n".join(lines)


VERDICTS_FILE = "verdicts.json"


def save(verdicts: list[Verdict], run_dir) -> None:
    from pathlib import Path

    (Path(run_dir) / VERDICTS_FILE).write_text(json.dumps([v.to_dict() for v in verdicts], indent=2, default=str))
