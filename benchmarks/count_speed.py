"""How long analytic counting takes for every model of the zoo at 224x224 (goal: under 2 s each)."""
from __future__ import annotations

import sys
import time

from benchsuite.counting import count_registered
from benchsuite.models import get_model_entry, list_models


def main() -> int:
    worst = 0.0
    for name in list_models():
        entry = get_model_entry(name)
        res = 224 if entry.family not in ("guideline",) and name != "mobilenet_v2_cifar" else None
        t0 = time.perf_counter()
        totals = count_registered(name, res).totals()
        dt = time.perf_counter() - t0
        worst = max(worst, dt)
        print(f"{name:26s} {dt * 1e3:8.1f} ms   madds {totals['madds'] / 1e6:9.1f}M  "
              f"params {totals['params'] / 1e6:7.3f}M")
    print(f"slowest: {worst:.2f} s (goal < 2 s; the first count includes importing torch.fx)")
    return 0 if worst < 2 else 1


if __name__ == "__main__":
    sys.exit(main())
