"""One `benchsuite run`: expand the sweep, measure group by group, write records as they come."""
from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import __version__, verdicts
from .env import environment
from .errors import BenchsuiteError
from .progress import Progress
from .remote import check_device, is_remote
from .records import SCHEMA_VERSION, append_jsonl, error_records
from .runners import get_runner
from .spec import DeviceSpec, WorkloadSpec
from .store import HISTORY_FILE, History, RunFolder, new_run_id
from .sweep import expand, groups
from .ceilings import bandwidth_records, gemm_cases
from .worker import run_group


@dataclass
class RunOutcome:
    folder: RunFolder
    status: str                      # complete / interrupted
    statuses: Counter = field(default_factory=Counter)
    verdicts: list = field(default_factory=list)


def execute(device: DeviceSpec, workload: WorkloadSpec, *, runners=None, quick: bool = False,
            filter_glob: str | None = None, results: Path = Path("results"), history: Path | None = None,
            argv=None, progress: Progress | None = None, ceilings: bool = True,
            extra_metrics: tuple[str, ...] = ()) -> RunOutcome:
    for r in runners or ():
        get_runner(r)  # unknown names fail before anything is written
    check_device(device)
    cases = expand(workload, device, runners=runners, quick=quick, filter_glob=filter_glob)
    cases = [replace(c, metrics=c.metrics + tuple(m for m in extra_metrics if m not in c.metrics)) for c in cases]
    if not cases:
        raise BenchsuiteError(f"no cases to run: workload '{workload.name}' on device '{device.name}'"
                              + (f" with filter '{filter_glob}'" if filter_glob else "") + " expands to nothing")
    progress = progress or Progress(enabled=False)
    run_id = new_run_id(device.name, workload.name)
    meta = {"schema_version": SCHEMA_VERSION, "benchsuite_version": __version__, "run_id": run_id,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "finished": None, "status": "running",
            "device": device.name, "workload": workload.name, "quick": quick, "filter": filter_glob,
            "runners": list(runners or device.runners), "argv": list(argv if argv is not None else sys.argv),
            "n_cases": len(cases), "environment": environment(),
            "device_file": {"path": device.source, "text": device.text},
            "workload_file": {"path": workload.source, "text": workload.text},
            "timing": vars(device.timing_for(quick))}
    folder = RunFolder.create(results, run_id, meta)
    outcome = RunOutcome(folder, "running")
    available = {r: get_runner(r).availability() for r in {c.runner for c in cases}}

    def emit_plain(records):
        for r in records:
            r["run_id"] = run_id
            outcome.statuses[r["status"]] += 1
        append_jsonl(folder.records_path, records)

    def emit(case, records, samples):
        for r in samples:
            r["run_id"] = run_id
        emit_plain(records)
        append_jsonl(folder.samples_path, samples)
        progress.case_done(case.label, Counter(r["status"] for r in records))

    if ceilings:
        cases += gemm_cases([c for c in cases if get_runner(c.runner).measures_hardware])
    progress.start(len(cases))
    t_start = time.monotonic()
    try:
        if ceilings and any(get_runner(r).measures_hardware for r in {c.runner for c in cases}) \
                and not is_remote(device):
            for threads in sorted({c.threads for c in cases}):
                progress.detail(f"memory bandwidth ceiling, {threads} thread(s)")
                emit_plain(bandwidth_records(device.name, workload.name, threads, device.timing_for(quick)))
        for group in groups(cases):
            ok, why = available[group[0].runner]
            if ok and is_remote(device) and group[0].runner != "tvm":
                ok, why = False, (f"runs on this host only; the {device.kind} board is reached through TVM RPC "
                                  "(runner tvm)")
            if not ok:
                for case in group:
                    emit(case, error_records(case, f"runner {case.runner} unavailable here: {why}",
                                             status="unsupported"), [])
                continue
            run_group(group, device, quick, emit, progress.detail, log_path=str(folder.path / "worker.log"))
        outcome.status = "complete"
    except KeyboardInterrupt:
        outcome.status = "interrupted"
    finally:
        meta.update(finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), duration_s=round(time.monotonic() - t_start, 1),
                    status=outcome.status if outcome.status != "running" else "failed",
                    statuses=dict(outcome.statuses))
        folder.write_meta(meta)
        History(history or Path(results) / HISTORY_FILE).add_run(folder)
    outcome.verdicts = verdicts.for_runs(folder.path)
    verdicts.save(outcome.verdicts, folder.path)
    return outcome
