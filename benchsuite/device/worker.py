"""The worker: runs where the device is (`python -m benchsuite.device.worker`) and does the jobs it is given.

It reads each job as one JSON line on stdin, the next when one has ended, until the host closes stdin,
and answers in JSON lines on stdout (protocol.py):
for a comparison group it prepares every case (preparation.py), measures all (case, metric) series
interleaved (measure.py) and sends each case's records (assembly.py) as it finishes. The same
program runs on every transport: a child of the host, an emulated board, a board over ssh. The
host's supervisor turns a crash or silence into error records.

It says hello before importing anything heavy (a cold board takes minutes to import torch), and while a
job runs its heartbeat (heartbeat.py) tells the host every few seconds what it is doing and how much work
it has done: a slow device is not taken for a hung one.
"""
from __future__ import annotations

import os
import queue
import signal
import threading
import traceback

from .. import protocol
from .heartbeat import Heartbeat


def _jobs_from_host():
    """The host's job lines, one at a time, from a queue a thread fills; the worker ends when the host goes:
    the kernel kills it when its parent dies (Linux), and the thread ends it when its stdin closes (the
    host has no more jobs for it, the host died, or an ssh/adb connection dropped)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass  # not Linux (or no glibc): the stdin watch below still ends it
    lines: queue.Queue = queue.Queue()

    def watch():  # the raw descriptor: a buffered stdin's lock would abort interpreter shutdown
        pending = b""
        while chunk := os.read(0, 65536):
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                lines.put(line.decode("utf-8", "replace"))
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()
    return lines


def _case_message(case, records: list[dict], samples: list[dict], fingerprint: str, device) -> dict:
    """A finished case: every record stamped with the code's fingerprint and, on an emulator, as emulated."""
    from .assembly import emulated_sources

    stamped = emulated_sources([{**r, "fingerprint": fingerprint} for r in records], device)
    return {"type": "case", "case_id": case.case_id, "records": stamped, "samples": samples}


def _progress(send, beat: Heartbeat, text: str, timeout_s: float | None = None, key: str | None = None,
              case=None, phase: str | None = None) -> None:
    """A new step: the host prints it, and bounds the step by `timeout_s` (the profile's `key`) of no work;
    `case`: the one case the step works on, if it is one case's step; `phase`: what the host counts its time
    as (host/time_spent.py)."""
    beat.step(text, timeout_s)
    msg = {"type": "progress", "text": text}
    if phase is not None:
        msg["phase"] = phase
    if timeout_s is not None:
        msg.update(timeout_s=timeout_s, timeout_key=key)
    if case is not None:
        msg["case_id"] = case.case_id
    send(msg)


