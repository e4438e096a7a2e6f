"""The host's writer of one run's results: every record and sample that arrives goes through it.

It stamps the run id, appends (fsynced) to the run folder as each case finishes, counts statuses, says
what an interval of one process cannot cover, and with several processes keeps each process's results
(replicates.jsonl, as they come) and pools them into one record per case and metric at the end."""
from __future__ import annotations

from collections import Counter

from ..metrics import TIMING_METRICS
from ..records import append_jsonl, error_records
from ..results.pooling import pool_case
from ..results.run import RunFolder

ONE_PROCESS = "one process: the interval covers within-process noise only (--processes N for run-to-run)"


class Recorder:
    def __init__(self, folder: RunFolder, run_id: str, processes: int, progress, most: int | None = None):
        self.folder, self.run_id, self.processes, self.progress = folder, run_id, processes, progress
        self.most = most or processes  # the most processes a group may get (a sequential design's last look)
        self.statuses: Counter = Counter()
        self.rounds: dict[str, list] = {}   # case_id -> (records, samples) of each process, N > 1
        self.reported: set[str] = set()     # cases already recorded unsupported (a runner unavailable)

    def _stamp(self, rows: list[dict]) -> list[dict]:
        return [{**r, "run_id": self.run_id} for r in rows]

    def plain(self, records: list[dict]) -> None:
        """Records written as they are (device ceilings, pooled records)."""
        records = self._stamp(records)
        self.statuses.update(r["status"] for r in records)
        append_jsonl(self.folder.records_path, records)

    def _write(self, records: list[dict], samples: list[dict]) -> None:
        self.plain(records)
        append_jsonl(self.folder.samples_path, self._stamp(samples))

    def measured(self, case, records: list[dict], samples: list[dict]) -> None:
        """A case's results from one worker process."""
        done = Counter(r["status"] for r in records)
        if self.processes == 1:  # its timing intervals cover this process only: said in the record
            records = [{**r, "processes": 1, "message": f"{r['message']}; {ONE_PROCESS}" if r["message"]
                        else ONE_PROCESS} if r["metric"] in TIMING_METRICS and r["status"] == "ok" else r
                       for r in records]
            self._write(records, samples)
            self.progress.case_done(case.label, done)
            return
        kept = self.rounds.setdefault(case.case_id, [])
        kept.append((records, samples))
        append_jsonl(self.folder.replicates_path, [{"process": len(kept), "case_id": case.case_id,
                                                    "records": records, "samples": samples}])
        self.progress.case_done(f"{case.label} (process {len(kept)}/{self.most})", done)

    def settled(self, case_id: str) -> bool:
        """Whether an earlier process gave this case its once-per-run records (counts, probes, one-off
        costs: pooling keeps the first process's), so that a later one need only time it."""
        return any(r["status"] != "error" and r["metric"] not in TIMING_METRICS
                   for records, _ in self.rounds.get(case_id, ()) for r in records)

    def unsupported(self, cases, why: str) -> None:
        """Cases whose runner cannot run here: unsupported records, once per case however many rounds."""
        for case in cases:
            if case.case_id not in self.reported:
                self.reported.add(case.case_id)
                self._write(error_records(case, why, status="unsupported"), [])
                self.progress.case_done(case.label, Counter({"unsupported": len(case.metrics)}))

    def skipped(self, cases, why: str) -> None:
        """Cases the run chose not to measure (its budget was spent): skipped records saying why."""
        for case in cases:
            self._write(error_records(case, why, status="skipped"), [])
            self.progress.case_done(case.label, Counter({"skipped": len(case.metrics)}))

    def finish(self) -> None:
        """Pool each case measured in several processes into its records (also after an interruption)."""
        for per_process in self.rounds.values():
            if per_process:
                self._write(*pool_case(per_process))
        self.rounds.clear()
