"""The page-fault probe counts what the operating system counts: a forward that maps fresh memory faults,
one that reuses its buffers does not, and a model running elsewhere is no fault of this process."""
import numpy as np

from benchsuite.measure import Timed
from benchsuite.probes.page_faults import PageFaultsProbe
from benchsuite.runners.base import Prepared


SIZE = 64 * 2**20


class _Case:
    metrics = ("latency_forward", "page_faults_forward")
    runner = "constructed"


def _measure(run, **prepared):
    p = Prepared(timed={"latency_forward": Timed(run)}, output=lambda: None, **prepared)
    (r,) = PageFaultsProbe().measure(p, _Case(), None)
    return r


def test_fresh_memory_faults_and_reused_memory_does_not():
    buf = np.zeros(16 * 2**20 // 8)

    def fresh():  # 64 MB, above glibc's largest mmap threshold (32 MB): mapped afresh each call, and one byte
        # of every 4 KiB page written (a bytearray gets no huge pages, which numpy would ask for)
        b = bytearray(SIZE)
        b[::4096] = b"\x01" * (SIZE // 4096)

    def reuse():
        buf.fill(1.0)

    faulting, quiet = _measure(fresh), _measure(reuse)
    assert faulting["value"] > 4000 and quiet["value"] < 100, (faulting, quiet)
    assert faulting["n"] == 10 and "malloc" in faulting["message"]


def test_a_model_on_a_board_is_unsupported_here():
    r = _measure(lambda: None, runs_on="a board over RPC")
    assert r["status"] == "unsupported" and "a board over RPC" in r["message"]
