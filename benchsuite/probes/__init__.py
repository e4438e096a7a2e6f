"""Probes add metrics around a measurement (memory, energy, traffic). Found through the
`benchsuite.probes` entry-point group. A probe returns result dicts for make_record:
{"metric", "value" | ("status", "message"), "source", ...}."""
from __future__ import annotations

from functools import cache

from ..plugins import Registry

REGISTRY = Registry("benchsuite.probes", "probe")


class Probe:
    """Subclasses set `name` and `metrics` (the benchsuite.metrics.Metric entries they produce: declared
    here, nowhere else) and implement `measure`."""
    name = "base"
    metrics: tuple = ()

    @classmethod
    def metric_names(cls) -> set[str]:
        return {m.name for m in cls.metrics}

    def measure(self, prepared, case, device) -> list[dict]:
        raise NotImplementedError


@cache
def all_probes() -> tuple[Probe, ...]:
    return tuple(REGISTRY.load(name)() for name in REGISTRY.names())


def probes_for(metrics) -> list[Probe]:
    return [p for p in all_probes() if p.metric_names() & set(metrics)]
