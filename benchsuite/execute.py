"""One `benchsuite run`: expand the sweep, measure group by group, write records as they come."""
from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import __version__, verdicts
from . import protocol
from .ceilings import gemm_cases
from .errors import BenchsuiteError
from .metrics import TIMING_METRICS
from .placement import Placement
from .progress import Progress
from .pooling import pool_case
from .records import SCHEMA_VERSION, append_jsonl, error_records
from .remote import check_device
from .runners import get_runner
from .spec import DeviceSpec, WorkloadSpec
from .store import HISTORY_FILE, History, RunFolder, new_run_id
from .supervisor import WorkerFailed, run_group, run_job
from .sweep import expand, groups


REPLICATES_FILE = "replicates.jsonl"
ONE_PROCESS = "one process: the interval covers within-process noise only (--processes N for run-to-run)"


@dataclass
class RunOutcome:
    folder: RunFolder
    status: str                      # complete / interrupted
    statuses: Counter = field(default_factory=Counter)
    verdicts: list = field(default_factory=list)


def execute(device: DeviceSpec, workload: WorkloadSpec, *, runners=None, quick: bool = False,
            filter_glob: str | None = None, results: Path = Path("results"), history: Path | None = None,
            argv=None, progress: Progress | None = None, ceilings: bool = True,
            extra_metrics: tuple[str, ...] = (), processes: int | None = None,
            margin: float | None = None) -> RunOutcome:
    for r in runners or ():
        get_runner(r)  # unknown names fail before anything is written
    check_device(device)
    cases = expand(workload, device, runners=runners, quick=quick, filter_glob=filter_glob)
    cases = [replace(c, metrics=c.metrics + tuple(m for m in extra_metrics if m not in c.metrics)) for c in cases]
    if not cases:
        raise BenchsuiteError(f"no cases to run: workload '{workload.name}' on device '{device.name}'"
                              + (f" with filter '{filter_glob}'" if filter_glob else "") + " expands to nothing")
    progress = progress or Progress(enabled=False)
    timing = device.timing_for(quick)
    processes = processes or timing.processes
    margin = workload.margin if margin is None else margin
    # where each runner's workers go, and the device's own environment: an unreachable board or an
    # incompatible benchsuite there stops the run here, before a run folder exists
    place = Placement(device, {c.runner for c in cases}, timing.prepare_timeout_s, progress.detail)
    run_id = new_run_id(device.name, workload.name)
    meta = {"schema_version": SCHEMA_VERSION, "benchsuite_version": __version__, "run_id": run_id,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "finished": None, "status": "running",
            "device": device.name, "workload": workload.name, "quick": quick, "filter": filter_glob,
            "studies": list(workload.studies), "reference": workload.reference, "emulated": device.emulated,
            "processes": processes, "margin": margin,
            "runners": list(runners or device.runners), "argv": list(argv if argv is not None else sys.argv),
            "n_cases": len(cases), "environment": place.device_environment,
            "transport": place.board.where(),
            "device_file": {"path": device.source, "text": device.text},
            "workload_file": {"path": workload.source, "text": workload.text},
            "timing": vars(timing)}
    if not place.board.on_this_host:
        meta["host_environment"] = place.host_environment()
    folder = RunFolder.create(results, run_id, meta)
    outcome = RunOutcome(folder, "running")
    log_path = str(folder.path / "worker.log")

    def emit_plain(records):
        for r in records:
            r["run_id"] = run_id
            outcome.statuses[r["status"]] += 1
        append_jsonl(folder.records_path, records)

    def emit(case, records, samples):
        for r in samples:
            r["run_id"] = run_id
        for r in records:  # measured in one process: say what its interval cannot cover
            if r["metric"] in TIMING_METRICS and r["status"] == "ok":
                r["processes"] = 1
                r["message"] = f"{r['message']}; {ONE_PROCESS}" if r["message"] else ONE_PROCESS
        emit_plain(records)
        append_jsonl(folder.samples_path, samples)
        progress.case_done(case.label, Counter(r["status"] for r in records))

    if ceilings:
        cases += gemm_cases([c for c in cases if get_runner(c.runner).measures_hardware])
    progress.start(len(cases) * processes)
    # with several processes each case's results are kept per process (replicates.jsonl, as they come)
    # and pooled into records.jsonl once every round is done, or when the run is interrupted
    rounds: dict[str, list] = {}

    def keep(case, records, samples):
        rounds.setdefault(case.case_id, []).append((records, samples))
        append_jsonl(folder.path / REPLICATES_FILE, [{"process": len(rounds[case.case_id]), "case_id": case.case_id,
                                                      "records": records, "samples": samples}])
        progress.case_done(f"{case.label} (process {len(rounds[case.case_id])}/{processes})",
                           Counter(r["status"] for r in records))

    t_start = time.monotonic()
    try:
        if ceilings and any(get_runner(r).measures_hardware for r in {c.runner for c in cases}) \
                and place.device_reachable:
            job = protocol.bandwidth_job(device, quick, sorted({c.threads for c in cases}), workload.name)
            try:  # on the device, like every measurement
                run_job(place.board, job, lambda m: emit_plain(m.get("records", [])), progress.detail,
                        timing.prepare_timeout_s, log_path)
            except WorkerFailed as e:
                progress.detail(f"memory bandwidth ceiling failed: {e}")
        for _ in range(processes):  # rounds over the whole sweep: drift reaches every row alike
            for group in groups(cases):
                transport, why = place.for_runner(group[0].runner)
                if transport is None:
                    for case in group:
                        if case.case_id not in rounds:
                            emit(case, error_records(case, f"runner {case.runner} unavailable: {why}",
                                                     status="unsupported"), [])
                            rounds[case.case_id] = []
                    continue
                run_group(group, device, quick, emit if processes == 1 else keep, progress.detail,
                          log_path=log_path, transport=transport)
        outcome.status = "complete"
    except KeyboardInterrupt:
        outcome.status = "interrupted"
    finally:
        for case_id, per_process in rounds.items():
            if per_process:
                records, samples = pool_case(per_process)
                for r in samples:
                    r["run_id"] = run_id
                emit_plain(records)
                append_jsonl(folder.samples_path, samples)
        meta.update(finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), duration_s=round(time.monotonic() - t_start, 1),
                    status=outcome.status if outcome.status != "running" else "failed",
                    statuses=dict(outcome.statuses))
        folder.write_meta(meta)
        History(history or Path(results) / HISTORY_FILE).add_run(folder)
    outcome.verdicts = verdicts.for_runs(folder.path)
    verdicts.save(outcome.verdicts, folder.path)
    return outcome
