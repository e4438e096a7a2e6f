"""Where a run's wall time went (run.json `time_spent`): starting and ending worker processes, each worker's
imports, preparing cases, timed measurement, probes, device ceilings, and the host's own time between workers.

The worker names the phase of each step it starts (a progress message's `phase`); the host times each phase by
its own clock from that message to the next one that names a phase. A worker that names none (an older
benchsuite) leaves its time in "worker start-up". Seconds, rounded; they sum to the run's duration_s."""
from __future__ import annotations

import time
from collections import Counter

START = "worker start-up"   # from starting the process to its first named phase (the transport, the interpreter)
EXIT = "worker exit"        # from its last message to the process's end
HOST = "host, between workers"  # the rest of the run: planning, the sequential design's looks, writing records


class TimeSpent:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.totals: Counter = Counter()
        self._phase: str | None = None
        self._since = 0.0

    def enter(self, phase: str | None) -> None:
        """From now on the time is `phase`'s (None: nobody's, the host's own)."""
        now = self.clock()
        if self._phase is not None:
            self.totals[self._phase] += now - self._since
        self._phase, self._since = phase, now

    def summary(self, duration_s: float) -> dict:
        """Seconds per phase, the host's share the rest of `duration_s`, largest first."""
        self.enter(None)
        out = dict(self.totals)
        out[HOST] = max(0.0, duration_s - sum(self.totals.values()))
        return {k: round(v, 1) for k, v in sorted(out.items(), key=lambda kv: -kv[1])}
