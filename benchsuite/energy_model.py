"""Modeled energy (source `modeled`): Horowitz's per-operation energies x counted operations, plus memory
traffic charged at the level of the memory hierarchy that holds it.

Cache-aware rule, per layer of the counted graph (sequential execution, repeated inference as timed):
the layer's working set is its analytic memory access (inputs read + weights read + outputs written).
Its bytes are charged at the energy of the smallest cache level that holds that working set, or at
DRAM when none does. Weights are charged at DRAM whatever the layer's working set when the model's
steady-state footprint (all weights + the peak of live activations) exceeds the last-level cache: they
were evicted since the previous inference. Cache sizes come from the device profile's
`[energy] caches` table, else from the machine the worker runs on (Linux sysfs); where neither is
known every byte is charged at DRAM, and the record says so.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

SYSFS_CPU = Path("/sys/devices/system/cpu/cpu0/cache")
# The energy constants' arithmetic for a quantized case: int8 multiply-adds (the int32 accumulation is
# charged as an 8-bit add: the constants file carries no 32-bit integer figure)
ARITHMETIC = {"int8_static": "int8", "int8_dynamic": "int8"}


def constants() -> dict:
    return tomllib.loads(resources.files("benchsuite.data").joinpath("energy_constants.toml").read_text())


@dataclass(frozen=True)
class Caches:
    """Data cache levels, smallest first: {name: bytes}; where the sizes came from."""
    sizes: dict
    source: str

    def describe(self) -> str:
        if not self.sizes:
            return f"cache sizes unknown ({self.source}): every byte charged at DRAM"
        return ", ".join(f"{k} {_human(v)}" for k, v in self.sizes.items()) + f" (from {self.source})"


def _human(n: int) -> str:
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} B"


def host_caches(root: Path = SYSFS_CPU) -> Caches:
    """The data and unified cache levels of the machine this runs on, from Linux sysfs."""
    sizes = {}
    for index in sorted(root.glob("index*")) if root.is_dir() else []:
        try:
            kind = (index / "type").read_text().strip()
            level = int((index / "level").read_text())
            text = (index / "size").read_text().strip()
        except (OSError, ValueError):
            continue
        if kind == "Instruction":
            continue
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:].upper(), 1)
        try:
            size = int(text.rstrip("KMGkmg")) * scale
        except ValueError:
            continue
        sizes[f"L{level}" + ("d" if kind == "Data" else "")] = size
    if not sizes:
        return Caches({}, f"no cache sizes in the profile and none readable under {root}")
    return Caches(dict(sorted(sizes.items(), key=lambda kv: kv[1])), "this machine's sysfs")


def caches_for(device) -> Caches:
    """The profile's `[energy] caches`; else a GPU's L2 as CUDA reports it; else, where the worker runs on
    the device itself, its sysfs. A board behind a TVM RPC tracker (the worker runs here) needs the table."""
    profile = (getattr(device, "energy", None) or {}).get("caches")
    if profile:
        return Caches(dict(sorted(profile.items(), key=lambda kv: kv[1])), "the device profile")
    kind = getattr(device, "kind", "cpu")
    if kind == "gpu":
        return _gpu_caches()
    if getattr(device, "remote", None) is not None and getattr(device, "transport", None) is None:
        return Caches({}, "the board is reached by RPC, so this host's caches are not its: set [energy] caches")
    return host_caches()


def _gpu_caches() -> Caches:
    try:
        import torch

        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            if getattr(props, "L2_cache_size", 0):
                return Caches({"L2": int(props.L2_cache_size)}, f"CUDA's properties of {props.name}")
    except Exception as e:  # noqa: BLE001 - the model falls back to DRAM and says why
        return Caches({}, f"CUDA's device properties could not be read ({type(e).__name__})")
    return Caches({}, "no CUDA device to read the L2 size from and no [energy] caches in the profile")


def cache_pj_per_64bit(size: int, c: dict | None = None) -> tuple[float, bool]:
    """Energy of a 64-bit access to a cache of `size` bytes, and whether it is extrapolated past the
    source's largest cache (log-log interpolation between the source's points, capped at DRAM)."""
    mem = (c or constants())["memory"]
    points = sorted(mem["cache_points"])
    if size <= points[0][0]:
        return float(points[0][1]), False
    for (s0, e0), (s1, e1) in zip(points, points[1:]):
        if size <= s1:
            t = math.log(size / s0) / math.log(s1 / s0)
            return float(e0 * (e1 / e0) ** t), False
    (s0, e0), (s1, e1) = points[-2], points[-1]
    slope = math.log(e1 / e0) / math.log(s1 / s0)
    return float(min(mem["dram_pj_per_64bit"], e1 * (size / s1) ** slope)), True


def modeled_energy(counts, dtype: str, caches: Caches) -> tuple[float, str, dict]:
    """(joules per forward pass, how it was made, a breakdown for the record's config) for a
    counting.CountResult. Raises KeyError for a dtype the source has no figure for."""
    from .counting import DTYPE_BYTES, WEIGHT_BYTES

    c = constants()
    ops = c[ARITHMETIC.get(dtype, dtype)]
    totals = counts.totals()
    arithmetic_pj = totals["madds"] * (ops["mult_pj"] + ops["add_pj"]) + totals["elementwise_ops"] * ops["add_pj"]
    dram_pj = c["memory"]["dram_pj_per_64bit"]
    levels = [(name, size, *cache_pj_per_64bit(size, c)) for name, size in caches.sizes.items()]
    per_weight = WEIGHT_BYTES.get(dtype, DTYPE_BYTES[dtype])
    weight_bytes = totals["params"] * per_weight
    llc = levels[-1][1] if levels else 0
    weights_evicted = weight_bytes + totals["peak_activation_bytes"] > llc
    by_level = {name: 0 for name, *_ in levels} | {"DRAM": 0}
    for layer in counts.layers:
        level = next((lv for lv in levels if layer.mac_bytes <= lv[1]), None)
        name = level[0] if level else "DRAM"
        w = min(layer.params * per_weight, layer.mac_bytes)
        if weights_evicted and level is not None:
            by_level["DRAM"] += w
            by_level[name] += layer.mac_bytes - w
        else:
            by_level[name] += layer.mac_bytes
    per_64bit = {name: e for name, _, e, _ in levels} | {"DRAM": dram_pj}
    pj = {name: n / 8 * per_64bit[name] for name, n in by_level.items()}
    memory_pj = sum(pj.values())
    extrapolated = [name for name, _, _, ex in levels if ex]
    how = (f"{c['source']}: arithmetic {arithmetic_pj * 1e-6:.3g} uJ + memory {memory_pj * 1e-6:.3g} uJ ("
           + ", ".join(f"{k} {v * 1e-6:.3g} uJ" for k, v in pj.items() if by_level[k]) + f") ({dtype}); caches: "
           + caches.describe() + "; per layer, bytes charged at the smallest level holding its working set"
           + (f"; {'/'.join(extrapolated)} energy extrapolated past the source's 1 MB point" if extrapolated else "")
           + ("; weights charged at DRAM: weights + peak activations exceed the last-level cache"
              if weights_evicted and levels else ""))
    config = {"caches": caches.sizes, "cache_source": caches.source, "bytes_by_level": by_level,
              "uj_by_level": {k: round(v * 1e-6, 6) for k, v in pj.items()},
              "arithmetic_uj": round(arithmetic_pj * 1e-6, 6), "dram_bytes": by_level["DRAM"]}
    return (arithmetic_pj + memory_pj) * 1e-12, how, config
