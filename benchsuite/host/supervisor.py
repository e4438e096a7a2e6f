"""The host side of a worker: start it through a transport, send its job, read its JSON lines.

Every wait is bounded: the worker must say hello within the transport's connect timeout, and each
later step's work may not stand still (no message, no heartbeat reporting more work) longer than the
timeout its progress message named. A raise, a crash (signal, out-of-memory kill), a dropped connection
or stalled work becomes `error` records for the unfinished cases; when a group's worker crashed or
stalled, they are re-run one per process so that only the case at fault is lost.
"""
from __future__ import annotations

import queue
import shlex
import signal
import subprocess
import threading
import time
from collections import deque
from typing import Callable

from .. import protocol
from ..errors import BenchsuiteError
from ..records import error_records
from . import time_spent
from .time_spent import TimeSpent
from .worker_log import WorkerLog


class WorkerFailed(Exception):
    """The worker did not finish its job; the message says why, `kind` what kind of end it was:
    "timeout" (no work for too long), "died" (the worker process crashed or exited), "connection" (the
    transport to the device ended), "fatal" (the worker refused the job), "start" (it never said hello)."""

    def __init__(self, message: str, kind: str = "died", case_id: str | None = None):
        super().__init__(message)
        self.kind, self.case_id = kind, case_id  # case_id: the one case whose step it was, if known


class Unreachable(WorkerFailed):
    """The worker never said hello: the device or its benchsuite could not be reached."""

    def __init__(self, message: str):
        super().__init__(message, "start")


class Incompatible(WorkerFailed):
    """The worker's benchsuite or record format differs from the host's."""

    def __init__(self, message: str):
        super().__init__(message, "start")


class _Silence(Exception):
    """No line came in time (internal to the supervisor)."""


def _death(code: int | None, transport) -> tuple[str, str]:
    """(kind, reason) for a worker whose output ended with exit status `code`."""
    who = "worker process" if transport.on_this_host else f"worker on {transport.where()} (or the transport to it)"
    if code is None:
        return "died", f"{who} vanished"
    if code < 0:
        sig = signal.Signals(-code).name
        hint = " (the kernel's out-of-memory killer sends this)" if sig == "SIGKILL" else ""
        return "died", f"{who} died from {sig}{hint}"
    if code == 255 and not transport.on_this_host:
        return "connection", f"the connection to {transport.where()} failed or ended (exit 255)"
    if code == 127:
        return "died", (f"the command that starts the worker was not found on {transport.where()} (exit 127): is "
                        f"python = {transport.python!r} right?")
    return "died", f"{who} exited with code {code} before finishing"


def hint(transport) -> str:
    """What to check, and the whole command to try by hand."""
    return (f"{transport.hint}; try it by hand: {shlex.join(transport.argv())} (it prints a hello line and "
            f"waits for a job; Ctrl-D ends it)")


