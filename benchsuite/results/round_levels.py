"""A case's level in a run with the machine's round-by-round state taken out of its place in its group.

In each worker process the series of one comparison group are sampled round-robin (measure.py): sample i of
every series was taken in round i, within milliseconds of the others' sample i. Whatever the machine did in
that round (a neighbour's burst, a frequency step) moved every series of the round alike. A case's median
over the process keeps that state as it happened to fall on its own samples, and on a shared machine the
case's median then moves between runs by several per cent against its group's (session 10 measured the
ratio of two rows' process medians at a between-process sd of 3.1-5.5% where their round-by-round ratio
moved 0.7-2.2%). Judged against the history of such medians, a case must change by far more than that to
stand out.

Here a case's level is split in two:

- the group's level: the mean log median of the group's cases (every sample counts, as before);
- the case's place in its group: in each process, the median over the rounds that every case of the group
  took part in of its log sample less the round's mean log sample over the group's cases; the mean over
  the processes that timed every case of the group (a sequential run's first processes).

Their sum is the case's level. Over a group the places sum to about zero, so the group's level and a run's
shift (results/run_shift.py) stand where the medians put them; what changes is a case's residual beyond
both, which now moves with the round-by-round noise of its place instead of with its median's. A case in a
group of one (for its metric), or without its samples, keeps its median.
"""
from __future__ import annotations

import math

import numpy as np

from ..replicates import processes
from .run import sample_key


def case_levels(records: list[dict], samples: dict) -> tuple[dict[tuple[str, str], float], set]:
    """((case_id, metric) -> the case's level in this run (seconds): its group's level times its round-by-round
    place in the group, or its median where it has no group of two or more cases with samples; the keys
    placed round by round). `records`: the run's ok timing records; `samples`: the run's samples by
    SampleKey."""
    value = {(r["case_id"], r["metric"]): r["value"] for r in records}
    levels = dict(value)
    placed = process_places(records, samples)
    for key, (members, per_process) in placed.items():
        level = float(np.mean([math.log(value[m]) for m in members]))  # the group's: its cases' medians
        levels[key] = math.exp(level + float(np.mean(per_process)))
    return levels, set(placed)


def process_places(records: list[dict], samples: dict) -> dict[tuple[str, str], tuple[frozenset, list[float]]]:
    """(case_id, metric) -> (the keys of its group, its place in each process that timed the whole group),
    for the cases of groups of two or more with samples: what compare tests a case's change against its
    group on, process by process (the process is the replicate)."""
    out = {}
    for group in _groups(records, samples):
        places = _places(group)
        members = frozenset(key for key, _ in group)
        for key, per_process in (places or {}).items():
            out[key] = (members, per_process)
    return out


def _groups(records: list[dict], samples: dict) -> list[list[tuple]]:
    """The comparison groups (per metric) of two or more cases with samples: [(key, per-process samples)]."""
    members: dict[tuple, list] = {}
    for r in records:
        per_process = processes(samples.get(sample_key(r)))
        if r.get("group_id") and per_process:
            members.setdefault((r["group_id"], r["metric"]), []).append(((r["case_id"], r["metric"]), per_process))
    return [group for group in members.values() if len(group) >= 2]


def _places(group: list[tuple]) -> dict | None:
    """Each case's median log sample less the round's mean over the group, per process that timed every case
    of the group; None when no process did."""
    shared = min(len(per_process) for _, per_process in group)  # a row stopped early has the baseline's first
    if not shared:
        return None
    per_case: dict = {key: [] for key, _ in group}
    for p in range(shared):
        rounds = min(len(per_process[p]) for _, per_process in group)
        logs = np.log(np.stack([per_process[p][:rounds] for _, per_process in group]))  # cases x rounds
        centred = logs - logs.mean(axis=0)
        for (key, _), row in zip(group, centred):
            per_case[key].append(float(np.median(row)))
    return per_case