def measure_group(cases, device, quick: bool, send, beat: Heartbeat | None = None, once=None) -> None:
    """Prepare, verify and measure one comparison group; send(message) for progress and each case.

    `once`: the case ids whose once-per-run records (analytic counts, probes: pooling takes them from the
    first process that gave them) this process takes; every case when None. The others are timed only."""
    beat = beat or Heartbeat(send)
    once = {c.case_id for c in cases} if once is None else set(once)
    timing = device.timing_for(quick)
    _progress(send, beat, "importing torch and the runners", timing.prepare_timeout_s, "prepare_timeout_s",
              phase="imports")
    import torch

    from ..measure import Series, measure_interleaved
    from ..records import error_records
    from ..runners.base import UnsupportedCase
    from .assembly import case_records, count_records
    from .preparation import OutputMismatch, code_fingerprint, prepare_case

    torch.set_num_threads(cases[0].threads)
    live = []
    for case in cases:
        _progress(send, beat, f"preparing {case.label}", timing.prepare_timeout_s, "prepare_timeout_s", case,
                  phase="preparing cases")
        counts = count_records(case, device) if case.case_id in once else []
        fingerprint = code_fingerprint(case)
        try:
            prepared, records = prepare_case(case, device)
        except UnsupportedCase as e:  # the runner has no path for it: said, not an error
            send(_case_message(case, counts + error_records(case, str(e), status="unsupported"), [], fingerprint,
                               device))
            continue
        except Exception as e:  # noqa: BLE001 - becomes this case's error records
            msg = f"{type(e).__name__}: {e}"
            if not isinstance(e, OutputMismatch):
                where = traceback.extract_tb(e.__traceback__)[-1]
                msg += f" (at {where.filename.rsplit('/', 1)[-1]}:{where.lineno})"
            send(_case_message(case, counts + error_records(case, msg), [], fingerprint, device))
            continue
        series = {m: Series((case.case_id, m), prepared.timed[m]) for m in case.metrics if m in prepared.timed}
        live.append((case, prepared, counts + records, series, fingerprint))

    all_series = [s for *_, series, _ in live for s in series.values()]
    _progress(send, beat, f"measuring {len(all_series)} series interleaved", timing.case_timeout_s, "case_timeout_s",
              phase="timed measurement")

    def round_done(r):
        beat.doing = f"measuring {len(all_series)} series interleaved, round {r + 1}"
        send({"type": "progress", "text": f"round {r}"})

    by_metric: dict[str, list] = {}  # the group's rows per metric: judged against each other round by round
    for *_, series, _ in live:
        for m, s in series.items():
            by_metric.setdefault(m, []).append(s)
    measure_interleaved(all_series, timing, on_round=round_done, tick=beat.tick, together=list(by_metric.values()))

    for case, prepared, records, series, fingerprint in live:
        _progress(send, beat, f"probes for {case.label}", timing.prepare_timeout_s, "prepare_timeout_s", case,
                  phase="probes and records")
        records, samples = case_records(case, prepared, records, series, timing, device,
                                        probes=case.case_id in once)
        send(_case_message(case, records, samples, fingerprint, device))


def _run_job(job: dict, send, beat: Heartbeat) -> None:
    task = job.get("task")
    if task == "environment":
        from ..env import environment

        send({"type": "environment", "environment": environment()})
        return
    device = protocol.device_from_dict(job["device"])
    if task == "group":
        from .. import run_cache

        run_cache.use(job.get("run_id"))
        measure_group([protocol.case_from_dict(c) for c in job["cases"]], device, job["quick"], send, beat,
                      job.get("once"))
    elif task == "bandwidth":
        from .assembly import emulated_sources
        from .ceilings import bandwidth_records

        for threads in job["threads"]:
            _progress(send, beat, f"memory bandwidth ceiling, {threads} thread(s)", phase="device ceilings")
            records = bandwidth_records(device.name, job["workload"], threads, device.timing_for(job["quick"]))
            send({"type": "records", "records": emulated_sources(records, device)})
    else:
        raise ValueError(f"unknown job {task!r}")


def main() -> int:
    """Entry point on the device: jobs from stdin, one after another until the host closes it (the host
    gives a process one group of each pass over the groups, host/worker_pool.py), JSON lines to stdout,
    library chatter to stderr."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the host decides what Ctrl-C does
    out = os.fdopen(os.dup(1), "w", buffering=1)  # the protocol's own stream
    os.dup2(2, 1)  # anything a library prints goes to stderr (the run's worker.log), not into the protocol
    lock = threading.Lock()

    def send(msg: dict) -> None:
        with lock:
            out.write(protocol.dumps(msg) + "\n")
            out.flush()

    send(protocol.hello())
    jobs = _jobs_from_host()  # ends the process when the host closes stdin
    beat = Heartbeat(send).start()
    try:
        while True:
            _run_job(protocol.loads(jobs.get()), send, beat)
            send({"type": "end"})
    except Exception as e:  # noqa: BLE001 - a job the worker cannot do ends with the reason, not a traceback
        traceback.print_exc()
        send({"type": "fatal", "message": f"{type(e).__name__}: {e}"})
        return 1
    finally:
        beat.stop()


if __name__ == "__main__":
    raise SystemExit(main())
