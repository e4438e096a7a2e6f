"""Expand workload x device x runners x threads into Cases, and group them for interleaving."""
from __future__ import annotations

import fnmatch
import hashlib
import itertools
import json
from dataclasses import dataclass

from .input_size import InputSize, parse_input_size
from .models import get_model_entry
from .spec import ROW_RESOLUTION, DeviceSpec, WorkloadSpec


@dataclass(frozen=True)
class Case:
    """One fully bound point. Knobs and tags are sorted (name, value) pairs so a Case hashes."""
    workload: str
    device: str
    runner: str
    model: str
    knobs: tuple[tuple[str, object], ...]
    tags: tuple[tuple[str, object], ...]
    batch_size: int
    resolution: InputSize  # an int (square) is accepted and made an InputSize
    dtype: str
    threads: int
    metrics: tuple[str, ...]
    compare: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "resolution", parse_input_size(self.resolution))

    @property
    def params(self) -> dict:
        return dict(self.knobs)

    @property
    def case_id(self) -> str:
        """Stable hash of what is measured (not of the run or workload that asked for it)."""
        ident = [self.device, self.runner, self.model, self.knobs, self.batch_size, self.resolution.key,
                 self.dtype, self.threads]
        return hashlib.sha1(json.dumps(ident, default=str).encode()).hexdigest()[:16]

    @property
    def group_key(self) -> tuple:
        """Cases that differ only in the `compare` knobs form one comparison group."""
        others = tuple((k, v) for k, v in self.knobs if k not in self.compare)
        return (self.runner, self.model, others, self.tags, self.batch_size, self.resolution.key,
                self.dtype, self.threads)

    @property
    def group_id(self) -> str:
        return hashlib.sha1(json.dumps(self.group_key, default=str).encode()).hexdigest()[:12]

    @property
    def label(self) -> str:
        kv = ",".join(f"{k}={v}" for k, v in self.knobs + self.tags)
        return (f"{self.model}({kv}) b{self.batch_size} r{self.resolution} {self.dtype} "
                f"{self.runner} t{self.threads}")


def _matches(point: dict, pattern: dict) -> bool:
    return all(k in point and point[k] == v for k, v in pattern.items())


def model_points(sweep) -> list[dict]:
    """Knob/tag dicts of one model sweep: cross product of axes, times rows, minus skips."""
    names = list(sweep.axes)
    grid = [dict(zip(names, vals)) for vals in itertools.product(*sweep.axes.values())]
    rows = sweep.rows or ({},)
    points = [{**g, **r} for g in grid for r in rows]
    return [p for p in points if not any(_matches(p, s) for s in sweep.skip)]


def expand(workload: WorkloadSpec, device: DeviceSpec, *, runners=None, quick: bool = False,
           filter_glob: str | None = None) -> list[Case]:
    q = workload.quick if quick else {}
    metrics = tuple(q.get("metrics", workload.metrics))
    batches = device.batch_sizes or q.get("batch_sizes", workload.batch_sizes)
    resolutions = q.get("resolutions", workload.resolutions)  # InputSize, or None: the model's own
    dtypes = q.get("dtypes", workload.dtypes)
    where = q.get("where")
    cases = []
    for runner in runners or device.runners:
        for sweep in workload.models:
            entry = get_model_entry(sweep.name)
            for point in model_points(sweep):
                if where and not any(_matches({"model": sweep.name, **point}, w) for w in where):
                    continue
                own = point.pop(ROW_RESOLUTION, None)  # the row's own input size, if it fixes one
                knobs = tuple(sorted((k, v) for k, v in point.items() if k not in sweep.tags))
                tags = tuple(sorted((k, v) for k, v in point.items() if k in sweep.tags))
                for b, r, dt, t in itertools.product(batches, [own] if own else resolutions, dtypes,
                                                     device.threads):
                    cases.append(Case(workload.name, device.name, runner, sweep.name, knobs, tags, b,
                                      r or entry.default_resolution, dt, t, metrics, workload.compare))
    if filter_glob:
        cases = [c for c in cases if fnmatch.fnmatchcase(c.label, filter_glob)]
    return list(dict.fromkeys(cases))


def groups(cases: list[Case]) -> list[list[Case]]:
    """Comparison groups in first-seen order; each is measured interleaved in one worker."""
    out: dict[tuple, list[Case]] = {}
    for c in cases:
        out.setdefault(c.group_key, []).append(c)
    return list(out.values())
