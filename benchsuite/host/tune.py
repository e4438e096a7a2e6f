"""`benchsuite tune`: a runner's tuning step (TVM's MetaSchedule today) before the runs that use it.

The cases of one or several workloads, for each runner of the device that has a tuning step
(`Runner.tune`), are expanded as a run expands them, with the device ceiling's GEMM a run times through the
runner beside them (untuned, TVM's took 4 s a call and most of a G2 run), and handed to that runner, which
tunes them into its own database (a kernel the workloads share, once). Tune alone: candidates measured
while other work loads the machine pick schedules by noise.
"""
from __future__ import annotations

import inspect
from typing import Callable

from ..device.ceilings import gemm_cases
from ..device.preparation import build_case
from ..errors import BenchsuiteError
from ..runners import Tuned, resolved_options, runner_names, tuning_runners
from ..spec import DeviceSpec, WorkloadSpec
from ..sweep import expand
from .reach import check_device


def tune_workload(device: DeviceSpec, workloads: list[WorkloadSpec], *, quick: bool = False,
                  filter_glob: str | None = None, trials_per_task: int | None = None, budget_s: float | None = None,
                  say: Callable[[str], None] = print, plan_only: bool = False) -> list[Tuned]:
    """Tune the cases of the workloads (one or several, their kernels deduplicated across all of them by the
    runner) for every runner of the device that tunes; one Tuned per runner. `plan_only`: tune nothing, each
    Tuned's summary says what tuning would take."""
    tuners = tuning_runners(device.runners)
    if not tuners:
        names = ", ".join(r.name for r in tuning_runners(runner_names())) or "none installed"
        raise BenchsuiteError(f"device '{device.name}' does not list the {names} runner (its runners: "
                              f"{', '.join(device.runners)}); only runners with a tuning step are tuned ({names})")
    out = []
    for runner in tuners:
        ok, why = runner.availability()
        if not ok:
            raise BenchsuiteError(f"cannot tune: {why}")
        try:
            options = resolved_options(runner, device.runner_options.get(runner.name, {}))
        except ValueError as e:
            raise BenchsuiteError(str(e)) from None
        check_device(device, [runner.name])  # hardware elsewhere without a way there, an unreachable tracker
        cases = []
        for workload in workloads:
            found = expand(workload, device, runners=[runner.name], quick=quick, filter_glob=filter_glob)
            if not found:
                raise BenchsuiteError(
                    f"no {runner.name} cases: workload '{workload.name}' on device '{device.name}'"
                    + (f" with filter '{filter_glob}'" if filter_glob else "") + " expands to nothing")
            cases += found
        if runner.measures_hardware:  # a run times the device's GEMM ceiling through the runner too
            cases += gemm_cases(cases)
        takes = inspect.signature(runner.tune).parameters
        if plan_only and "plan_only" not in takes and all(p.kind is not p.VAR_KEYWORD for p in takes.values()):
            raise BenchsuiteError(f"runner {runner.name}'s tuning step cannot plan (its tune() takes no plan_only); "
                                  "leave out --plan to tune")
        out.append(runner.tune(cases, device, options, build=build_case, trials_per_task=trials_per_task,
                               budget_s=budget_s, say=say, **({"plan_only": True} if plan_only else {})))
    return out
