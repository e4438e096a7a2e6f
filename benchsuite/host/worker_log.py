"""The run's worker.log: every worker's stderr, with a line that a library repeats at every call (torch's
"Could not initialize NNPACK!" under an emulator, a profiler's start/stop chatter) written a few times and
then only counted; the counts go into the run's environment once, at the end of the run."""
from __future__ import annotations

import re
import threading
from collections import Counter

WRITTEN = 3     # occurrences of one line written before it is only counted
REPEATED = 10   # a line seen at least this often is reported with the run
_DIGITS = re.compile(r"\d+")


def _key(line: str) -> str:
    """Lines that differ only in numbers (timestamps, pids, counters) are the same line."""
    return _DIGITS.sub("#", line.strip())


class WorkerLog:
    def __init__(self, path=None):
        self._file = open(path, "ab") if path else None
        self._counts: Counter = Counter()
        self._first: dict[str, str] = {}
        self._lock = threading.Lock()

    def write(self, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace")
        key = _key(line)
        with self._lock:
            self._counts[key] += 1
            n = self._counts[key]
            self._first.setdefault(key, line.strip())
            if self._file is not None and n <= WRITTEN:
                self._file.write(raw if raw.endswith(b"\n") else raw + b"\n")
                if n == WRITTEN and key:
                    self._file.write("[benchsuite] further repeats of the line above are counted, not written "
                                     "(the run's environment: repeated_log_lines)\n".encode())
                self._file.flush()

    def repeated(self) -> list[dict]:
        """Lines seen at least REPEATED times, most frequent first: their first text and their count."""
        with self._lock:
            return [{"text": self._first[k][:300], "count": n} for k, n in self._counts.most_common()
                    if n >= REPEATED and k]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
