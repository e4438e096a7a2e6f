"""Studies: the published claims benchsuite checks, one module each, found through the `benchsuite.studies`
entry points. A workload names the studies that judge its records (`studies = ["g1"]`); adding a claim is
its module, one entry point and a workload that names it."""
from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from ..errors import UnknownNameError
from .base import Study, Verdict, WorkloadInfo

GROUP = "benchsuite.studies"


@cache
def _entry_points() -> dict:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def study_names() -> list[str]:
    return sorted(_entry_points())


@cache
def get_study(name: str) -> Study:
    eps = _entry_points()
    if name not in eps:
        raise UnknownNameError("study", name, eps)
    return eps[name].load()()


def all_studies() -> list[Study]:
    """Every registered study, in report order."""
    return sorted((get_study(n) for n in study_names()), key=lambda s: (s.order, s.name))


__all__ = ["Study", "Verdict", "WorkloadInfo", "all_studies", "get_study", "study_names"]
