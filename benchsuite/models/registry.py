"""Model registry: decorator registration, wildcard listing, one factory (the timm pattern).

A model function takes only keyword knobs with defaults and returns an ``nn.Module`` whose
``in_channels`` attribute says what input it expects. Knobs are validated against the
function's signature, so a workload that names an unknown knob fails with the valid ones, and
their values against what the registry declares: the default's type (bool, integer, number or
text), a positive value for integers and numbers (channel counts, groups, multipliers), and the
`choices` a model registers for a knob with a fixed set of values.
"""
from __future__ import annotations

import fnmatch
import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import BenchsuiteError, UnknownNameError

# Modules whose import registers models. Imported on first use, not at package import.
_MODEL_MODULES = tuple(f"benchsuite.models.{m}" for m in (
    "guideline_blocks", "mobilenet_v1", "mobilenet_v2", "mobilenet_v3", "shufflenet", "ghostnet",
    "efficientnet", "resnet", "calibration", "operator_pairs", "kernels"))


MAX_INT_KNOB = 1_000_000   # channels, groups, classes, repeats: beyond this no model is buildable here
MAX_FLOAT_KNOB = 100.0     # width and scale multipliers


@dataclass(frozen=True)
class ModelEntry:
    name: str
    fn: Callable[..., Any]
    family: str
    default_resolution: int
    description: str
    knobs: dict[str, Any] = field(default_factory=dict)  # knob -> default
    choices: dict[str, tuple] = field(default_factory=dict)  # knob -> its only valid values

    def knob_problem(self, knob: str, value) -> str | None:
        """None when `value` is valid for `knob`, else what is valid (the knob must exist)."""
        default = self.knobs[knob]
        if knob in self.choices:  # equal and of the same kind (an integer may stand for a float choice)
            ok = any(value == c and (type(value) is type(c) or isinstance(c, float) and type(value) is int)
                     for c in self.choices[knob])
            return None if ok else "one of " + ", ".join(map(repr, self.choices[knob]))
        if isinstance(default, bool):
            return None if isinstance(value, bool) else "true or false"
        if isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_INT_KNOB
            return None if ok else f"a positive integer up to {MAX_INT_KNOB}"
        if isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= MAX_FLOAT_KNOB
            return None if ok else f"a positive number up to {MAX_FLOAT_KNOB:g}"
        if isinstance(default, str):
            return None if isinstance(value, str) and value else "a non-empty text"
        return None


_registry: dict[str, ModelEntry] = {}
_loaded = False


def register_model(*, family: str, default_resolution: int = 224, name: str | None = None,
                   choices: dict[str, Any] | None = None):
    def wrap(fn):
        model_name = name or fn.__name__
        if model_name in _registry:
            raise ValueError(f"model '{model_name}' registered twice")
        knobs = {}
        for p in inspect.signature(fn).parameters.values():
            if p.kind is not p.KEYWORD_ONLY or p.default is p.empty:
                raise TypeError(f"model '{model_name}': knob '{p.name}' must be keyword-only with a default")
            knobs[p.name] = p.default
        doc = (fn.__doc__ or "").strip().splitlines()
        fixed = {k: tuple(v) for k, v in (choices or {}).items()}
        if set(fixed) - set(knobs):
            raise TypeError(f"model '{model_name}': choices for unknown knobs {sorted(set(fixed) - set(knobs))}")
        _registry[model_name] = ModelEntry(model_name, fn, family, default_resolution,
                                           doc[0] if doc else "", knobs, fixed)
        return fn

    return wrap


def _ensure_loaded() -> None:
    global _loaded
    if not _loaded:
        for mod in _MODEL_MODULES:
            importlib.import_module(mod)
        _loaded = True


def list_models(pattern: str = "*") -> list[str]:
    _ensure_loaded()
    return sorted(n for n in _registry if fnmatch.fnmatchcase(n, pattern))


def get_model_entry(name: str) -> ModelEntry:
    _ensure_loaded()
    if name not in _registry:
        raise UnknownNameError("model", name, _registry)
    return _registry[name]


def check_knobs(name: str, knobs: dict[str, Any], values: bool = True) -> None:
    """Unknown knob names, and (with `values`) values the registry says are invalid, are errors that say
    what is valid."""
    entry = get_model_entry(name)
    unknown = sorted(set(knobs) - set(entry.knobs))
    if unknown:
        raise BenchsuiteError(
            f"model '{name}' has no knob {', '.join(repr(k) for k in unknown)} "
            f"(valid: {', '.join(sorted(entry.knobs)) or 'none'})")
    for knob, value in knobs.items() if values else ():
        valid = entry.knob_problem(knob, value)
        if valid:
            raise BenchsuiteError(f"model '{name}' knob '{knob}': {value!r} is not valid (valid: {valid})")


def create_model(name: str, **knobs):
    """Build a registered model with the given knobs (defaults fill the rest)."""
    check_knobs(name, knobs)
    try:
        model = get_model_entry(name).fn(**knobs)
    except ValueError as e:  # a combination the model cannot build (channels not divisible by groups ...)
        raise BenchsuiteError(f"model '{name}' with {knobs}: {e}") from e
    if not hasattr(model, "in_channels"):
        raise TypeError(f"model '{name}' does not declare in_channels")
    return model
