"""Input sizes (ShuffleNet V2 appendix): the four FLOP tiers of each architecture family at 224x224 and at the
larger inputs 320x320, 640x480 and 1080x720. Two verdicts per device, runner, threads, batch and metric:

- `input sizes`, per tier: is ShuffleNet V2 faster than every other model of its tier *at every size*? Each
  model is compared with ShuffleNet V2 at the same input size (the ratio's 95% interval as in equal_flops:
  over processes where there are several). Holds when every (model, size) row is `slower` beyond the margin,
  is violated when any is `faster` or the `same`, else inconclusive. Beside each row, the paper's speed of
  the model over ShuffleNet V2's at that size and tier: the appendix's GPU (batches/s, batch 8, GTX 1080Ti)
  and CPU (images/s, batch 1) columns; at 224x224, Table 8's GPU and ARM columns (the ARM phone is the
  appendix's CPU column at 224: ShuffleNet V2 0.5x runs 57.0 images/s at 224x224 and 28.1 at 320x320, x2.03
  for x2.04 the pixels).
- `input-size scaling`: per model, the exponent k of latency ~ pixels^k (OLS on log-log, 95% t-interval from
  three sizes or more), beside the exponent the paper's speeds imply over its three appendix sizes (GPU and
  CPU). Holds when every model's interval is above 0 (latency grows with pixels), else inconclusive; the
  numbers are the finding: k near 1 is compute-bound scaling, well below 1 a network too small to fill the
  device at small inputs (the paper's GPU at batch 8 and 40M).

The workload names each row's appendix family in an `appendix` tag and its Table 8 row in a `table8` tag.
"""
from __future__ import annotations

import functools

import numpy as np

from ..input_size import parse_input_size
from .base import LATENCY, Verdict, WorkloadInfo, reference_rows, scope_of
from .equal_flops import EqualFlopsStudy, TierClaim, paper_text, speed_markers, table8_row, tier_verdicts
from .resolution import latency_figure, pixel_fits

REFERENCE = "shufflenetv2_input_sizes.csv"
COLUMNS = (("gpu", "gpu_batches_per_s"), ("cpu", "cpu_images_per_s"))
PUBLISHED = ("ShuffleNet V2 appendix (GPU batches/s at batch 8, GTX 1080Ti; CPU images/s at batch 1) at 320x320, "
             "640x480 and 1080x720, and Table 8 (its ARM column as the CPU) at 224x224; paper ratios are the "
             "model's speed over ShuffleNet V2's of the same tier at the same size")


@functools.cache
def appendix() -> dict[tuple[str, str, int], dict]:
    """The appendix's rows by (input size as benchsuite writes it, family, tier in MFLOPs)."""
    return {(str(parse_input_size(r["input_size"])), r["model"], int(r["tier_mflops"])): r
            for r in reference_rows(REFERENCE)}


def _tier_mflops(tags: dict) -> int | None:
    tier = str(tags.get("tier", "")).rstrip("M")
    return int(tier) if tier.isdigit() else None


def paper_row(record: dict) -> dict | None:
    """The paper's row for a record: Table 8's at 224x224 (its ARM speed as the CPU column), else the
    appendix's for the record's family (`appendix` tag), tier and input size."""
    tags = record.get("tags") or {}
    if record["resolution"] == "224":
        row = table8_row(record)
        return {**row, "cpu_images_per_s": row["arm_images_per_s"]} if row else None
    row = appendix().get((record["resolution"], tags.get("appendix"), _tier_mflops(tags)))
    return {**row, "model": f"{row['model']} {row['tier_mflops']}M at {row['input_size']}"} if row else None


INPUT_SIZES = TierClaim("input sizes", "at every input size ShuffleNet V2 is faster than the other compact "
                        "architectures of its FLOP tier", PUBLISHED, "input_sizes", paper_row, COLUMNS,
                        pair_by=("resolution",))


def paper_exponents(family: str | None, tier: int | None) -> dict:
    """The exponent of latency ~ pixels^k that the appendix's speeds imply (latency = 1 / speed) over its
    three sizes, per device column."""
    rows = [r for (_, f, t), r in appendix().items() if f == family and t == tier]
    out = {}
    for device, column in COLUMNS:
        pts = [(parse_input_size(r["input_size"]).pixels, float(r[column])) for r in rows if r.get(column)]
        if len(pts) > 1:
            x, speed = np.log([p for p, _ in pts]), np.array([s for _, s in pts])
            out[device] = float(np.polyfit(x, -np.log(speed), 1)[0])
    return out


