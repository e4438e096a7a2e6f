"""Runner plugins, found through the `benchsuite.runners` entry-point group."""
from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from ..errors import UnknownNameError
from .base import Prepared, Runner, resolved_options

GROUP = "benchsuite.runners"


@cache
def _entry_points() -> dict:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def runner_names() -> list[str]:
    return sorted(_entry_points())


def get_runner(name: str) -> Runner:
    eps = _entry_points()
    if name not in eps:
        raise UnknownNameError("runner", name, eps)
    return eps[name].load()()


__all__ = ["Prepared", "Runner", "get_runner", "resolved_options", "runner_names"]
