"""Runner plugins, found through the `benchsuite.runners` entry-point group."""
from __future__ import annotations

from ..plugins import Registry
from .base import Prepared, Runner, UnsupportedCase, check_dtype, option_problem, resolved_options

REGISTRY = Registry("benchsuite.runners", "runner")


def runner_names() -> list[str]:
    return REGISTRY.names()


def get_runner(name: str) -> Runner:
    return REGISTRY.load(name)()


__all__ = ["Prepared", "Runner", "UnsupportedCase", "check_dtype", "get_runner", "option_problem", "resolved_options",
           "runner_names"]
