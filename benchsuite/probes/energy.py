"""Measured energy per forward and per backward pass, from the device's meter (RAPL, NVML, hwmon).

The meter is read around a window of repeated calls much longer than its update interval
(RAPL updates about every 1 ms, NVML's counter every few tens of ms; the default window is 2 s),
after idle power has been measured for `idle_s`. Each pass gets two records: total energy per
call, and energy above idle. The backward pass is the training step's energy minus that of the
forward that feeds it, each measured over its own window.
"""
from __future__ import annotations

import time

from ..energy import EnergyUnavailable, meter_for
from ..metrics import Metric
from . import Probe

WATCH = {"energy_forward": "latency_forward", "energy_backward": "latency_backward"}


def _window(meter, fn, sync, seconds: float) -> tuple[float, int, float]:
    """(joules, calls, elapsed seconds) for calling fn repeatedly for about `seconds`."""
    start, t0, n = meter.read(), time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    sync()
    end, dt = meter.read(), time.perf_counter() - t0
    return meter.total(meter.delta_joules(start, end)), n, dt


class EnergyProbe(Probe):
    name = "energy"
    metrics = (
        Metric("energy_forward", "J", "probe", "energy per inference forward, from the device's meter"),
        Metric("energy_forward_above_idle", "J", "probe", "energy per inference forward above idle power"),
        Metric("energy_backward", "J", "probe", "energy per backward pass (training step minus its forward)"),
        Metric("energy_backward_above_idle", "J", "probe", "energy per backward pass above idle power"),
    )

    def measure(self, prepared, case, device) -> list[dict]:
        wanted = [m for m in WATCH if m in case.metrics]
        if not wanted:
            return []

        def unsupported(reason: str) -> list[dict]:
            return [{"metric": m, "status": "unsupported", "message": reason}
                    for m in (d.name for d in self.metrics) if m.rsplit("_above_idle", 1)[0] in wanted]

        if prepared.runs_on:
            return unsupported(f"the model runs on {prepared.runs_on}; the meters this worker reads do not see it")
        try:
            meter = meter_for(device)
        except EnergyUnavailable as e:
            return unsupported(str(e))
        try:
            return self._measure(meter, prepared, device, wanted)
        finally:
            meter.close()

    def _measure(self, meter, prepared, device, wanted: list[str]) -> list[dict]:
        window = float(device.energy.get("window_s", 2.0))
        idle_s = float(device.energy.get("idle_s", 1.0))
        e_idle, _, dt_idle = _window(meter, lambda: time.sleep(0.01), lambda: None, idle_s)
        idle_w = e_idle / dt_idle
        out = []
        for metric in wanted:
            timed = prepared.timed.get(WATCH[metric])
            if timed is None:
                reason = prepared.unsupported.get(WATCH[metric], "the runner does not run this pass")
                out += [{"metric": m, "status": "unsupported", "message": reason}
                        for m in (metric, metric + "_above_idle")]
                continue
            if timed.setup is None:
                e, n, dt = _window(meter, timed.run, timed.sync, window)
                per, above = e / n, (e - idle_w * dt) / n
                how = f"{n} calls in {dt:.2f} s"
            else:  # a step of setup + run, minus the setup alone
                def step(t=timed):
                    t.setup()
                    t.run()

                e1, n1, dt1 = _window(meter, step, timed.sync, window)
                e2, n2, dt2 = _window(meter, timed.setup, timed.sync, window)
                per = e1 / n1 - e2 / n2
                above = (e1 - idle_w * dt1) / n1 - (e2 - idle_w * dt2) / n2
                how = f"{n1} training steps minus {n2} forwards, {dt1 + dt2:.2f} s"
            msg = f"{meter.name}: {how}; idle {idle_w:.2f} W over {dt_idle:.1f} s"
            out += [{"metric": metric, "value": per, "unit": "J", "message": msg},
                    {"metric": metric + "_above_idle", "value": above, "unit": "J", "message": msg}]
        return out