class WorkerProcess:
    """One worker started through a transport. Use as a context manager; it is killed on exit.

    Its stderr goes to the run's worker log (`log`, a WorkerLog, or nowhere), and its last lines are kept:
    a transport's own words ("Connection refused", "Permission denied") go into the failure's message."""

    def __init__(self, transport, log: WorkerLog | None = None):
        self.transport = transport
        self._log = log
        self.last_words: deque[str] = deque(maxlen=3)  # what a failure message quotes
        self.started = time.monotonic()
        try:
            self.proc = subprocess.Popen(transport.argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE)
        except OSError as e:
            raise Unreachable(f"cannot start the worker on {transport.where()}: {e}; {hint(transport)}") from None
        self._lines: queue.Queue = queue.Queue()
        self._stderr = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr.start()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            text = line.decode("utf-8", "replace").strip()
            if text:
                self.last_words.append(text)
            if self._log is not None:
                self._log.write(line)

    def said(self) -> str:
        """The worker's (or its transport's) last lines on stderr, for a failure message."""
        self._stderr.join(timeout=2)  # the stream ends with the process: let its last lines arrive
        words = [w[:300] for w in self.last_words]
        return f"; it said: {' | '.join(words)}" if words else ""

    def receive(self, timeout_s: float) -> dict:
        """The next message; _Silence if none comes in time, WorkerFailed if the worker ends."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise _Silence() from None
            if line is None:
                try:
                    code = self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    code = None
                kind, why = _death(code, self.transport)
                raise WorkerFailed(why + self.said(), kind)
            try:
                return protocol.loads(line.decode("utf-8", "replace"))
            except ValueError:
                continue  # not ours (a launcher's banner): skip it; the worker log keeps stderr

    def handshake(self, progress: Callable[[str], None] = lambda s: None) -> dict:
        """Wait for the worker's hello within the connect timeout, saying every 15 s that it is still
        connecting; refuse an incompatible worker."""
        t, where = self.transport.connect_timeout_s, self.transport.where()
        while True:
            waited = time.monotonic() - self.started
            try:
                msg = self.receive(min(15.0, max(0.0, t - waited)))
                break
            except _Silence:
                waited = time.monotonic() - self.started
                if waited >= t:
                    raise Unreachable(f"no worker answered on {where} within {t:g} s (connect_timeout_s of the "
                                      f"profile's [transport]){self.said()}; {hint(self.transport)}") from None
                progress(f"still connecting to {where} ({waited:.0f} s of {t:g} s)")
            except WorkerFailed as e:
                took = time.monotonic() - self.started
                took = time.monotonic() - self.started
                raise Unreachable(f"the worker on {where} did not start (after {took:.1f} s): {e}; "
                                  f"{hint(self.transport)}") from None
        if msg.get("type") != "hello":
            raise Unreachable(f"the worker on {where} did not say hello: {msg}")
        why = protocol.incompatibility(msg)
        if why:
            raise Incompatible(f"cannot use the worker on {where}: {why}; install benchsuite "
                               f"{protocol.__version__} there (records of different versions are not comparable)")
        return msg

    def send(self, job: dict) -> None:
        try:
            self.proc.stdin.write((protocol.dumps(job) + "\n").encode())
            self.proc.stdin.flush()
        except OSError as e:
            raise WorkerFailed(f"the worker on {self.transport.where()} went away before its job: {e}",
                               "connection") from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


class _Watch:
    """How long the current step may go without work: the step's `timeout_s` (a profile key) restarts
    whenever a message other than a heartbeat comes, or a heartbeat reports more work done."""

    def __init__(self, timeout_s: float, key: str, doing: str):
        self.timeout_s, self.key, self.doing = timeout_s, key, doing
        self.work: int | None = None
        self.case_id: str | None = None
        self.worked = self.heard = time.monotonic()

    def remaining(self) -> float:
        return max(0.0, self.worked + self.timeout_s - time.monotonic())

    def heartbeat(self, msg: dict) -> None:
        self.heard = time.monotonic()
        work = msg.get("work")
        if work != self.work or msg.get("doing") != self.doing:
            self.worked = self.heard
        self.work, self.doing = work, msg.get("doing") or self.doing

    def step(self, msg: dict) -> None:
        self.worked = self.heard = time.monotonic()
        if msg.get("type") == "progress" and msg.get("timeout_s"):
            self.timeout_s, self.key = msg["timeout_s"], msg.get("timeout_key") or self.key
            self.doing, self.case_id = msg.get("text") or self.doing, msg.get("case_id")

    def expired(self, where: str, table: str) -> WorkerFailed:
        quiet = time.monotonic() - self.heard
        alive = quiet < min(self.timeout_s / 2, 10.0)  # beats come at least five times per timeout, at most 2 s apart
        state = ("its heartbeat kept coming, so the worker is alive but its work stood still" if alive else
                 f"nothing came for {quiet:.0f} s, not even its heartbeat: the worker or the connection is stuck")
        return WorkerFailed(f"timed out: no progress for {self.timeout_s:g} s while {self.doing} on {where} ({state}); "
                            f"if the device is only slow, raise {self.key} in {table}", "timeout", self.case_id)


def timing_table(device, quick: bool) -> str:
    """Where a timing key is set: `[timing_quick] of device profile 'arm' (path)`."""
    where = f" ({device.source})" if getattr(device, "source", None) else ""
    return f"[{'timing_quick' if quick else 'timing'}] of device profile '{device.name}'{where}"


def run_job(transport, job: dict, on_message: Callable[[dict], None], progress: Callable[[str], None],
            timeout_s: float, log: WorkerLog | None = None, *, key: str = "prepare_timeout_s",
            table: str = "the device profile's [timing]", spent: TimeSpent | None = None,
            pool=None, pool_key: tuple = ()) -> None:
    """Run one job to its end; on_message gets every `case`/`records`/`environment` message. Each step may
    go `timeout_s` without work (the worker's progress messages set the next step's bound and its key);
    `spent` hears the phases the worker names (host/time_spent.py). `pool` (host/worker_pool.py): the job
    goes to the pass's worker for `pool_key`, kept for the pass's next job; else to a worker of its own.

    Raises WorkerFailed (or a subclass) if the worker does not finish."""
    spent = spent if spent is not None else TimeSpent()
    spent.enter(time_spent.START)
    try:
        if pool is None:
            with WorkerProcess(transport, log) as w:
                w.handshake(progress)
                _serve(w, job, on_message, progress, _Watch(timeout_s, key, "starting its job"), table, spent)
                spent.enter(time_spent.EXIT)
        else:
            w = pool.take(transport, pool_key, progress)
            try:
                _serve(w, job, on_message, progress, _Watch(timeout_s, key, "starting its job"), table, spent)
            except BaseException:
                pool.drop(w)
                raise
    finally:
        spent.enter(None)


def _serve(w: WorkerProcess, job: dict, on_message, progress, watch: _Watch, table: str, spent: TimeSpent) -> None:
    """Send the worker its job and follow it to its end (run_job)."""
    w.send(job)
    while True:
        try:
            msg = w.receive(watch.remaining())
        except _Silence:
            raise watch.expired(w.transport.where(), table) from None
        kind = msg.get("type")
        if kind == "heartbeat":
            watch.heartbeat(msg)
            continue
        watch.step(msg)
        if msg.get("phase"):
            spent.enter(msg["phase"])
        if kind == "progress":
            progress(msg.get("text", ""))
        elif kind == "end":
            return
        elif kind == "fatal":
            raise WorkerFailed(f"worker on {w.transport.where()} failed: {msg.get('message')}", "fatal")
        else:
            on_message(msg)


def device_environment(transport, timeout_s: float, progress: Callable[[str], None] = lambda s: None) -> dict:
    """The device's own environment (CPU, cores, governor, library versions, runners, emulation), from its
    worker.

    An unreachable device or an incompatible benchsuite is a BenchsuiteError: the run stops at the door."""
    got: dict = {}
    try:
        run_job(transport, {"task": "environment"}, lambda m: got.update(m.get("environment", {})),
                progress, timeout_s)
    except (Unreachable, Incompatible) as e:
        raise BenchsuiteError(str(e)) from None
    except WorkerFailed as e:
        raise BenchsuiteError(f"the worker on {transport.where()} could not report its environment: {e}; "
                              f"{hint(transport)}") from None
    return got


def run_group(cases, device, quick: bool, emit: Callable, progress: Callable = lambda s: None,
              log: WorkerLog | None = None, transport=None, run_id: str | None = None, once=None,
              spent: TimeSpent | None = None, pool=None) -> None:
    """Measure one comparison group; every case ends with records passed to emit(case, records, samples).
    `run_id` and `once`: as protocol.group_job takes them; `spent`: as run_job takes it; `pool`: the pass's
    workers (host/worker_pool.py), kept per runner and threads (the re-runs below start workers of their own).

    When the group's worker crashed or stalled, its unfinished cases are re-run one per process so that only
    the case at fault is lost (a stall in one case's own step ends that case at once); after a lost
    connection nothing is re-run: every unfinished case says the connection ended."""
    from ..transports import transport_for

    transport = transport or transport_for(None)
    timeout = device.timing_for(quick).prepare_timeout_s  # until the worker says otherwise: start-up is slow
    pending = {c.case_id: c for c in cases}

    def got(msg):
        if msg.get("type") == "case" and msg.get("case_id") in pending:
            emit(pending.pop(msg["case_id"]), msg["records"], msg["samples"])

    def attempt(batch, pool=None) -> WorkerFailed | None:
        try:
            run_job(transport, protocol.group_job(batch, device, quick, run_id, once), got, progress, timeout, log,
                    table=timing_table(device, quick), spent=spent, pool=pool,
                    pool_key=(cases[0].runner, cases[0].threads))
            return None
        except WorkerFailed as e:
            return e

    failure = attempt(list(pending.values()), pool)
    at_fault = failure.case_id if failure and failure.kind == "timeout" else None
    if at_fault in pending:
        case = pending.pop(at_fault)
        emit(case, error_records(case, str(failure)), [])
    if failure and failure.kind in ("died", "timeout") and pending and (len(pending) > 1 or at_fault):
        progress(f"group failed ({failure}); re-running {len(pending)} cases one per process")
        for case in list(pending.values()):
            failure = attempt([case])
            if failure and case.case_id in pending:
                emit(pending.pop(case.case_id), error_records(case, str(failure)), [])
    for case in list(pending.values()):
        emit(pending.pop(case.case_id), error_records(case, str(failure) if failure else
                                                      "worker ended without a result"), [])
