"""Which comparison group gets the next worker process.

Fixed: every group in `processes` rounds over the whole sweep, so slow drift of the machine reaches every
row alike. Sequential (a profile's `max_processes` above `processes`, see benchsuite/sequential.py): the
same first rounds, then at each declared look the groups whose verdicts are still undecided get processes
up to that look's count, the most undecided first, while the group's and the run's time budgets last.
Processes come in passes over the groups, one process of each group per pass: a pass's groups of one runner
share a worker process (host/worker_pool.py), and no two processes of a group are one.
Whether a group is decided is asked of the verdict engine over the group's records pooled so far, at the
design's confidence; a group stops at the first look where it is decided, at the last look, or when a
budget is spent, and run.json's `sequential.groups` says which. Within a group still open, a timed metric
whose verdicts are all decided is not timed again (a G1 group decided on its forward rows times only the
backward ones in its later processes), nor is a row a verdict says is decided while its group's other rows
are not (`Verdict.open_cases`: G1's 90:180 row decided slower while 22:44 sits near a margin edge: later
processes time 22:44 and the 1:1 baseline only, and leave out a case with nothing left to time). Each
metric's and each row's verdict then stands on the processes that timed it, at the same design
confidence, which is what stopping the whole group at that look would have given it; a row is paired with
its baseline over its own processes, the baseline's first. What stops being timed is never timed again.
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
from ..results.verdicts import open_cases, open_verdicts
from ..sequential import Design
from ..sweep import groups


@dataclass
class GroupState:
    cases: list
    processes: int = 0
    seconds: float = 0.0
    stopped: str = ""  # decided / last look / group budget / run budget / deadline / nothing left to time
    timed: Counter = field(default_factory=Counter)  # timed metric -> processes that timed it
    dropped: set = field(default_factory=set)  # (case_id, metric) no longer timed: never timed again

    @property
    def group_id(self) -> str:
        return self.cases[0].group_id


@dataclass
class Pending:
    """What is still undecided in a group: how many verdicts, and which cases' timing of each metric could
    still decide them (metric -> case ids; None: every case)."""
    verdicts: int = 0
    cases: dict = field(default_factory=dict)


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
    new_pass: object = lambda: None  # told when a pass over the groups begins: a group's processes are never one

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

    def _one(self, state: GroupState, pending: Pending | None = None) -> None:
        """One more process of the group; with `pending`, it times only what could still decide the group's
        open verdicts, and leaves out cases left with nothing to time."""
        cases = state.cases
        if pending is not None:
            cases = [_timing_only(c, pending, state.dropped) for c in state.cases]
            cases = [c for c in cases if any(m in TIMING_METRICS for m in c.metrics)
                     or not self.recorder.settled(c.case_id)]
            if not any(m in TIMING_METRICS for c in cases for m in c.metrics):
                state.stopped = "nothing left to time"  # what is open was left out before: never timed again
                return
            self.grow(len(cases) - len(state.cases))  # the look planned a process of every case
        t0 = time.monotonic()
        self.run_one(cases)
        state.processes += 1
        state.seconds += time.monotonic() - t0
        state.timed.update({m for c in cases for m in c.metrics if m in TIMING_METRICS})

    def run(self) -> None:
        for _ in range(self.processes):  # rounds over the whole sweep: drift reaches every row alike
            self.new_pass()
            for state in self.states:
                if not state.stopped and not self._past_deadline(state):
                    self._one(state)
        if self.design is None:
            return
        pending = {id(s): self._undecided(s) for s in self.states}  # undecided verdicts of each group
        for look in self.design.looks:
            open_groups = [s for s in self.states if pending[id(s)].verdicts and not s.stopped]
            if look <= self.processes:
                continue
            self.grow(sum(len(s.cases) * (look - s.processes) for s in open_groups))
            open_groups.sort(key=lambda s: -pending[id(s)].verdicts)  # most undecided first
            while going := [s for s in open_groups if s.processes < look and not s.stopped]:
                self.new_pass()  # one more process of each group still short of the look
                for state in going:
                    if self._past_deadline(state):
                        continue
                    if time.monotonic() - self.started >= self.run_budget_s:
                        state.stopped = "run budget"
                    elif state.seconds / state.processes * (state.processes + 1) > self.group_budget_s:
                        state.stopped = "group budget"
                    else:
                        self._one(state, pending[id(state)])
            for state in open_groups:
                if state.processes < look:
                    self.grow(-len(state.cases) * (look - state.processes))
                if not state.stopped:
                    pending[id(state)] = self._undecided(state)
        for state in self.states:
            if not state.stopped:
                state.stopped = "last look" if pending[id(state)].verdicts else "decided"

    def _undecided(self, state: GroupState) -> Pending:
        """The group's verdicts still inconclusive on their numbers (pooled over its processes so far), and
        the cases that could still decide them."""
        records, samples = [], {}
        for case in state.cases:
            per_process = self.recorder.rounds.get(case.case_id) or []
            if per_process:
                recs, samps = pool_case(per_process)
                records += recs
                # records kept per process are not stamped with the run id yet: their key has ""
                samples.update({SampleKey("", s["case_id"], s["metric"]): s["process_samples"] for s in samps})
        if not records:
            return Pending()
        verdicts = open_verdicts(records, samples, self.workload)
        return Pending(len(verdicts), open_cases(verdicts))

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


def _timing_only(case, pending: Pending, dropped: set):
    """The case timing only what could still decide the group's open verdicts: a metric some open verdict
    is over, where that verdict names this case among its open cases (or names none); every timed metric
    while an open verdict is over a metric that is not timed, or over no single metric. Its other metrics
    stay. What is left out once is added to `dropped` and never timed again, so that a row's processes
    stay the first of its baseline's (the pairing of studies.base.same_processes)."""
    every = any(m not in TIMING_METRICS for m in pending.cases)
    wanted = lambda m: every or (m in pending.cases and (pending.cases[m] is None  # noqa: E731
                                                         or case.case_id in pending.cases[m]))
    keep = tuple(m for m in case.metrics
                 if m not in TIMING_METRICS or (wanted(m) and (case.case_id, m) not in dropped))
    dropped |= {(case.case_id, m) for m in case.metrics if m in TIMING_METRICS and m not in keep}
    return replace(case, metrics=keep)
