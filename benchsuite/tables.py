"""Print rows (a list of dicts with the same keys) as an aligned table, CSV or JSON."""
from __future__ import annotations

import csv
import json
import sys


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10000:
        return f"{v:,}"
    return "" if v is None else str(v)


def print_table(rows: list[dict], fmt: str = "table", out=None) -> None:
    out = out or sys.stdout
    if fmt == "json":
        json.dump(rows, out, indent=2, default=str)
        out.write("\n")
        return
    cols = list(rows[0]) if rows else []
    if fmt == "csv":
        w = csv.DictWriter(out, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
        return
    cells = [[_fmt(r.get(c)) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    out.write("  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip() + "\n")
    for row in cells:
        out.write("  ".join(v.rjust(w) if v[:1].isdigit() or v[:1] == "-" else v.ljust(w)
                            for v, w in zip(row, widths)).rstrip() + "\n")
