"""Studies: the published claims benchsuite checks, one module each, found through the `benchsuite.studies`
entry points. A workload names the studies that judge its records (`studies = ["g1"]`); adding a claim is
its module, one entry point and a workload that names it."""
from __future__ import annotations

from functools import cache

from ..plugins import Registry
from .base import Study, Verdict, WorkloadInfo

REGISTRY = Registry("benchsuite.studies", "study")


def study_names() -> list[str]:
    return REGISTRY.names()


@cache
def get_study(name: str) -> Study:
    return REGISTRY.load(name)()


def all_studies() -> list[Study]:
    """Every registered study, in report order."""
    return sorted((get_study(n) for n in study_names()), key=lambda s: (s.order, s.name))


__all__ = ["Study", "Verdict", "WorkloadInfo", "all_studies", "get_study", "study_names"]
