"""The worker's heartbeat: every few seconds, one line telling the host what the worker is doing and how
much work it has done, so that the host can tell a slow device (the count grows) from a hung one (it
stands still, or no line comes at all).

The work itself only adds to a counter (`tick`: an integer add per sample or calibration call, outside
every timed region); the thread does the writing, once per `every_s`, so a timing loop never waits on I/O.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

EVERY_S = 2.0


class Heartbeat:
    def __init__(self, send: Callable[[dict], None], every_s: float = EVERY_S):
        self._send, self.every_s = send, every_s
        self.doing, self.work = "starting", 0
        self._since = time.monotonic()
        self._wake = threading.Event()  # set to beat at once: a shorter interval, or the end
        self._stopped = False
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def step(self, doing: str, timeout_s: float | None = None) -> None:
        """A new step of the job begins (counts as work). A step the host bounds by `timeout_s` of no work
        gets at least five beats in that time."""
        self.doing, self._since = doing, time.monotonic()
        self.work += 1
        if timeout_s and timeout_s / 5 < self.every_s:
            self.every_s = timeout_s / 5
            self._wake.set()

    def tick(self, *_args) -> None:
        """One more unit of work done in the current step (a sample, a warm-up call)."""
        self.work += 1

    def _beat(self) -> None:
        while True:
            self._wake.wait(self.every_s)
            self._wake.clear()
            if self._stopped:
                return
            try:
                self._send({"type": "heartbeat", "doing": self.doing,
                            "for_s": round(time.monotonic() - self._since, 1), "work": self.work})
            except (OSError, ValueError):  # the host's stream closed: the worker ends through its stdin watch
                return

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.every_s + 1)
