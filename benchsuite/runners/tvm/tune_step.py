"""TVM's tuning step (`benchsuite tune`): MetaSchedule tuning before the runs that use it.

The workload's TVM cases are exported and lowered exactly as a run does, their kernels (tasks) collected
and deduplicated across cases, and each target's tasks tuned with a budget per task into that target's
database. With a time budget the tasks are tuned breadth-first in doubling steps (16, 32, 64, ... trials
per task) so that time running out leaves every task equally tuned. Tuning resumes: a second call gives
each task only the trials it still lacks. Tune alone: candidates measured while other work loads the
machine pick schedules by noise.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ...errors import BenchsuiteError
from ..base import Tuned

FIRST_STEP = 16  # trials per task of a time budget's first breadth-first pass


@dataclass
class TargetTasks:
    """The distinct tasks of one target, and which cases use which (for the convergence estimate)."""
    target: dict
    tvm_target: object
    folder: Path
    threads: int
    tasks: dict = field(default_factory=dict)           # key -> Task
    cases: dict = field(default_factory=dict)           # case label -> [Task] with the case's own weights
    workloads: dict = field(default_factory=dict)       # workload name -> [case label], in the order given


def collect(runner, cases, device, options, build, say: Callable[[str], None]) -> list[TargetTasks]:
    """The TVM cases, built by `build(case) -> (model, input)` and lowered as a run does: their tasks,
    deduplicated per target."""
    import tvm

    from . import tuning as tt

    why = tt.missing_dependency()
    if why:
        raise BenchsuiteError(f"cannot tune: {why}")
    try:
        if device.transport is not None and not runner.reaches_device_itself(options, device):
            raise BenchsuiteError(
                f"device '{device.name}' runs TVM inside a board reached through its [transport]; tuning "
                "measures candidates from this host, so give the profile a [remote] RPC tracker (tvm "
                "option via = \"rpc\") or run benchsuite tune on the board itself")
    except ValueError as e:
        raise BenchsuiteError(str(e)) from None
    targets: dict[str, TargetTasks] = {}
    for i, case in enumerate(cases, 1):
        say(f"[{i}/{len(cases)}] extracting the kernels of {case.label}")
        try:
            target_dict = runner.target(case, options, device)
        except RuntimeError as e:  # a target the runner does not compile for (a GPU profile)
            raise BenchsuiteError(f"cannot tune for device '{device.name}': {e}") from None
        target = tvm.target.Target(target_dict)
        folder = tt.target_folder(options["database_dir"], target_dict)
        entry = targets.setdefault(str(folder), TargetTasks(target_dict, target, folder, case.threads))
        model, x = build(case)
        mod = tt.lowered(tt.relax_module(model, x)[0], target, options["cpu_weight_prepack"])
        tasks = tt.tasks_of(mod, target)
        entry.cases[case.label] = tasks
        entry.workloads.setdefault(case.workload, []).append(case.label)
        for t in tasks:
            entry.tasks.setdefault(t.key, t)
    return list(targets.values())


def steps(trials_per_task: int | None, budget_s: float | None) -> list[int]:
    """Per-task budgets to tune to, in order: one step for a trial count alone; doubling steps from 16
    when a time budget decides (up to the trial count when both are given)."""
    if budget_s is None:
        return [trials_per_task]
    top = trials_per_task or 1 << 20
    out, k = [], FIRST_STEP
    while k < top:
        out.append(k)
        k *= 2
    return out + [top] if trials_per_task else out


class StepProgress:
    """Progress lines of one step (every task to k trials): the task, its trials, its best time, an ETA."""

    def __init__(self, k: int, need: dict[str, int], say: Callable[[str], None]):
        self.k, self.need, self.say = k, need, say
        self.order = {key: n for n, key in enumerate(need, 1)}
        self.todo, self.finished, self.t0 = sum(need.values()), 0, time.monotonic()

    def __call__(self, task, trials: int, best: float | None) -> None:
        so_far = self.finished + trials
        left = (time.monotonic() - self.t0) / max(so_far, 1) * (self.todo - so_far)
        if trials >= self.need[task.key]:
            self.finished += trials
        best_txt = f"{best * 1e3:.4f} ms" if best is not None else "none yet"
        self.say(f"  {self.k} trials/task [{self.order[task.key]}/{len(self.need)}] {task.name}: "
                 f"{self.k - self.need[task.key] + trials}/{self.k} trials, best {best_txt}, "
                 f"ETA this step {int(left // 60)}m{int(left % 60):02d}s")


def tune(runner, cases, device, options, *, build, trials_per_task: int | None = None, budget_s: float | None = None,
         say: Callable[[str], None] = print, plan_only: bool = False) -> Tuned:
    """Tune the kernels of `cases` (TVM cases of one device, options resolved) to the trial count, or
    breadth-first within the time budget; returns what was done, with the summary to print. `runner`: the
    TVM runner (its target and where candidates are measured). `plan_only`: tune nothing; the summary is
    the plan (see `plan`)."""
    from . import tuning as tt

    targets = collect(runner, cases, device, options, build, say)
    if plan_only:
        return Tuned(0, 0.0, False, plan(targets, trials_per_task or int(options["trials"]), budget_s))
    if trials_per_task is None and budget_s is None:
        trials_per_task = int(options["trials"])
    measure_on, export = runner.candidates(options, device)
    start = time.monotonic()
    deadline = start + budget_s if budget_s is not None else None
    given_total, stopped = 0, False
    databases = {}  # each target's database read once per call, not once per step
    for t in targets:
        tasks = list(t.tasks.values())
        per_case = sum(len(c) for c in t.cases.values())
        say(f"target {t.folder.name}: {len(tasks)} distinct tasks in {len(t.cases)} cases "
            f"({per_case} counted case by case)")
    for k in steps(trials_per_task, budget_s):
        for t in targets:
            tasks = list(t.tasks.values())
            need = tt.remaining(tasks, tt.TuningLog(t.folder), k)
            if not need:
                continue
            on_round = StepProgress(k, need, say)

            def out_of_time():
                return deadline is not None and time.monotonic() >= deadline

            if t.folder not in databases:
                databases[t.folder] = tt.all_records(t.folder)
            given = tt.tune(tasks, t.tvm_target, t.folder, k, threads=t.threads, measure_on=measure_on,
                            export=export, on_round=on_round, should_stop=out_of_time,
                            database=databases[t.folder])
            given_total += sum(given.values())
            stopped = out_of_time() and bool(tt.remaining(tasks, tt.TuningLog(t.folder), k))
            if stopped:
                break
        if stopped:
            break
    return Tuned(given_total, time.monotonic() - start, stopped, summary(targets))


def budget_reach(left_at: Callable[[int], int], seconds_per_trial: float, budget_s: float) -> int:
    """The trials per task a time budget's doubling steps reach at a tuning rate: the largest step whose
    trials still left (`left_at(k)`: trials all tasks lack to reach k each) fit the budget; 0 for none."""
    reached = 0
    for k in steps(None, budget_s):
        if left_at(k) * seconds_per_trial > budget_s:
            break
        reached = k
    return reached


def plan(targets: list[TargetTasks], trials_per_task: int, budget_s: float | None) -> str:
    """What tuning these cases would take, tuning nothing: per workload its kernels counted case by case and
    distinct (those an earlier workload of the call shares are tuned once), what the database holds, and
    the time to `trials_per_task` per task (and what a budget reaches) at the rate this target's own
    tuning log measured; an estimate (kernels differ in cost per trial), said so."""
    from . import tuning as tt

    lines = []
    for t in targets:
        log = tt.TuningLog(t.folder)
        lines += [f"target {t.folder.name} (database {t.folder})",
                  f"  {'workload':26s} {'cases':>5s} {'counted':>8s} {'distinct':>8s} {'shared':>7s}"]
        before: set[str] = set()
        per_workload = 0  # distinct kernels summed workload by workload
        for workload, labels in t.workloads.items():
            mine = [task for label in labels for task in t.cases[label]]
            keys = {task.key for task in mine}
            lines.append(f"  {workload:26s} {len(labels):5d} {len(mine):8d} {len(keys):8d} {len(keys & before):7d}")
            before |= keys
            per_workload += len(keys)
        lines.append(f"  together: {len(t.tasks)} distinct kernels ({per_workload} workload by workload)")
        done = sorted(log.done_to(k) for k in t.tasks)
        lines.append(f"  in the database: {sum(d >= trials_per_task for d in done)} of {len(done)} kernels at "
                     f">= {trials_per_task} trials, {sum(d == 0 for d in done)} never tuned")

        def left_at(k: int) -> int:
            return sum(max(0, k - log.done_to(key)) for key in t.tasks)

        rate = log.seconds_per_trial()
        if rate is None:
            lines.append(f"  to {trials_per_task} trials per kernel: {left_at(trials_per_task)} trials; no tuning "
                         "logged for this target yet to time them (a short tune, e.g. --budget 5m, measures it)")
            continue
        spt, basis = rate
        lines.append(f"  to {trials_per_task} trials per kernel: {left_at(trials_per_task)} trials, estimated "
                     f"{left_at(trials_per_task) * spt / 60:.0f} min at this target's measured "
                     f"{60 / spt:.0f} trials/min (its tuning log, {basis} trials; kernels differ in cost per trial)")
        if budget_s is not None:
            k = budget_reach(left_at, spt, budget_s)
            lines.append(f"  a {budget_s / 60:.0f} min budget reaches ~{k} trials per kernel" if k else
                         f"  a {budget_s / 60:.0f} min budget does not finish the first step ({FIRST_STEP} "
                         "trials per kernel) at that rate")
    return "\n".join(lines)


def summary(targets: list[TargetTasks]) -> str:
    """Per target: each task's trials and best time; per case: estimated forward time by trials per task."""
    from . import tuning as tt

    lines = []
    for t in targets:
        log = tt.TuningLog(t.folder)
        lines.append(f"database {t.folder} (id {tt.database_id(t.folder)})")
        for task in t.tasks.values():
            best = log.best_within(task.key, 1 << 30)
            best_txt = f"{best * 1e3:9.4f} ms" if best is not None else "     none"
            lines.append(f"  {task.name:28s} {log.done_to(task.key):5d} trials  best {best_txt}")
        lines.append("  estimated forward (sum of best kernel times x counts) by trials per task:")
        for label, tasks in t.cases.items():
            curve = tt.convergence(tasks, t.folder)
            pts = "  ".join(f"{n}: {s * 1e3:.3f} ms" for n, s in curve) or "not tuned"
            lines.append(f"    {label}: {pts}")
    return "\n".join(lines)
