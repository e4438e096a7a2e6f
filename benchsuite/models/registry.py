"""Model registry: decorator registration, wildcard listing, one factory (the timm pattern).

A model function takes only keyword knobs with defaults and returns an ``nn.Module`` whose
``in_channels`` attribute says what input it expects. Knobs are validated against the
function's signature, so a workload that names an unknown knob fails with the valid ones.
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
    "efficientnet", "resnet", "calibration", "operator_pairs"))


@dataclass(frozen=True)
class ModelEntry:
    name: str
    fn: Callable[..., Any]
    family: str
    default_resolution: int
    description: str
    knobs: dict[str, Any] = field(default_factory=dict)  # knob -> default


_registry: dict[str, ModelEntry] = {}
_loaded = False


def register_model(*, family: str, default_resolution: int = 224, name: str | None = None):
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
        _registry[model_name] = ModelEntry(model_name, fn, family, default_resolution,
                                           doc[0] if doc else "", knobs)
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


def check_knobs(name: str, knobs: dict[str, Any]) -> None:
    entry = get_model_entry(name)
    unknown = sorted(set(knobs) - set(entry.knobs))
    if unknown:
        raise BenchsuiteError(
            f"model '{name}' has no knob {', '.join(repr(k) for k in unknown)} "
            f"(valid: {', '.join(sorted(entry.knobs)) or 'none'})")


def create_model(name: str, **knobs):
    """Build a registered model with the given knobs (defaults fill the rest)."""
    check_knobs(name, knobs)
    model = get_model_entry(name).fn(**knobs)
    if not hasattr(model, "in_channels"):
        raise TypeError(f"model '{name}' does not declare in_channels")
    return model
