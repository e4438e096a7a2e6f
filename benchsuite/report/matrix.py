"""The report's first screen: which claims hold on which device and runner, by how much, and how sure.

Rows are claims (a study and the scope that is not the device or runner: channel set, multiplier,
channel width ...); columns are device x runner x pass (forward / backward) x threads. Each cell holds
the verdict, the study's headline number with its interval, the paper's figure on hover, and links to
the study's section. Above it, a summary in plain words generated from the same verdicts.
"""
from __future__ import annotations

import html
from collections import Counter

from ..studies import get_study, study_names

COLUMN_KEYS = ("device", "runner", "metric", "threads")
NOT_CLAIM = set(COLUMN_KEYS) | {"batch_size", "dtype", "resolution", "height", "width"}
PASS = {"latency_forward": "fwd", "latency_backward": "bwd", "latency_forward_train": "fwd-train"}


def claim(v) -> str:
    extra = ", ".join(f"{k}={val}" for k, val in v.scope.items() if k not in NOT_CLAIM)
    return f"{v.label} ({extra})" if extra else v.label


def column(v) -> tuple:
    s = v.scope
    return (s.get("device", "?"), s.get("runner", "?"), PASS.get(s.get("metric"), s.get("metric") or "-"),
            s.get("threads", "-"))


def _headline(v) -> tuple[str, str]:
    study = get_study(v.study) if v.study in study_names() else None
    return study.headline(v) if study is not None else ("", "")


def anchor(study_name: str) -> str:
    return f"study-{study_name}"


def matrix(verdicts) -> str:
    if not verdicts:
        return '<p class="absent">No verdicts in these runs: run a workload that names a study.</p>'
    cols = sorted({column(v) for v in verdicts}, key=lambda c: tuple(map(str, c)))
    rows: dict[str, dict[tuple, object]] = {}
    for v in verdicts:
        rows.setdefault(claim(v), {})[column(v)] = v
    head = "".join(f"<th>{html.escape(d)}<br>{html.escape(r)}<br>{html.escape(p)} t{t}</th>" for d, r, p, t in cols)
    body = []
    for name in sorted(rows):
        cells = []
        for c in cols:
            v = rows[name].get(c)
            if v is None:
                cells.append('<td class="cell notrun">not run</td>')
                continue
            number, paper = _headline(v)
            tip = " ".join(x for x in (paper, v.note) if x)
            cells.append(f'<td class="cell {v.verdict}" title="{html.escape(tip)}"><a href="#{anchor(v.study)}">'
                         f'{v.verdict}</a><br><span class="num">{html.escape(number)}</span></td>')
        body.append(f"<tr><th class='claim'>{html.escape(name)}</th>{''.join(cells)}</tr>")
    return (f'<table id="verdict-matrix"><thead><tr><th>claim</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def summary(verdicts) -> str:
    """One paragraph per device, in plain words, from the verdicts."""
    if not verdicts:
        return ""
    parts = []
    for device in sorted({v.scope.get("device", "?") for v in verdicts}):
        vs = [v for v in verdicts if v.scope.get("device", "?") == device]
        n = Counter(v.verdict for v in vs)
        violated = Counter(f"{v.label} under {v.scope.get('runner')}" for v in vs if v.verdict == "violated")
        said = "; ".join(f"{k}" + (f" ({c} scopes)" if c > 1 else "") for k, c in violated.items())
        text = (f"On {device}, {n['holds']} of {len(vs)} verdicts agree with the paper, {n['violated']} "
                f"contradict it and {n['inconclusive']} are inconclusive (an interval within or across the "
                "margin, emulated timings, or a runner's own caveat such as untuned kernels).")
        if said:
            text += f" Violated: {said}."
        parts.append(f"<p class='summary'>{html.escape(text)}</p>")
    return "".join(parts)
