"""A plain progress line on stderr: cases done / total, the current case, its status, the ETA."""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, stream=None, enabled: bool = True):
        self.stream, self.enabled = stream or sys.stderr, enabled
        self.tty = enabled and getattr(self.stream, "isatty", lambda: False)()
        self.total = self.done_count = 0
        self.start_time = time.monotonic()

    def start(self, total: int) -> None:
        self.total, self.start_time = total, time.monotonic()

    def grow(self, n: int) -> None:
        """More (or, negative, fewer) case-processes than planned at the start: a sequential run's looks."""
        self.total += n

    def _eta(self) -> str:
        if not self.done_count:
            return "ETA --"
        left = (time.monotonic() - self.start_time) / self.done_count * (self.total - self.done_count)
        return f"ETA {int(left // 60)}m{int(left % 60):02d}s"

    def _write(self, text: str, final: bool) -> None:
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r\033[K" + text[: 160] + ("\n" if final else ""))
        elif final:
            self.stream.write(text + "\n")
        self.stream.flush()

    def detail(self, text: str) -> None:
        self._write(f"[{self.done_count}/{self.total}] {self._eta()} {text}", final=False)

    def case_done(self, label: str, statuses: dict[str, int]) -> None:
        self.done_count += 1
        status = " ".join(f"{k}={v}" for k, v in sorted(statuses.items()))
        self._write(f"[{self.done_count}/{self.total}] {self._eta()} {label}: {status}", final=True)
