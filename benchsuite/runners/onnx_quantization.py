"""Post-training int8 quantization of an exported ONNX model with onnxruntime's quantization tools.

`int8_static`: activations calibrated ahead on a calibration set generated here (seeded normal inputs of
the case's shape, drawn apart from the input the output check uses; no data set is downloaded), QDQ format,
uint8 activations and int8 weights per channel (onnxruntime's recommended CPU setting, fused into
QLinearConv and friends by the session). `int8_dynamic`: int8 weights, activations quantized inside each
operator per call (DynamicQuantizeLinear + ConvInteger or MatMulInteger; uint8 weights, the form onnxruntime's CPU
ConvInteger kernel takes). Both start from the model after onnxruntime's quantization pre-processing
(shape inference and graph clean-up).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

MODES = ("int8_static", "int8_dynamic")
CALIBRATION_SEED = 2  # the output check's input is drawn with seed 1 (preparation.build_case)


def calibration_inputs(example, samples: int, seed: int = CALIBRATION_SEED) -> list:
    """`samples` seeded standard-normal arrays shaped like `example` (the distribution the suite feeds)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(example.shape, generator=gen).numpy() for _ in range(samples)]


def quantize(onnx_bytes: bytes, mode: str, example, samples: int) -> tuple[bytes, dict]:
    """(the quantized model's bytes, the settings that shaped it) for `mode` in MODES."""
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_dynamic, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if mode not in MODES:
        raise ValueError(f"unknown quantization {mode!r} (valid: {', '.join(MODES)})")
    with tempfile.TemporaryDirectory() as tmp:
        src, pre, out = (Path(tmp) / f for f in ("float.onnx", "pre.onnx", "int8.onnx"))
        src.write_bytes(onnx_bytes)
        quant_pre_process(str(src), str(pre))
        if mode == "int8_dynamic":
            quantize_dynamic(str(pre), str(out), weight_type=QuantType.QUInt8)
            config = {"quantization": "dynamic", "weights": "uint8 per tensor", "activations": "per call"}
        else:
            name = onnx.load(str(pre)).graph.input[0].name

            class Generated(CalibrationDataReader):
                def __init__(self):
                    self.feeds = iter({name: x} for x in calibration_inputs(example, samples))

                def get_next(self):
                    return next(self.feeds, None)

            quantize_static(str(pre), str(out), Generated(), quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                            calibrate_method=CalibrationMethod.MinMax)
            config = {"quantization": "static QDQ", "weights": "int8 per channel", "activations": "uint8",
                      "calibration": f"min-max over {samples} generated normal inputs (seed {CALIBRATION_SEED})"}
        return out.read_bytes(), config