def scaling_verdicts(records: list[dict]) -> list[Verdict]:
    from .. import figures
    from ..records import to_frame

    df = to_frame([r for r in records if r["status"] == "ok" and r["metric"] in LATENCY])
    if df.empty:
        return []
    df = df.assign(pixels=df.height.astype(int) * df.width.astype(int),
                   label=[f"{r.model} {figures.knob_text(r)}" for _, r in df.iterrows()])
    keys = ["run_id", "device", "runner", "threads", "batch_size", "dtype", "metric"]
    out = []
    for key, grp in df.groupby(keys, sort=False):
        fits = pixel_fits(grp, grp.label)
        if not fits:
            continue
        first = {label: r for label, r in zip(grp.label, grp.to_dict("records"))}
        for f in fits:
            tags = {k[5:]: v for k, v in first[f["model"]].items() if k.startswith("tags.")}
            f.update(tier=tags.get("tier"), paper=paper_exponents(tags.get("appendix"), _tier_mflops(tags)))
        fits.sort(key=lambda f: (_tier_mflops({"tier": f["tier"]}) or 0, f["model"]))
        grows = all(f["exponent_ci"] and f["exponent_ci"][0] > 0 for f in fits)
        scope = scope_of(dict(zip(keys, key)), without=("resolution",))
        out.append(Verdict("input-size scaling", "latency grows with pixel count (fitted exponent per model)",
                           "holds" if grows else "inconclusive", scope, fits,
                           "exponent 1 = linear in pixels; 95% OLS t-interval over the sizes run; the paper's "
                           "from its appendix's three sizes (latency = 1 / speed)", study="input_sizes"))
    return out


class InputSizesStudy(EqualFlopsStudy):
    name = "input_sizes"
    title = "Input sizes: is ShuffleNet V2 the fastest of its tier at 224 to 1080x720? (ShuffleNet V2 appendix)"
    order = 36

    def verdicts(self, records, samples, workload: WorkloadInfo) -> list[Verdict]:
        return (tier_verdicts(records, samples, workload.margin, workload.confidence, INPUT_SIZES)
                + scaling_verdicts(records))

    def row_label(self, r) -> str:
        knobs = ",".join(f"{k}={v}" for k, v in r["row"].items() if k not in ("model", "resolution"))
        return f"{r['row']['resolution']:>8s} {r['row']['model']} {knobs}"

    def format_row(self, verdict, r) -> str:
        if verdict.label == "input-size scaling":
            ci = "[{:.2f}, {:.2f}]".format(*r["exponent_ci"]) if r["exponent_ci"] else "(no interval)"
            paper = " ".join(f"{d} {k:.2f}" for d, k in r["paper"].items()) or "-"
            return f"{r['tier'] or '':5s} {r['model']:34s} latency ~ pixels^{r['exponent']:.2f} {ci}  paper: {paper}"
        return super().format_row(verdict, r)

    def headline(self, verdict) -> tuple[str, str]:
        if verdict.label == "input-size scaling" or not verdict.rows:
            return "", ""
        r = min(verdict.rows, key=lambda x: x["latency_ratio"])  # the closest rival at any size
        lo, hi = r["latency_ratio_ci"]
        return (f"{verdict.scope['tier']}: closest {r['row']['model']} @{r['row']['resolution']} "
                f"x{r['latency_ratio']:.2f} [{lo:.2f}, {hi:.2f}] of ShuffleNet V2's latency",
                f"paper: speed {paper_text(r)} of ShuffleNet V2's")

    def figures(self, df, verdicts):
        from .. import figures

        tiers = [v for v in verdicts if v.label == "input sizes"]
        bars = figures.speed_bars(tiers, speed_markers, "speed relative to ShuffleNet V2 at the same size")
        return [(bars, "each model's speed relative to ShuffleNet V2 of its tier, at each input size"),
                (latency_figure(df, by_knobs=True), "latency vs pixels per model, log-log")]
