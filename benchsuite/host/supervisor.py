"""The host side of a worker: start it through a transport, send its job, read its JSON lines.

Every wait is bounded: the worker must say hello within the transport's connect timeout, and each
later step within the timeout its last progress message named. A raise, a crash (signal, out-of-memory
kill), a dropped connection or silence becomes `error` records for the unfinished cases; when a group
of several cases dies, they are re-run one per process so that only the case at fault is lost.
"""
from __future__ import annotations

import queue
import signal
import subprocess
import threading
import time
from typing import Callable

from .. import protocol
from ..errors import BenchsuiteError
from ..records import error_records


class WorkerFailed(Exception):
    """The worker did not finish its job; the message says why."""


class Unreachable(WorkerFailed):
    """The worker never said hello: the device or its benchsuite could not be reached."""


class Incompatible(WorkerFailed):
    """The worker's benchsuite or record format differs from the host's."""


def _death_reason(code: int | None, transport) -> str:
    who = "worker process" if transport.on_this_host else f"worker on {transport.where()} (or the transport to it)"
    if code is None:
        return f"{who} vanished"
    if code < 0:
        sig = signal.Signals(-code).name
        hint = " (the kernel's out-of-memory killer sends this)" if sig == "SIGKILL" else ""
        return f"{who} died from {sig}{hint}"
    if code == 255 and not transport.on_this_host:
        return f"the connection to {transport.where()} ended (exit 255)"
    return f"{who} exited with code {code} before finishing"


class WorkerProcess:
    """One worker started through a transport. Use as a context manager; it is killed on exit."""

    def __init__(self, transport, log_path=None):
        self.transport = transport
        self._log = open(log_path, "ab") if log_path else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(transport.argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self._log)
        except OSError as e:
            self._close_log()
            raise Unreachable(f"cannot start the worker on {transport.where()}: {e}; {transport.hint}") from None
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _close_log(self) -> None:
        if self._log is not subprocess.DEVNULL:
            self._log.close()

    def receive(self, timeout_s: float) -> dict:
        """The next message; WorkerFailed if none comes in time or the worker ends."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise WorkerFailed(f"timed out: no progress for {timeout_s:g} s") from None
            if line is None:
                try:
                    code = self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    code = None
                raise WorkerFailed(_death_reason(code, self.transport))
            try:
                return protocol.loads(line.decode("utf-8", "replace"))
            except ValueError:
                continue  # not ours (a launcher's banner): skip it; the worker log keeps stderr

    def handshake(self) -> dict:
        """Wait for the worker's hello within the connect timeout; refuse an incompatible one."""
        t = self.transport.connect_timeout_s
        try:
            msg = self.receive(t)
        except WorkerFailed as e:
            raise Unreachable(f"no worker answered on {self.transport.where()} within {t:g} s ({e}); "
                              f"{self.transport.hint}") from None
        if msg.get("type") != "hello":
            raise Unreachable(f"the worker on {self.transport.where()} did not say hello: {msg}")
        why = protocol.incompatibility(msg)
        if why:
            raise Incompatible(f"cannot use the worker on {self.transport.where()}: {why}; install benchsuite "
                               f"{protocol.__version__} there (records of different versions are not comparable)")
        return msg

    def send(self, job: dict) -> None:
        try:
            self.proc.stdin.write((protocol.dumps(job) + "\n").encode())
            self.proc.stdin.flush()
        except OSError as e:
            raise WorkerFailed(f"the worker on {self.transport.where()} went away before its job: {e}") from None

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
        self._close_log()


def run_job(transport, job: dict, on_message: Callable[[dict], None], progress: Callable[[str], None],
            timeout_s: float, log_path=None) -> None:
    """Run one job to its end; on_message gets every `case`/`records`/`environment` message.

    Raises WorkerFailed (or a subclass) if the worker does not finish."""
    with WorkerProcess(transport, log_path) as w:
        w.handshake()
        w.send(job)
        while True:
            msg = w.receive(timeout_s)
            kind = msg.get("type")
            if kind == "progress":
                progress(msg.get("text", ""))
                timeout_s = msg.get("timeout_s") or timeout_s  # how long the next step may stay silent
            elif kind == "end":
                return
            elif kind == "fatal":
                raise WorkerFailed(f"worker on {transport.where()} failed: {msg.get('message')}")
            else:
                on_message(msg)


def device_environment(transport, timeout_s: float, log_path=None) -> dict:
    """The device's own environment (CPU, cores, governor, library versions, runners), from its worker.

    An unreachable device or an incompatible benchsuite is a BenchsuiteError: the run stops at the door."""
    got: dict = {}
    try:
        run_job(transport, {"task": "environment"}, lambda m: got.update(m.get("environment", {})),
                lambda s: None, timeout_s, log_path)
    except (Unreachable, Incompatible) as e:
        raise BenchsuiteError(str(e)) from None
    except WorkerFailed as e:
        raise BenchsuiteError(f"the worker on {transport.where()} could not report its environment: {e}; "
                              f"{transport.hint}") from None
    return got


def run_group(cases, device, quick: bool, emit: Callable, progress: Callable = lambda s: None,
              log_path=None, transport=None) -> None:
    """Measure one comparison group; every case ends with records passed to emit(case, records, samples)."""
    from ..transports import transport_for

    transport = transport or transport_for(None)
    timeout = device.timing_for(quick).prepare_timeout_s  # until the worker says otherwise: start-up is slow
    pending = {c.case_id: c for c in cases}

    def got(msg):
        if msg.get("type") == "case" and msg.get("case_id") in pending:
            emit(pending.pop(msg["case_id"]), msg["records"], msg["samples"])

    def attempt(batch) -> str | None:
        try:
            run_job(transport, protocol.group_job(batch, device, quick), got, progress, timeout, log_path)
            return None
        except WorkerFailed as e:
            return str(e)

    reason = attempt(list(pending.values()))
    if reason and len(pending) > 1:
        progress(f"group failed ({reason}); re-running {len(pending)} cases one per process")
        for case in list(pending.values()):
            reason = attempt([case])
            if reason and case.case_id in pending:
                emit(pending.pop(case.case_id), error_records(case, reason), [])
    for case in list(pending.values()):
        emit(pending.pop(case.case_id), error_records(case, reason or "worker ended without a result"), [])
