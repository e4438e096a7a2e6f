"""Plugin registries: runners, probes, studies and transports are classes found through entry points,
so a new one is its own module plus one entry point in its package's pyproject.toml."""
from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from .errors import UnknownNameError


class Registry:
    """The entry points of one group, loaded by name on first use."""

    def __init__(self, group: str, kind: str):
        self.group, self.kind = group, kind

    @cache  # noqa: B019 - one registry object per group, alive as long as the process
    def entry_points(self) -> dict[str, EntryPoint]:
        return {ep.name: ep for ep in entry_points(group=self.group)}

    def names(self) -> list[str]:
        return sorted(self.entry_points())

    def load(self, name: str):
        """The class registered under `name`; an unknown name is an error listing the known ones."""
        eps = self.entry_points()
        if name not in eps:
            raise UnknownNameError(self.kind, name, eps)
        return eps[name].load()

    @staticmethod
    def refresh() -> None:
        """Forget what every registry found (after installing a plugin into a running process)."""
        Registry.entry_points.cache_clear()
