"""The study interface, the Verdict it produces, and the statistics studies share.

A study checks one published claim against the records of the runs whose workload names it
(`studies = ["g1"]` in the workload TOML). Each study is its own module, registered under the
`benchsuite.studies` entry points; the verdict engine (verdicts.py), the text output and the report
ask the study, and nothing else knows study, workload or model names.
"""
from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import resources

from .. import replicates
from ..replicates import CONFIDENCE, MARGIN

LATENCY = ("latency_forward", "latency_backward")


@dataclass(frozen=True)
class Verdict:
    label: str                 # the claim's label: G1..G4, resolution, replication, flops_vs_latency
    claim: str
    verdict: str               # holds / violated / inconclusive
    scope: dict                # what the verdict is about: device, runner, threads, metric, group knobs
    rows: list[dict] = field(default_factory=list)
    note: str = ""
    study: str = ""            # the registered study that made it (it formats its rows)
    margin: float | None = None  # the practical-equivalence margin its row outcomes used
    # of an inconclusive verdict: the cases whose further measurement could still decide it (its baseline and
    # its open rows); None: every case it judged (a study that does not say)
    open_cases: list[str] | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class WorkloadInfo:
    """What a study knows of the workload it judges (from the run's metadata, RunMeta)."""
    name: str
    reference: str | None = None  # the workload's `reference` table of published numbers, if any
    margin: float = MARGIN        # ratios within x(1 + margin) either way are practically the same
    confidence: float = CONFIDENCE  # of the ratio intervals (a sequential run spends alpha over its looks)
    # a measured forward-latency record -> its kernel-sum prediction and guideline costs (latency_model.Explainer),
    # given by the caller that knows where the runs lie; None: nothing to predict with
    explain_latency: Callable[[dict], dict] | None = None


class Study:
    """Subclasses set `name` (what workloads write), `title` (the report's section), `order` (where the
    section goes) and implement `verdicts`; `format_row` and `figures` have plain defaults."""

    name = "base"
    title = ""
    order = 100

    def verdicts(self, records: list[dict], samples: dict, workload: WorkloadInfo) -> list[Verdict]:
        raise NotImplementedError(f"study {self.name} must say how it judges records")

    def format_row(self, verdict: Verdict, row: dict) -> str:
        return ", ".join(f"{k}={v}" for k, v in row.items())

    def headline(self, verdict: Verdict) -> tuple[str, str]:
        """(the verdict's key number with its interval, the paper's figure for it) for the report's matrix."""
        return "", ""

    def figures(self, df, verdicts: list[Verdict]) -> list[tuple[dict | None, str]]:
        """(Vega-Lite spec or None, alt text) pairs for the report's section (benchsuite.figures)."""
        return []


SCOPE_KEYS = ("device", "runner", "threads", "batch_size", "dtype", "resolution", "metric")


def scope_of(r: dict, *, without: tuple[str, ...] = (), **extra) -> dict:
    """What a verdict over records like `r` is about: where and how they ran (SCOPE_KEYS, less `without`),
    then the study's own keys (`extra` replaces a key's value in its place)."""
    return {**{k: r[k] for k in SCOPE_KEYS if k not in without}, **extra}


def reference_rows(name: str) -> list[dict]:
    text = resources.files("benchsuite.data").joinpath(name).read_text()
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


def same_processes(row: dict, base: dict) -> bool:
    """Were two records' rows measured interleaved in the same worker processes (one run, one group)? Their
    per-process sample lists are then taken as aligned by position over the first processes of each (a row
    a sequential run stopped timing has the baseline's first processes); were a process lost for one row,
    the positions after it would pair different processes, which the record cannot show: the pair's
    ratio then carries the between-process noise that pairing cancels, so its interval is wider, not
    biased."""
    return bool(row.get("group_id")) and (row["run_id"], row["group_id"]) == (base["run_id"], base.get("group_id"))


def sample_ratio(row: dict, base: dict, samples, rng, conf: float = CONFIDENCE) -> tuple[float, float, float, str]:
    """Latency ratio row / base and its interval (95% unless said) from the raw samples (replicates.py):
    round by round where both rows were interleaved in the same processes, else the hierarchical bootstrap."""
    sa = samples.get((row["run_id"], row["case_id"], row["metric"]))
    sb = samples.get((base["run_id"], base["case_id"], base["metric"]))
    if sa and sb:
        ka, kb = len(replicates.processes(sa)), len(replicates.processes(sb))
        # rows of one group are paired over the processes both took part in: a sequential run stops timing a
        # row once it is decided, while its baseline goes on, so the row's processes are the baseline's first
        paired = same_processes(row, base)
        k = min(ka, kb)
        if paired:
            how = (f"paired round by round in each of {k} processes, t interval over processes" if k > 1 else
                   "paired round by round within one process (no run-to-run noise)")
        else:
            how = f"bootstrap over {k} processes" if k > 1 else "bootstrap within one process (no run-to-run noise)"
        level = "" if conf == CONFIDENCE else f" at {conf:.2%} (alpha spent over a sequential design's looks)"
        return (*replicates.ratio_interval(sa, sb, rng, conf, rounds=paired), how + level)
    # conservative: the extreme ratios the two medians' CIs allow
    return (row["value"] / base["value"], row["ci_low"] / base["ci_high"], row["ci_high"] / base["ci_low"],
            "ci-bounds")


def div(a, b):
    return a / b if a is not None and b else None


def outcome(lo: float, hi: float, margin: float = MARGIN) -> str:
    """slower / faster (wholly beyond the margin), same (wholly inside it) or unresolved."""
    return replicates.equivalence(lo, hi, margin)


def one_sided_outcome(lo: float, hi: float, margin: float = MARGIN) -> str:
    """outcome, or `slower or same` / `faster or same` where the interval straddles only one margin edge."""
    return replicates.one_sided(lo, hi, margin)
