"""Post-training int8 quantization against float32, per case and runner: is the quantized model faster?

The claim judged is the premise of quantizing for deployment: an int8 model (1 byte per weight against 4)
runs faster than its float32 original. Per runner that ran both (onnxruntime here: the torch runners record
int8 as `unsupported`), the latency ratio float32/int8 with its interval: holds when int8 is faster beyond
the margin, violated when it is the same or slower, inconclusive when the interval cannot tell. Each row
also shows the size on disk of both models (`model_size`) and the modeled energy ratio (Horowitz's int8
arithmetic, one byte per tensor element for static quantization; dynamic keeps float32 activations); a
measured energy ratio where the device has a meter.
"""
from __future__ import annotations

import numpy as np

from .base import CONFIDENCE, MARGIN, Study, Verdict, WorkloadInfo, div, outcome, sample_ratio, scope_of

CLAIM = "post-training int8 quantization gives a smaller model that runs faster than float32"
INT8 = ("int8_static", "int8_dynamic")
METRICS = ("latency_forward", "model_size", "energy_forward_modeled", "energy_forward", "output_error")


def _key(r: dict) -> tuple:
    return (r["run_id"], r["device"], r["runner"], r["model"], tuple(sorted(r["params"].items())), r["resolution"],
            r["batch_size"], r["threads"])


def int8_verdicts(records: list[dict], samples, margin: float = MARGIN,
                  conf: float = CONFIDENCE) -> list[Verdict]:
    rng = np.random.default_rng(0)
    found: dict[tuple, dict] = {}
    for r in records:
        if r["status"] == "ok" and r["metric"] in METRICS and r["dtype"] in ("float32", *INT8):
            found.setdefault(_key(r), {})[(r["dtype"], r["metric"])] = r
    out = []
    for key, got in found.items():
        base = got.get(("float32", "latency_forward"))

        def value(dtype, metric, got=got):
            return got[(dtype, metric)]["value"] if (dtype, metric) in got else None

        for mode in INT8:
            row = got.get((mode, "latency_forward"))
            if base is None or row is None:
                continue
            ratio, lo, hi, method = sample_ratio(row, base, samples, rng, conf)  # int8 latency / float32 latency
            result = outcome(lo, hi, margin)
            verdict = {"faster": "holds", "same": "violated", "slower": "violated"}.get(result, "inconclusive")
            vrow = {"row": {"quantization": mode.removeprefix("int8_")}, "latency_fp32_s": base["value"],
                    "latency_int8_s": row["value"], "speed_ratio": 1 / ratio, "speed_ratio_ci": [1 / hi, 1 / lo],
                    "interval": method, "outcome": result,
                    "size_fp32_b": value("float32", "model_size"), "size_int8_b": value(mode, "model_size"),
                    "size_ratio": div(value("float32", "model_size"), value(mode, "model_size")),
                    "energy_ratio_modeled": div(value("float32", "energy_forward_modeled"),
                                                value(mode, "energy_forward_modeled")),
                    "energy_ratio_measured": div(value("float32", "energy_forward"), value(mode, "energy_forward")),
                    "output_error": value(mode, "output_error"), "latency_s": row["value"]}
            scope = scope_of(row, without=("dtype",), model=row["model"], quantization=vrow["row"]["quantization"],
                             **row["params"])
            config = row.get("config") or {}
            how = ", ".join(f"{k} {config[k]}" for k in ("weights", "activations", "calibration") if k in config)
            note = f"interval: {method}; {config.get('quantization', mode)} quantization ({how})"
            out.append(Verdict("int8", CLAIM, verdict, scope, [vrow], note=note, study="int8_quantization",
                               margin=margin))
    return out


class Int8QuantizationStudy(Study):
    name = "int8_quantization"
    title = "Post-training int8 quantization against float32: size, speed, energy (the compression post)"
    order = 47

    def verdicts(self, records, samples, workload: WorkloadInfo) -> list[Verdict]:
        return int8_verdicts(records, samples, workload.margin, workload.confidence)

    def format_row(self, verdict, r) -> str:
        lo, hi = r["speed_ratio_ci"]
        size = (f"size {r['size_fp32_b'] / 1e6:.2f} -> {r['size_int8_b'] / 1e6:.2f} MB (x{r['size_ratio']:.2f})"
                if r.get("size_ratio") else "size -")
        energy = f"modeled energy x{r['energy_ratio_modeled']:.2f}" if r.get("energy_ratio_modeled") else "energy -"
        if r.get("energy_ratio_measured"):
            energy += f", measured x{r['energy_ratio_measured']:.2f}"
        return (f"{r['row']['quantization']:8s} {r['latency_fp32_s'] * 1e3:.3f} -> {r['latency_int8_s'] * 1e3:.3f} ms "
                f"speed-up x{r['speed_ratio']:.2f} [{lo:.2f}, {hi:.2f}] {r['outcome']}; {size}; {energy}")

    def headline(self, verdict) -> tuple[str, str]:
        r = verdict.rows[0]
        lo, hi = r["speed_ratio_ci"]
        size = f", size x{r['size_ratio']:.1f} smaller" if r.get("size_ratio") else ""
        return (f"{r['row']['quantization']}: x{r['speed_ratio']:.2f} [{lo:.2f}, {hi:.2f}]{size}",
                "no published figure: 1 byte per weight against 4 is the premise")

    def figures(self, df, verdicts):
        from .. import figures

        spec = figures.speed_bars(verdicts, lambda r: {"size ratio": r["size_ratio"]} if r.get("size_ratio") else {},
                                  "speed-up of int8 over float32")
        return [(spec, "int8 speed-ups over float32, with the size ratio on disk as a marker")]
