"""Which comparison group gets the next worker process.

Fixed: every group in `processes` rounds over the whole sweep, so slow drift of the machine reaches every
row alike. Sequential (a profile's `max_processes` above `processes`, see benchsuite/sequential.py): the
same first rounds, then at each declared look the groups whose verdicts are still undecided get processes
up to that look's count, the most undecided first, while the group's and the run's time budgets last.
Whether a group is decided is asked of the verdict engine over the group's records pooled so far, at the
design's confidence; a group stops at the first look where it is decided, at the last look, or when a
budget is spent, and run.json's `sequential.groups` says which. Within a group still open, a timed metric
whose verdicts are all decided is not timed again (a G1 group decided on its forward rows times only the
backward ones in its later processes): each metric's verdicts then stand on the processes that timed it,
at the same design confidence, which is what stopping the whole group at that look would have given them.
A verdict over a metric that is not timed (or over no single metric) keeps every timed metric going.

A deadline (`profile --budget`) bounds the whole run, first rounds included: once it is spent no further
process starts, and a group never measured ends as `skipped` records that say so. Under a deadline the
groups are taken round-robin over their models, so that what a budget leaves measured spreads over every
model (a kernel profile's kinds of kernel) instead of keeping the first models whole.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field, replace

from ..metrics import TIMING_METRICS
from ..results.pooling import pool_case
from ..results.run import SampleKey
from ..results.verdicts import undecided
from ..sequential import Design
from ..sweep import groups


@dataclass
class GroupState:
    cases: list
    processes: int = 0
    seconds: float = 0.0
    stopped: str = ""  # decided / last look / group budget / run budget / deadline
    timed: Counter = field(default_factory=Counter)  # timed metric -> processes that timed it

    @property
    def group_id(self) -> str:
        return self.cases[0].group_id


@dataclass
class Rounds:
    """Runs the groups' worker processes: `run_one(group)` measures one process of a group."""
    cases: list
    processes: int
    run_one: object
    recorder: object
    design: Design | None = None
    workload: dict = field(default_factory=dict)   # name -> {"studies", "reference", "margin", "confidence"}
    group_budget_s: float = float("inf")
    run_budget_s: float = float("inf")
    started: float = field(default_factory=time.monotonic)
    grow: object = lambda n: None  # told how many more case-processes a look plans (or fewer, when a budget ends)
    deadline_s: float = float("inf")  # the whole run's time, first rounds included (None of the above budgets are)

    def __post_init__(self):
        found = groups(self.cases)
        self.states = [GroupState(g) for g in (_round_robin(found) if self.deadline_s < float("inf") else found)]

    def _past_deadline(self, state: GroupState) -> bool:
        """Whether the deadline stops this group now; a group never measured then ends as skipped records."""
        if time.monotonic() - self.started < self.deadline_s:
            return False
        if state.processes == 0:  # its cases count once each, as done
            self.recorder.skipped(state.cases, f"not measured: the run's budget of {self.deadline_s:g} s was spent "
                                               "before this group's turn (a larger --budget measures it)")
            self.grow(-len(state.cases) * (self.processes - 1))
        else:
            self.grow(-len(state.cases) * max(0, self.processes - state.processes))
        state.stopped = "deadline"
        return True

    def _one(self, state: GroupState, still_open: Counter | None = None) -> None:
        """One more process of the group, timing only the metrics `still_open` names (all when None)."""
        cases = state.cases if still_open is None else [_timing_only(c, still_open) for c in state.cases]
        t0 = time.monotonic()
        self.run_one(cases)
        state.processes += 1
        state.seconds += time.monotonic() - t0
        state.timed.update({m for c in cases for m in c.metrics if m in TIMING_METRICS})

    def run(self) -> None:
        for _ in range(self.processes):  # rounds over the whole sweep: drift reaches every row alike
            for state in self.states:
                if not state.stopped and not self._past_deadline(state):
                    self._one(state)
        if self.design is None:
            return
        pending = {id(s): self._undecided(s) for s in self.states}  # undecided verdicts of each group
        for look in self.design.looks:
            open_groups = [s for s in self.states if sum(pending[id(s)].values()) and not s.stopped]
            if look <= self.processes:
                continue
            self.grow(sum(len(s.cases) * (look - s.processes) for s in open_groups))
            for state in sorted(open_groups, key=lambda s: -sum(pending[id(s)].values())):  # most undecided first
                while state.processes < look and not state.stopped:
                    if self._past_deadline(state):
                        break
                    if time.monotonic() - self.started >= self.run_budget_s:
                        state.stopped = "run budget"
                    elif state.seconds / state.processes * (state.processes + 1) > self.group_budget_s:
                        state.stopped = "group budget"
                    else:
                        self._one(state, pending[id(state)])
                if state.processes < look:
                    self.grow(-len(state.cases) * (look - state.processes))
                if not state.stopped:
                    pending[id(state)] = self._undecided(state)
        for state in self.states:
            if not state.stopped:
                state.stopped = "last look" if sum(pending[id(state)].values()) else "decided"

    def _undecided(self, state: GroupState) -> Counter:
        """Verdicts over the group still inconclusive on their numbers (pooled over its processes so far),
        counted by metric."""
        records, samples = [], {}
        for case in state.cases:
            per_process = self.recorder.rounds.get(case.case_id) or []
            if per_process:
                recs, samps = pool_case(per_process)
                records += recs
                # records kept per process are not stamped with the run id yet: their key has ""
                samples.update({SampleKey("", s["case_id"], s["metric"]): s["process_samples"] for s in samps})
        return undecided(records, samples, self.workload) if records else Counter()

    def deadline_summary(self) -> dict:
        """For run.json, under a deadline: the budget and how many groups it left measured and unmeasured."""
        return {"budget_s": self.deadline_s, "groups_measured": sum(s.processes > 0 for s in self.states),
                "groups_skipped": sum(s.processes == 0 for s in self.states)}

    def summary(self) -> dict:
        """For run.json: each group's processes, seconds, why it stopped and how many processes timed each
        of its timed metrics."""
        return {s.group_id: {"processes": s.processes, "seconds": round(s.seconds, 1), "stopped": s.stopped,
                             "timed": dict(sorted(s.timed.items()))}
                for s in self.states}


def _round_robin(found: list[list]) -> list[list]:
    """Groups reordered to take one group of each model in turn (in their order of first appearance)."""
    by_model: dict[str, list] = {}
    for g in found:
        by_model.setdefault(g[0].model, []).append(g)
    queues = list(by_model.values())
    return [q[i] for i in range(max(map(len, queues), default=0)) for q in queues if i < len(q)]


def _timing_only(case, still_open: Counter):
    """The case timing only the metrics whose verdicts are still open (every timed metric when one of those
    verdicts is over a metric that is not timed, or over no single metric); its other metrics stay."""
    if any(m not in TIMING_METRICS for m in still_open):
        return case
    return replace(case, metrics=tuple(m for m in case.metrics if m not in TIMING_METRICS or m in still_open))
