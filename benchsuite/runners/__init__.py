"""Runner plugins, found through the `benchsuite.runners` entry-point group."""
from __future__ import annotations

from ..plugins import Registry
from .base import Prepared, Runner, UnsupportedCase, option_problem, resolved_options

REGISTRY = Registry("benchsuite.runners", "runner")


def runner_names() -> list[str]:
    return REGISTRY.names()


def get_runner(name: str) -> Runner:
    return REGISTRY.load(name)()


def check_dtype(runner: Runner, dtype: str) -> None:
    """Raise UnsupportedCase when the runner has no path for `dtype`, naming the runners that have one."""
    if dtype in runner.dtypes:
        return
    others = [n for n in runner_names() if dtype in REGISTRY.load(n).dtypes]
    raise UnsupportedCase(f"runner {runner.name} runs {', '.join(runner.dtypes)}, not {dtype}"
                          + (f" ({dtype} runs under: {', '.join(others)})" if others else "")
                          + (f": {runner.dtype_note}" if runner.dtype_note else ""))


__all__ = ["Prepared", "Runner", "UnsupportedCase", "check_dtype", "get_runner", "option_problem", "resolved_options",
           "runner_names"]
