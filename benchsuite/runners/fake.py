"""A fake backend for tests: deterministic busy-wait latencies and injectable failures.

Its cost model is a stand-in (parameters x pixels x batch), not a measurement of the model;
it exists so the engine, worker isolation, records and regression checks can be tested
quickly and deterministically. Failures are chosen by globs over the case label. With
clock = "simulated" no time passes at all: each sample is the cost times lognormal jitter
(`jitter`, sigma; `jitter_of` sets it per metric), so regression tests do not depend on how busy the
machine is.
"""
from __future__ import annotations

import fnmatch
import os
import random
import time

import torch

from ..measure import Timed, clock
from .base import Prepared, Runner


def _busy(seconds: float) -> None:
    end = clock() + seconds
    while clock() < end:
        pass


class FakeRunner(Runner):
    name = "fake"
    measures_hardware = False
    kernels_are_ops = True  # its "kernels" are whatever it is given
    description = "deterministic stand-in backend for tests (busy-waits; can raise, crash, hang)"
    options = {"seconds_per_gmac": 0.5, "slowdown": 1.0, "raise_on": [], "crash_on": [], "hang_on": [],
               "corrupt_output_on": [], "clock": "busy", "jitter": 0.02,
               "jitter_of": {}}

    def prepare(self, model, example, case, options, device) -> Prepared:
        hit = lambda key: any(fnmatch.fnmatchcase(case.label, g) for g in options[key])  # noqa: E731
        if hit("raise_on"):
            raise RuntimeError("fake runner: injected failure")
        if hit("crash_on"):
            os.abort()
        if hit("hang_on"):
            time.sleep(10**6)
        n_params = sum(p.numel() for p in model.parameters())
        gmac = n_params * case.resolution.pixels * case.batch_size / 1e9
        cost = gmac * options["seconds_per_gmac"] * options["slowdown"]
        model.eval()
        with torch.inference_mode():
            out = model(example)
        if hit("corrupt_output_on"):
            out = out + out.abs().max()

        def forward():
            _busy(cost)
            return out

        timed = {"latency_forward": Timed(run=forward),
                 "latency_forward_train": Timed(run=lambda: _busy(cost * 1.1)),
                 "latency_backward": Timed(run=lambda: _busy(cost * 2), setup=lambda: None)}
        if options["clock"] == "simulated":
            rng = random.Random()
            for factor, (metric, t) in zip((1.0, 1.1, 2.0), timed.items()):
                sigma = float(options["jitter_of"].get(metric, options["jitter"]))
                t.block_timer = lambda _t, n, c=cost * factor, s=sigma: c * rng.lognormvariate(0, s / n ** 0.5)
        elif options["clock"] != "busy":
            raise ValueError(f"fake clock {options['clock']!r} (valid: busy, simulated)")
        return Prepared(timed=timed, output=lambda: out, config={"slowdown": options["slowdown"]},
                        torch_allocator=True)
