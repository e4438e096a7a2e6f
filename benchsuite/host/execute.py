"""One `benchsuite run`: plan it (validate, expand, place), measure group by group in rounds of worker
processes, and let the Recorder write every record as it comes; then the history and the verdicts."""
from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import __version__, protocol, run_cache
from ..device.ceilings import gemm_cases
from ..errors import BenchsuiteError
from ..latency_model import Explainer
from ..records import SCHEMA_VERSION
from ..results import verdicts
from ..results.run import Run, RunFolder
from ..results.store import HISTORY_FILE, History, new_run_id
from ..runners import get_runner
from ..sequential import Design, design
from ..spec import DeviceSpec, WorkloadSpec
from ..sweep import expand
from .placement import Placement
from .progress import Progress
from .reach import check_device
from .recorder import Recorder
from .rounds import Rounds
from .supervisor import WorkerFailed, run_group, run_job, timing_table
from .time_spent import TimeSpent
from .worker_pool import WorkerPool
from .worker_log import WorkerLog


@dataclass
class RunOutcome:
    folder: RunFolder
    status: str                      # complete / interrupted
    statuses: Counter = field(default_factory=Counter)
    verdicts: list = field(default_factory=list)
    run: Run | None = None           # the finished run as results/ loads it


def plan(device: DeviceSpec, workload: WorkloadSpec, *, runners, quick: bool, filter_glob: str | None,
         extra_metrics: tuple[str, ...]) -> list:
    """The run's cases, refused before anything is written when a runner is unknown, the device cannot be
    reached from here, or nothing is left to run."""
    for r in runners or ():
        get_runner(r)  # unknown names fail before anything is written
    check_device(device, runners or device.runners)
    cases = expand(workload, device, runners=runners, quick=quick, filter_glob=filter_glob)
    cases = [replace(c, metrics=c.metrics + tuple(m for m in extra_metrics if m not in c.metrics)) for c in cases]
    if not cases:
        raise BenchsuiteError(f"no cases to run: workload '{workload.name}' on device '{device.name}'"
                              + (f" with filter '{filter_glob}'" if filter_glob else "") + " expands to nothing")
    return cases


def _design(timing, processes: int) -> Design | None:
    """The sequential design when the profile (or --max-processes) allows more processes than the first
    rounds give, and those are at least two (the process is the unit of replication)."""
    if timing.max_processes <= processes or processes < 2:
        return None
    return design(processes, timing.max_processes)


def _meta(device, workload, place, *, run_id, runners, quick, filter_glob, processes, margin, argv, n_cases,
          timing) -> dict:
    meta = {"schema_version": SCHEMA_VERSION, "benchsuite_version": __version__, "run_id": run_id,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "finished": None, "status": "running",
            "device": device.name, "workload": workload.name, "quick": quick, "filter": filter_glob,
            "studies": list(workload.studies), "reference": workload.reference, "emulated": device.emulated,
            "emulated_because": (place.device_environment.get("emulation") or
                                 ("the device profile says emulated = true" if device.emulated else None)),
            "processes": processes, "margin": margin,
            "runners": list(runners or device.runners), "argv": list(argv if argv is not None else sys.argv),
            "n_cases": n_cases, "environment": place.device_environment,
            "transport": place.board.where(),
            "device_file": {"path": device.source, "text": device.text},
            "workload_file": {"path": workload.source, "text": workload.text},
            "timing": vars(timing)}
    if not place.board.on_this_host:
        meta["host_environment"] = place.host_environment()
    return meta


