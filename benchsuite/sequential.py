"""Measuring until the verdict is decided: the looks of a group-sequential design, and their error rate.

A comparison group is measured in worker processes (the unit of replication). Rather than a fixed count,
the group is judged at declared **looks**, after k0 < k1 < ... < kL processes; it stops at the first look
where every row is decided (its ratio interval wholly beyond the margin, or wholly inside it), or at the
last look. Looking at the data to decide when to stop inflates the error rate of a 95% interval: the
rule here spends alpha over the declared looks (Bonferroni: each look's interval has confidence
1 - alpha / L). A wrong decided row outcome needs the row's interval to miss the true ratio at the look
where it was decided; by the union bound over the L looks, that happens with probability at most alpha
for a row, whatever the stopping rule does with the data. The verdicts of such a run are computed at the
same confidence (run.json's `sequential`), so the final intervals are the ones the rule stopped on.
`tests/test_sequential.py` simulates the rule under optional stopping with between-process noise.

The looks grow geometrically (about x1.6 each), so the penalty of alpha spending stays small (4 looks for
3..12 processes) while a group that is close to a margin edge still gets many more processes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

ALPHA = 0.05
GROWTH = 1.6


@dataclass(frozen=True)
class Design:
    looks: tuple[int, ...]   # process counts at which every group still undecided is judged
    alpha: float = ALPHA     # the family-wise error rate of a row's decision, spent over the looks

    @property
    def confidence(self) -> float:
        """The confidence of every look's intervals (and of the verdicts of the run)."""
        return 1 - self.alpha / len(self.looks)

    @property
    def first(self) -> int:
        return self.looks[0]

    @property
    def last(self) -> int:
        return self.looks[-1]

    def next_after(self, k: int) -> int | None:
        """The next look's process count after k processes, None after the last."""
        return next((n for n in self.looks if n > k), None)

    def to_dict(self) -> dict:
        return {"looks": list(self.looks), "alpha": self.alpha, "confidence": self.confidence,
                "rule": "alpha spent evenly (Bonferroni) over the declared looks"}


def design(first: int, last: int, alpha: float = ALPHA) -> Design:
    """Looks from `first` to `last` processes, each about GROWTH times the previous (at least one more)."""
    if first < 2:
        raise ValueError("a sequential design needs at least 2 processes at its first look (the unit of "
                         "replication is the process)")
    looks = [first]
    while looks[-1] < last:
        looks.append(min(last, max(looks[-1] + 1, math.ceil(looks[-1] * GROWTH))))
    return Design(tuple(looks), alpha)
