"""Where device profiles and workloads are found: built-ins shipped in the package, user files on top.

Layers, highest first; a file in a higher layer overrides a built-in (or lower file) of the same name:

1. `$BENCHSUITE_HOME/{devices,workloads}/`
2. the working folder's `devices/` and `workloads/`
3. the per-user config folder (platformdirs: `~/.config/benchsuite/` on Linux)
4. the built-ins inside the package (`benchsuite/builtin/`), read through importlib.resources

`benchsuite init DIR` copies the built-ins into DIR for editing.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from .errors import BenchsuiteError, SpecError, UnknownNameError

KINDS = ("devices", "workloads")


@dataclass(frozen=True)
class Entry:
    """One spec file: its name, the layer it comes from, where it is, and what it overrides."""
    name: str
    layer: str
    location: Traversable
    shadows: tuple[str, ...] = ()  # the lower layers that hold a file of the same name

    @property
    def path(self) -> str:
        return str(self.location)

    def read_bytes(self) -> bytes:
        return self.location.read_bytes()


def builtin_dir(kind: str) -> Traversable:
    return resources.files("benchsuite") / "builtin" / kind


def defaults() -> dict:
    """The device and workload `benchsuite run` uses when none is given (builtin/defaults.toml)."""
    import tomllib

    return tomllib.loads((resources.files("benchsuite") / "builtin" / "defaults.toml").read_text())


def user_config_dir() -> Path:
    from platformdirs import user_config_dir as ucd

    return Path(ucd("benchsuite"))


def layers(kind: str) -> list[tuple[str, Traversable]]:
    """(layer label, folder) pairs, highest precedence first; folders that do not exist included."""
    out: list[tuple[str, Traversable]] = []
    if os.environ.get("BENCHSUITE_HOME"):
        out.append(("$BENCHSUITE_HOME", Path(os.environ["BENCHSUITE_HOME"]) / kind))
    out.append(("working folder", Path.cwd() / kind))
    out.append(("user config", user_config_dir() / kind))
    out.append(("built-in", builtin_dir(kind)))
    return out


def _tomls(folder: Traversable) -> list[Traversable]:
    try:
        if not folder.is_dir():
            return []
        return sorted((f for f in folder.iterdir() if f.name.endswith(".toml") and f.is_file()),
                      key=lambda f: f.name)
    except OSError:
        return []


def entries(kind: str) -> dict[str, Entry]:
    """name -> the winning Entry, for every spec of this kind ('devices' or 'workloads')."""
    found: dict[str, Entry] = {}
    shadowed: dict[str, list[str]] = {}
    seen_dirs: set[str] = set()
    for layer, folder in layers(kind):
        key = str(folder)
        if key in seen_dirs:  # the working folder can be $BENCHSUITE_HOME too
            continue
        seen_dirs.add(key)
        for f in _tomls(folder):
            name = f.name[:-len(".toml")]
            if name in found:
                shadowed.setdefault(name, []).append(layer)
            else:
                found[name] = Entry(name, layer, f)
    return {n: Entry(e.name, e.layer, e.location, tuple(shadowed.get(n, ()))) for n, e in sorted(found.items())}


def where_looked(kind: str) -> str:
    return "; ".join(f"{layer}: {folder}" for layer, folder in layers(kind))


def resolve(kind: str, name_or_path: str) -> Entry:
    """A spec given by name (looked up in the layers) or by a path to a TOML file."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or os.sep in name_or_path:
        if not p.is_file():
            raise SpecError(name_or_path, "(file)", "no such file")
        return Entry(p.stem, "path", p.resolve())
    found = entries(kind)
    if name_or_path not in found:
        raise UnknownNameError(kind[:-1], name_or_path, found)
    return found[name_or_path]


def init(folder: Path) -> list[Path]:
    """Copy every built-in device profile and workload into folder/devices and folder/workloads.

    Refuses (and copies nothing) when any of those files exists already."""
    plan = [(f, folder / kind / f.name) for kind in KINDS for f in _tomls(builtin_dir(kind))]
    if folder.exists() and not folder.is_dir():
        raise BenchsuiteError(f"{folder} exists and is not a folder")
    clashes = [str(dst) for _, dst in plan if dst.exists()]
    if clashes:
        raise BenchsuiteError(f"refusing to overwrite {len(clashes)} existing file(s) in {folder}: "
                              f"{', '.join(clashes[:5])}{' ...' if len(clashes) > 5 else ''}; "
                              "move them away or choose another folder")
    for src, dst in plan:
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
    return [dst for _, dst in plan]
