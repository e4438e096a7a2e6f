"""The element types a case can run in (a workload's `dtypes`, `count --dtype`).

int8_static / int8_dynamic: post-training int8 quantization, activations calibrated ahead (static) or
quantized per call (dynamic); only runners that list them in their `dtypes` run them.
"""
DTYPES = ("float32", "float16", "bfloat16", "int8_static", "int8_dynamic")
