"""The runner plugin interface: a backend that prepares a model and hands back timed callables."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from ..measure import Timed


@dataclass
class Prepared:
    """A model made ready by a runner for one case.

    timed:        metric -> Timed, for the timing metrics this runner supports
    unsupported:  metric -> reason, for the ones it cannot measure
    output:       one inference forward on the case's input, as a torch tensor (for the output check)
    one_shot:     extra values, e.g. {"metric": "prepare_time", "value": 1.2, "unit": "s"}; optional
                  "source" (default measured) and "config" (added to the case's config for that record)
    config:       runner settings that shaped the numbers (recorded with every record of the case)
    modules:      the torch modules it runs, by role ("eval", "train"), for probes that need them
    output_is_reference: True only when `output` is the reference itself (torch eager, float32, no graph)
    torch_allocator: whether its memory comes from torch's allocator (probes can read the peak there)
    runs_on:      where the model runs when that is not this worker's machine (a board over TVM RPC):
                  probes that read this machine's meters or simulate its CPU then say unsupported
    """
    timed: dict[str, Timed]
    output: Callable[[], torch.Tensor]
    unsupported: dict[str, str] = field(default_factory=dict)
    one_shot: list[dict] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    modules: dict[str, Any] = field(default_factory=dict)
    torch_allocator: bool = False
    output_is_reference: bool = False  # the output *is* torch eager's float32 forward: nothing to check
    runs_on: str = ""


@dataclass
class Tuned:
    """What a runner's tuning step did: trials given, seconds, whether the budget stopped it, and a summary."""
    trials_given: int
    seconds: float
    stopped_by_budget: bool
    summary: str


class UnsupportedCase(Exception):
    """The runner cannot run this case at all (a dtype it has no path for): its metrics are `unsupported`,
    with this message as the reason."""


FLOAT_DTYPES = ("float32", "float16", "bfloat16")


class Runner:
    """Base class. Subclasses set `name`, `description`, `options` (name -> default), the `dtypes` they
    run (with `dtype_note`: why not the others) and implement `prepare`; `availability` says whether the
    backend can run here, and why not."""

    name = "base"
    description = ""
    options: dict[str, Any] = {}
    dtypes: tuple[str, ...] = FLOAT_DTYPES
    dtype_note = ""  # why it runs no other dtype, where there is more to say than which runners do
    measures_hardware = True  # False for stand-ins: no device ceilings are taken through them
    # whether one worker process may measure several groups in turn (host/worker_pool.py); False where what a
    # group leaves in the process changes the next group's numbers or paths (compiler caches, recompile limits)
    shares_workers = True
    # True when the runner runs every op of the model's graph as its own kernel (no fusion), so that a
    # network's kernels are its counted layers and a kernel-sum prediction applies (latency_model.py)
    kernels_are_ops = False
    # op names of the graph optimiser's layout conversions (onnxruntime's NCHWc reorders): kernels of
    # their own that latency_model.py counts apart from the op they surround
    layout_ops: tuple[str, ...] = ()

    def availability(self) -> tuple[bool, str]:
        return True, ""

    def prepare(self, model: torch.nn.Module, example: torch.Tensor, case, options: dict, device) -> Prepared:
        raise NotImplementedError

    def reaches_device_itself(self, options: dict, device) -> bool:
        """True when this runner reaches the device on its own from the host (through a table of its own in
        the profile, `remote_table`): its workers then run on the host rather than through the transport."""
        return False

    # Optional hooks: what a runner adds to the rest of benchsuite, so that nothing else names it.
    remote_table_help = ""  # with `check_remote_table`: what a profile's [remote] table holds, for messages
    metrics: tuple = ()     # Metric entries (benchsuite.metrics) of the one-shot metrics only it records
    libraries: tuple[str, ...] = ()  # distributions whose versions a run's environment records

    def check_remote_table(self, checker) -> dict | None:
        """Validate a profile's [remote] table (spec.py's checker: get, fail, done) into plain data; None
        when this runner takes no such table (the default)."""
        return None

    def check_reach(self, device) -> None:
        """Before a run or a tuning step: raise BenchsuiteError, saying what to do, when this runner cannot
        reach the device from here (an unreachable tracker). The default checks nothing."""

    def claim_caveat(self, record, margin: float) -> str:
        """Why this record's number cannot make a claim hold or fail ("" when it can): the verdict of every
        claim over it is then inconclusive, with this reason."""
        return ""

    def report_section(self, df, figure, table) -> tuple[str, str] | None:
        """(title, HTML) of the report's section on this runner's own provenance, or None. `df`: the
        report's records (tidy, config.* flattened); `figure(spec, alt, absent)` and `table(rows)` render."""
        return None

    def executed_ops(self, model: torch.nn.Module, example: torch.Tensor, options: dict, threads: int
                     ) -> list[str] | None:
        """The op names of the graph this runner executes for `model` after its own optimisation, in order
        (fusion_rules.py reads fusion and layout from them); None when the runner cannot show its graph."""
        return None

    # a tuning step (`benchsuite tune`): tune(cases, device, options, *, build, trials_per_task, budget_s, say,
    # plan_only) -> Tuned, where build(case) -> (model, example input) builds a case as a run does; with
    # plan_only it tunes nothing and its summary says what tuning would take (`tune --plan`)
    tune = None


TRAINING_METRICS = ("latency_forward_train", "latency_backward")


def inference_only(why: str) -> dict[str, str]:
    """The `unsupported` entries of a runner that runs inference only."""
    return {m: why for m in TRAINING_METRICS}


def option_problem(runner: Runner, key: str, value) -> str | None:
    """None when `value` fits the runner's option `key` (the default's kind: true/false, an integer, a
    number, a text), else what is valid."""
    if key not in runner.options:
        return f"one of its options: {', '.join(sorted(runner.options)) or 'none'}"
    default = runner.options[key]
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "true or false"
    if isinstance(default, int):
        return None if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else "an integer >= 0"
    if isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < float("inf")
        return None if ok else "a number >= 0"
    if isinstance(default, str):
        return None if isinstance(value, str) else "a text"
    return None


def resolved_options(runner: Runner, options: dict) -> dict:
    """The runner's defaults overlaid with the device profile's options; unknown keys are errors."""
    unknown = sorted(set(options) - set(runner.options))
    if unknown:
        raise ValueError(f"runner '{runner.name}' has no option {', '.join(unknown)} "
                         f"(valid: {', '.join(sorted(runner.options)) or 'none'})")
    return {**runner.options, **options}
