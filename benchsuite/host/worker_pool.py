"""Worker processes kept for one pass over the groups: a process measures one group, then the next group
of the same pass, runner and thread count, instead of every group starting its own.

The unit of replication stays the process: a group's k-th process is the k-th pass's worker, a process no
other of its replicates shared, and a pass gives each group at most one process (host/rounds.py starts a
new pass, and so new workers, for each further process of a group). What a worker saves the run is its
start: the interpreter, the transport, importing torch and the runners (seconds each here; minutes on an
emulated board). A worker is kept per (where it runs, runner, threads): a runtime's thread pool is set once
per process (TVM's, torch's inter-op), and one runner's caches never share a process with another's; a
runner whose groups would change each other's numbers says so (`Runner.shares_workers`: torch.compile) and
gets a worker per group. A worker whose job failed is never given another."""
from __future__ import annotations

from typing import Callable

from . import time_spent
from .supervisor import WorkerProcess
from .time_spent import TimeSpent
from .worker_log import WorkerLog


class WorkerPool:
    def __init__(self, log: WorkerLog | None = None, spent: TimeSpent | None = None):
        self.log, self.spent = log, spent if spent is not None else TimeSpent()
        self.started = 0  # worker processes this run started through the pool
        self._workers: dict[tuple, WorkerProcess] = {}

    def take(self, transport, key: tuple, progress: Callable[[str], None] = lambda s: None) -> WorkerProcess:
        """The pass's worker for `key` on `transport`, started (and greeted) when the pass has none yet."""
        full = (transport.where(), *key)
        if full in self._workers and self._workers[full].proc.poll() is not None:  # it ended while idle
            self.drop(self._workers[full])
        if full not in self._workers:
            worker = WorkerProcess(transport, self.log)
            self.started += 1
            try:
                worker.handshake(progress)
            except BaseException:
                worker.__exit__(None, None, None)
                raise
            self._workers[full] = worker
        return self._workers[full]

    def drop(self, worker: WorkerProcess) -> None:
        """A worker whose job failed: ended now, never given another job."""
        for k, w in list(self._workers.items()):
            if w is worker:
                del self._workers[k]
        self._end(worker)

    def new_pass(self) -> None:
        """End the pass: every worker is ended (the next group's process is a new one)."""
        for worker in list(self._workers.values()):
            self._end(worker)
        self._workers.clear()

    def _end(self, worker: WorkerProcess) -> None:
        self.spent.enter(time_spent.EXIT)
        worker.__exit__(None, None, None)
        self.spent.enter(None)
