"""Device and workload specifications: load TOML, validate, return frozen dataclasses.

Every problem is a SpecError naming the file, the key, the bad value and what is valid.
A device or workload is given by name (looked up in the search path) or by a path to a file.
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .catalog import Entry, resolve
from .dtypes import DTYPES
from .errors import SpecError, UnknownNameError
from .measure import Timing
from .input_size import MAX_SIZE, VALID, InputSize, parse_input_size
from .metrics import selectable_metrics

DEVICE_KINDS = ("cpu", "gpu", "arm")


def _read_toml(entry: Entry) -> tuple[dict, str]:
    """The parsed table and the text of a spec file; unreadable, non-UTF-8 or malformed files are SpecErrors."""
    try:
        text = entry.read_bytes().decode("utf-8")
    except OSError as e:
        raise SpecError(entry.path, "(file)", f"cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise SpecError(entry.path, "(file)", f"not UTF-8 text (byte {e.start})") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as e:
        raise SpecError(entry.path, "(file)", f"malformed TOML: {e}") from None


def _open(kind: str, name_or_path: str):
    """(entry, parsed TOML, its text, a checker over it) for a device or workload."""
    entry = resolve(kind, name_or_path)
    raw, text = _read_toml(entry)
    return entry, raw, text, _Checker(entry.path, raw)


# ---------------------------------------------------------------- validation helpers

class _Checker:
    """Reads typed keys out of one TOML table and complains precisely."""

    def __init__(self, source: str, table: dict, prefix: str = ""):
        self.source, self.table, self.prefix = source, dict(table), prefix
        self.seen: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def fail(self, key: str, problem: str, valid: str | None = None):
        raise SpecError(self.source, self._key(key), problem, valid)

    def get(self, key: str, types, default=..., *, check=None, valid: str | None = None):
        self.seen.add(key)
        if key not in self.table:
            if default is ...:
                self.fail(key, "missing")
            return default
        v = self.table[key]
        if isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
            self.fail(key, f"expected {_tname(types)}, got {v!r}", valid)
        if not isinstance(v, types):
            self.fail(key, f"expected {_tname(types)}, got {type(v).__name__} {v!r}", valid)
        if check is not None and not check(v):
            self.fail(key, f"bad value {v!r}", valid)
        return v

    def get_list(self, key: str, item_types, default=..., *, check=None, valid=None, nonempty=True):
        v = self.get(key, list, default)
        if v is default and key not in self.table:
            return v
        if nonempty and not v:
            self.fail(key, "must not be empty", valid)
        for item in v:
            if isinstance(item, bool) or not isinstance(item, item_types):
                self.fail(key, f"expected a list of {_tname(item_types)}, got item {item!r}", valid)
            if check is not None and not check(item):
                self.fail(key, f"bad value {item!r}", valid)
        return tuple(v)

    def done(self, allowed_extra: tuple[str, ...] = ()):
        unknown = sorted(set(self.table) - self.seen - set(allowed_extra))
        if unknown:
            self.fail(unknown[0], "unknown key", ", ".join(sorted(self.seen | set(allowed_extra))))


def _tname(types) -> str:
    types = types if isinstance(types, tuple) else (types,)
    names = {int: "integer", float: "number", str: "string", bool: "boolean", list: "list", dict: "table"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _positive(v) -> bool:
    return v > 0


MAX_SECONDS = 7 * 86400  # a week: no timing setting beyond it is meant (and inf is no setting)
TIMING_LIMITS = {"target_precision": 1.0, "place_precision": 1.0, "min_samples": 1_000_000,
                 "max_samples": 10_000_000, "processes": 1000, "max_processes": 1000}
MAX_CACHE = 1 << 40


# ---------------------------------------------------------------- device

def _timing(source: str, table: dict, base: Timing, prefix: str) -> Timing:
    c = _Checker(source, table, prefix)
    kw = {}
    for f in fields(Timing):
        t = (int, float) if f.type == "float" else int
        top = TIMING_LIMITS.get(f.name, MAX_SECONDS)
        v = c.get(f.name, t, None, check=lambda v, top=top: 0 < v <= top, valid=f"a number > 0 and <= {top:g}")
        if v is not None:
            kw[f.name] = float(v) if f.type == "float" else v
    c.done()
    return replace(base, **kw)


@dataclass(frozen=True)
class DeviceSpec:
    name: str
    kind: str
    description: str
    threads: tuple[int, ...]
    runners: tuple[str, ...]
    timing: Timing
    timing_quick: Timing
    runner_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    batch_sizes: tuple[int, ...] | None = None  # replaces the workload's (the paper used batch 8 on GPU)
    remote: dict | None = None  # a [remote] table, validated by the runner that takes one (plain data)
    transport: dict | None = None  # where workers run: a validated [transport] table (None: this host)
    emulated: bool = False  # an emulator runs the cases: timings prove paths, verdicts stay inconclusive
    energy: dict = field(default_factory=dict)  # meter settings: hwmon, powercap, idle_s, window_s
    cachegrind_ll: str | None = None  # "size,assoc,line" for the simulated last-level cache
    source: str = ""
    text: str = ""  # the file as written, kept with the run (RunMeta)

    def timing_for(self, quick: bool) -> Timing:
        return self.timing_quick if quick else self.timing


_SIZE = re.compile(r"(\d+)\s*([KMG]?)(i?B)?", re.IGNORECASE)


def _caches(c: "_Checker") -> dict | None:
    """[energy] caches = { L1d = "48KiB", L2 = "1MiB", L3 = "32MiB" }: the data cache levels the modeled
    energy charges memory traffic at (bytes as integers, or sizes with K/M/G suffixes)."""
    table = c.get("caches", dict, None)
    if table is None:
        return None
    valid = 'a table of level = size, e.g. { L1d = "48KiB", L2 = "1MiB", L3 = "32MiB" } (or bytes as integers)'
    out = {}
    for level, size in table.items():
        m = _SIZE.fullmatch(size.strip()) if isinstance(size, str) else None
        if isinstance(size, int) and not isinstance(size, bool):
            out[level] = size
        elif m:
            out[level] = int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2).upper()]
        if not 0 < out.get(level, 0) <= MAX_CACHE:
            c.fail(f"caches.{level}", f"bad size {size!r}", valid + ", each at most 1 TiB")
    if not out:
        c.fail("caches", "empty table", valid)
    return out


QUICK_TIMING = Timing(warmup_s=0.05, min_sample_s=0.01, target_precision=0.02, min_samples=7, max_time_s=1.5)


def load_device(name_or_path: str) -> DeviceSpec:
    from .runners import runner_names  # local: runners import spec types

    entry, raw, text, c = _open("devices", name_or_path)
    source = entry.path
    name = c.get("name", str, entry.name)
    kind = c.get("kind", str, check=lambda v: v in DEVICE_KINDS, valid=", ".join(DEVICE_KINDS))
    description = c.get("description", str, "")
    threads_raw = c.get("threads", (list, str), ["all"])
    if isinstance(threads_raw, str):
        threads_raw = [threads_raw]
    cores = os.cpu_count() or 1
    threads = []
    for t in threads_raw:
        if t == "all":
            threads.append(cores)
        elif isinstance(t, int) and not isinstance(t, bool) and t > 0:
            threads.append(t)
        else:
            c.fail("threads", f"bad value {t!r}", "positive integers or \"all\"")
    known = runner_names()
    runners = c.get_list("runners", str, check=lambda r: r in known, valid=", ".join(sorted(known)))
    timing = _timing(source, c.get("timing", dict, {}), Timing(), "timing.")
    timing_quick = _timing(source, c.get("timing_quick", dict, {}), QUICK_TIMING, "timing_quick.")
    opts = c.get("runner_options", dict, {})
    for r, o in opts.items():
        if r not in known:
            c.fail(f"runner_options.{r}", "unknown runner", ", ".join(sorted(known)))
        if not isinstance(o, dict):
            c.fail(f"runner_options.{r}", f"expected a table, got {o!r}")
        from .runners import get_runner, option_problem

        for key, value in o.items():
            problem = option_problem(get_runner(r), key, value)
            if problem:
                c.fail(f"runner_options.{r}.{key}", f"bad value {value!r}", problem)
    batch_sizes = c.get_list("batch_sizes", int, None, check=_positive, valid="positive integers")
    remote = None
    if "remote" in raw:
        from .runners import check_remote_table

        remote = check_remote_table(_Checker(source, c.get("remote", dict), "remote."))
    transport = None
    if "transport" in raw:
        from .transports import check_table

        transport = check_table(_Checker(source, c.get("transport", dict), "transport."))
    emulated = c.get("emulated", bool, False)
    ec = _Checker(source, c.get("energy", dict, {}), "energy.")
    energy = {k: v for k, v in (("hwmon", ec.get("hwmon", str, None)), ("powercap", ec.get("powercap", str, None)),
                                ("idle_s", ec.get("idle_s", (int, float), None, check=_positive, valid="> 0")),
                                ("window_s", ec.get("window_s", (int, float), None, check=_positive, valid="> 0")),
                                ("caches", _caches(ec)))
              if v is not None}
    ec.done()
    ll = c.get("cachegrind_ll", str, None, check=lambda v: re.fullmatch(r"\d+,\d+,\d+", v) is not None,
               valid="SIZE_BYTES,ASSOCIATIVITY,LINE_BYTES, e.g. \"33554432,16,64\"")
    c.done()
    return DeviceSpec(name=name, kind=kind, description=description, threads=tuple(dict.fromkeys(threads)),
                      runners=runners, timing=timing, timing_quick=timing_quick, runner_options=opts,
                      batch_sizes=batch_sizes, remote=remote, transport=transport,
                      emulated=emulated, energy=energy, cachegrind_ll=ll, source=source,
                      text=text)


# ---------------------------------------------------------------- workload

@dataclass(frozen=True)
class ModelSweep:
    """One model of a workload: knob axes (cross product) x explicit rows, minus skips."""
    name: str
    axes: dict[str, tuple]
    rows: tuple[dict, ...]
    skip: tuple[dict, ...]
    tags: tuple[str, ...]  # row keys that label a case (e.g. the paper's table column) and are no knobs


@dataclass(frozen=True)
class WorkloadSpec:
    name: str
    description: str
    models: tuple[ModelSweep, ...]
    metrics: tuple[str, ...]
    batch_sizes: tuple[int, ...]
    resolutions: tuple[InputSize | None, ...]  # None: each model's default resolution
    dtypes: tuple[str, ...]
    compare: tuple[str, ...]   # knobs that vary inside one comparison group
    studies: tuple[str, ...]   # the studies (studies/) that judge this workload's records
    reference: str | None      # the published table the studies compare with (benchsuite/data/)
    quick: dict = field(default_factory=dict)
    margin: float = 0.02       # practical-equivalence margin of the studies' ratios (0.02: within x1.02)
    source: str = ""
    text: str = ""


_SCALAR = (int, float, str, bool)
ROW_RESOLUTION = "resolution"  # a model row's own input size, in place of the workload's resolutions


def _model_sweep(source: str, raw: dict, idx: int) -> ModelSweep:
    from .models import check_knobs, get_model_entry

    c = _Checker(source, raw, f"models[{idx}].")
    name = c.get("name", str)
    try:
        get_model_entry(name)
    except UnknownNameError as e:
        c.fail("name", str(e))
    tags = c.get_list("tags", str, (), nonempty=False)
    axes = {}
    for k, v in c.get("axes", dict, {}).items():
        if not isinstance(v, list) or not v or not all(isinstance(x, _SCALAR) for x in v):
            c.fail(f"axes.{k}", f"expected a non-empty list of values, got {v!r}")
        axes[k] = tuple(v)
    rows = []
    for key in ("rows", "skip"):
        for j, row in enumerate(c.get(key, list, [])):
            if not isinstance(row, dict) or not all(isinstance(x, _SCALAR) for x in row.values()):
                c.fail(f"{key}[{j}]", f"expected a table of values, got {row!r}")
            if key == "rows":
                rows.append(row)
    skip = tuple(c.table.get("skip", []))
    for j, row in enumerate(rows):  # a row may fix its own input size (Table 8 runs some models at 160 or 192)
        if ROW_RESOLUTION in row:
            row[ROW_RESOLUTION] = _check_sizes(c, f"rows[{j}].{ROW_RESOLUTION}", [row[ROW_RESOLUTION]])[0]
    knob_rows = [{k: v for k, v in row.items() if k != ROW_RESOLUTION} for row in rows]
    try:
        check_knobs(name, {k: None for k in axes}, values=False)
        for j, row in enumerate(knob_rows):
            check_knobs(name, {k: None for k in row if k not in tags}, values=False)
    except Exception as e:  # noqa: BLE001 - re-raised with the file and key
        c.fail("axes/rows", str(e))
    entry = get_model_entry(name)  # every value against what the model declares valid, before any work
    for key, value in [(f"axes.{k}", v) for k, vs in axes.items() for v in vs] + [
            (f"rows[{j}].{k}", v) for j, row in enumerate(knob_rows) for k, v in row.items() if k not in tags]:
        valid = entry.knob_problem(key.rsplit(".", 1)[1], value)
        if valid:
            c.fail(key, f"bad value {value!r} for model '{name}'", valid)
    c.done()
    return ModelSweep(name, axes, tuple(rows), skip, tags)


def _references() -> list[str]:
    from importlib import resources

    return sorted(f.name for f in resources.files("benchsuite.data").iterdir() if f.name.endswith(".csv"))


def _is_reference(name: str) -> bool:
    return name in _references()


def _check_values(c: _Checker, key: str, values, what: str):
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= MAX_SIZE:
            c.fail(key, f"bad {what} {v!r}", f"positive integers up to {MAX_SIZE}")


def _check_sizes(c: _Checker, key: str, values) -> list:
    """Input sizes (224, "640x480"; "default": the model's own, as None), each checked."""
    out = []
    for v in values:
        if v == "default":
            out.append(None)
            continue
        try:
            out.append(parse_input_size(v))
        except ValueError as e:
            c.fail(key, str(e), f'{VALID}, or "default" (the model\'s own)')
    return out


def load_workload(name_or_path: str) -> WorkloadSpec:
    entry, raw, text, c = _open("workloads", name_or_path)
    source = entry.path
    name = c.get("name", str, entry.name)
    description = c.get("description", str, "")
    models_raw = c.get("models", list)
    if not models_raw:
        c.fail("models", "must not be empty")
    models = tuple(_model_sweep(source, m if isinstance(m, dict) else c.fail(f"models[{i}]", "expected a table"), i)
                   for i, m in enumerate(models_raw))
    selectable = selectable_metrics()
    metrics = c.get_list("metrics", str, ("latency_forward",), check=lambda m: m in selectable,
                         valid=", ".join(selectable))
    batch_sizes = c.get("batch_sizes", list, [1])
    _check_values(c, "batch_sizes", batch_sizes, "batch size")
    resolutions = _check_sizes(c, "resolutions", c.get("resolutions", list, ["default"]))
    dtypes = c.get_list("dtypes", str, ("float32",), check=lambda d: d in DTYPES, valid=", ".join(DTYPES))
    compare = c.get_list("compare", str, (), nonempty=False)
    from .studies import study_names

    known_studies = study_names()
    studies = c.get_list("studies", str, (), nonempty=False, check=lambda v: v in known_studies,
                         valid=", ".join(known_studies))
    reference = c.get("reference", str, None, check=_is_reference, valid=", ".join(_references()))
    margin = c.get("margin", (int, float), 0.02, check=lambda m: 0 <= m < 1, valid="a fraction in [0, 1), e.g. 0.02")
    quick = dict(c.get("quick", dict, {}))
    qc = _Checker(source, quick, "quick.")
    qc.get_list("metrics", str, None, check=lambda m: m in selectable, valid=", ".join(selectable))
    qc.get_list("dtypes", str, None, check=lambda d: d in DTYPES, valid=", ".join(DTYPES))
    for key in ("batch_sizes", "resolutions"):
        values = qc.get(key, list, None)
        if values is not None:
            if not values:
                qc.fail(key, "must not be empty")
            if key == "batch_sizes":
                _check_values(qc, key, values, "batch size")
            else:
                quick[key] = _check_sizes(qc, key, values)
    where = qc.get_list("where", dict, None, valid="tables of knob, tag or model values")
    for j, w in enumerate(where or ()):
        if not all(isinstance(x, _SCALAR) for x in w.values()):
            qc.fail(f"where[{j}]", f"expected a table of values, got {w!r}")
    qc.done()
    c.done()
    if not batch_sizes or not resolutions:
        c.fail("batch_sizes" if not batch_sizes else "resolutions", "must not be empty")
    return WorkloadSpec(name=name, description=description, models=models, metrics=metrics,
                        batch_sizes=tuple(batch_sizes),
                        resolutions=tuple(resolutions),
                        dtypes=dtypes, compare=compare, studies=studies, reference=reference, quick=quick,
                        margin=float(margin), source=source, text=text)