def execute(device: DeviceSpec, workload: WorkloadSpec, *, runners=None, quick: bool = False,
            filter_glob: str | None = None, results: Path = Path("results"), history: Path | None = None,
            argv=None, progress: Progress | None = None, ceilings: bool = True,
            extra_metrics: tuple[str, ...] = (), processes: int | None = None,
            margin: float | None = None, max_processes: int | None = None,
            budget_s: float | None = None, deadline_s: float | None = None) -> RunOutcome:
    """`budget_s`: the time for a sequential design's further processes; `deadline_s`: the whole run's,
    first rounds included (groups never started end as skipped records; host/rounds.py)."""
    cases = plan(device, workload, runners=runners, quick=quick, filter_glob=filter_glob, extra_metrics=extra_metrics)
    progress = progress or Progress(enabled=False)
    timing = device.timing_for(quick)
    processes = processes or timing.processes
    if max_processes is not None:
        timing = replace(timing, max_processes=max_processes)
    margin = workload.margin if margin is None else margin
    # where each runner's workers go, and the device's own environment: an unreachable board or an
    # incompatible benchsuite there stops the run here, before a run folder exists
    place = Placement(device, timing.prepare_timeout_s, progress.detail)
    # the board says itself whether it is emulated; the profile's flag can add emulation, never remove it
    emulation = place.device_environment.get("emulation")
    if emulation and not device.emulated:
        device = replace(device, emulated=True)
    run_id = new_run_id(device.name, workload.name)
    design = _design(timing, processes)
    meta = _meta(device, workload, place, run_id=run_id, runners=runners, quick=quick, filter_glob=filter_glob,
                 processes=processes, margin=margin, argv=argv, n_cases=len(cases), timing=timing)
    if design:
        meta["sequential"] = design.to_dict()
    folder = RunFolder.create(results, run_id, meta)
    recorder = Recorder(folder, run_id, processes, progress, design.last if design else None)
    outcome = RunOutcome(folder, "running", recorder.statuses)
    log = WorkerLog(folder.path / "worker.log")
    hardware = ceilings and any(get_runner(r).measures_hardware for r in {c.runner for c in cases})
    if ceilings:
        cases += gemm_cases([c for c in cases if get_runner(c.runner).measures_hardware])
    progress.start(len(cases) * processes)
    t_start = time.monotonic()
    spent = TimeSpent()
    pool = WorkerPool(log, spent)

    def run_one(group):
        transport, why = place.for_runner(group[0].runner)
        if transport is None:
            recorder.unsupported(group, f"runner {group[0].runner} unavailable: {why}")
            return
        once = [c.case_id for c in group if not recorder.settled(c.case_id)]
        run_group(group, device, quick, recorder.measured, progress.detail, log=log, transport=transport,
                  run_id=run_id, once=once, spent=spent,
                  pool=pool if get_runner(group[0].runner).shares_workers else None)

    rounds = Rounds(cases, processes, run_one, recorder, design,
                    {workload.name: {"studies": list(workload.studies), "reference": workload.reference,
                                     "margin": margin, "confidence": design.confidence if design else None}},
                    timing.group_budget_s, budget_s or timing.run_budget_s, grow=progress.grow,
                    deadline_s=deadline_s or float("inf"), new_pass=pool.new_pass)
    try:
        if hardware and place.device_reachable:
            job = protocol.bandwidth_job(device, quick, sorted({c.threads for c in cases}), workload.name)
            try:  # on the device, like every measurement
                run_job(place.board, job, lambda m: recorder.plain(m.get("records", [])), progress.detail,
                        timing.prepare_timeout_s, log, table=timing_table(device, quick), spent=spent)
            except WorkerFailed as e:
                progress.detail(f"memory bandwidth ceiling failed: {e}")
        rounds.run()
        outcome.status = "complete"
    except KeyboardInterrupt:
        outcome.status = "interrupted"
    finally:
        pool.new_pass()  # the last pass's workers end
        recorder.finish()
        log.close()
        run_cache.remove(run_id)  # this host's; a board's goes a day later (run_cache.py)
        repeated = log.repeated()
        if repeated:
            meta["environment"] = {**meta["environment"], "repeated_log_lines": repeated}
        if design:
            meta["sequential"]["groups"] = rounds.summary()
        if deadline_s:
            meta["deadline"] = rounds.deadline_summary()
        duration = time.monotonic() - t_start
        meta.update(finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), duration_s=round(duration, 1),
                    time_spent=spent.summary(duration), worker_processes=pool.started,
                    status=outcome.status if outcome.status != "running" else "failed",
                    statuses=dict(recorder.statuses))
        folder.write_meta(meta)
        outcome.run = folder.load()
        History(history or Path(results) / HISTORY_FILE).add_run(outcome.run)
    outcome.verdicts = verdicts.judge([outcome.run], explain_latency=Explainer([outcome.run]))
    verdicts.save(outcome.verdicts, folder)
    return outcome
