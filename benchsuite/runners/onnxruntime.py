"""onnxruntime: the model exported to ONNX from torch, run by an InferenceSession. Forward only. The int8
dtypes run the exported model after post-training quantization (onnx_quantization)."""
from __future__ import annotations

import importlib.util
import io
import time

import torch

from .. import run_cache
from ..measure import Timed
from ..metrics import Metric
from .base import FLOAT_DTYPES, Prepared, Runner, UnsupportedCase, inference_only
from .onnx_quantization import MODES, quantize

LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED",
          "all": "ORT_ENABLE_ALL"}
INFERENCE_ONLY = inference_only("onnxruntime runs inference only: no autograd, so no training forward or backward pass")


def export_onnx(model: torch.nn.Module, example: torch.Tensor, exporter: str) -> bytes:
    """ONNX bytes of `model` on `example`: the torch.export-based exporter, or the TorchScript one."""
    model.eval()
    if exporter == "dynamo":
        program = torch.onnx.export(model, (example,), dynamo=True, verbose=False)
        return program.model_proto.SerializeToString()
    if exporter == "torchscript":
        buf = io.BytesIO()
        torch.onnx.export(model, (example,), buf, dynamo=False, opset_version=17)
        return buf.getvalue()
    raise ValueError(f"unknown exporter '{exporter}' (valid: dynamo, torchscript)")


class OnnxRuntimeRunner(Runner):
    name = "onnxruntime"
    description = "onnxruntime InferenceSession on a model exported from torch (CPU; CUDA with onnxruntime-gpu)"
    # calibration_samples: generated inputs that calibrate int8_static's activation ranges; node_profile:
    # after the timing is prepared, run the session under onnxruntime's profiler for `node_profile_runs` runs
    # and record its nodes' times (benchsuite profile turns it on: a kernel's own time is its op node's, apart
    # from the layout reorders around it and the executor's overhead per run and per node)
    options = {"exporter": "dynamo", "graph_optimization_level": "all", "inter_op_threads": 1, "io_binding": True,
               "calibration_samples": 16, "node_profile": False, "node_profile_runs": 50}
    dtypes = FLOAT_DTYPES + MODES
    layout_ops = ("ReorderInput", "ReorderOutput")
    metrics = (
        Metric("kernel_node_time", "s", "runner", "a run's time in the optimised graph's compute nodes, median "
               "over runs (onnxruntime's profiler)"),
        Metric("layout_node_time", "s", "runner", "a run's time in the layout reorders the graph optimiser "
               "inserted (NCHWc ReorderInput/ReorderOutput), median over runs (onnxruntime's profiler)"),
        Metric("nodes_per_run", "count", "runner", "the nodes onnxruntime executes per run (its profiler)"),
    )

    def availability(self) -> tuple[bool, str]:
        try:
            import onnxruntime  # noqa: F401
        except ImportError as e:
            return False, f"{e.name} not installed (pip install 'benchsuite[onnx]')"
        # torch.onnx's exporter imports onnxscript when it exports; a worker whose export the run already
        # keeps (run_cache) need not pay its import (0.7-0.8 s a process here): found, not imported
        if importlib.util.find_spec("onnxscript") is None:
            return False, "onnxscript not installed (pip install 'benchsuite[onnx]')"
        return True, ""

    def prepare(self, model, example, case, options, device) -> Prepared:
        import onnxruntime as ort

        from .torch_common import DTYPES

        if options["graph_optimization_level"] not in LEVELS:
            raise ValueError(f"graph_optimization_level {options['graph_optimization_level']!r} "
                             f"(valid: {', '.join(LEVELS)})")
        quantized = case.dtype in MODES
        if quantized and device.kind == "gpu":
            raise UnsupportedCase("int8 here is onnxruntime's CPU quantization (QLinearConv, ConvInteger); its CUDA "
                                  "provider has no int8 convolution kernels (TensorRT's provider would: not built)")
        if options["calibration_samples"] < 1:
            raise ValueError("onnxruntime option calibration_samples must be at least 1")
        float_dtype = DTYPES["float32" if quantized else case.dtype]  # int8 starts from the float32 export
        model, example = model.to(float_dtype), example.to(float_dtype)
        t0 = time.perf_counter()
        # the same seeded model gives the same graph in every process of a run: exported once (run_cache)
        onnx_bytes, exported = run_cache.kept(f"{case.case_id}-{options['exporter']}.onnx",
                                              lambda: export_onnx(model, example, options["exporter"]))
        export_time = time.perf_counter() - t0
        one_shot = [{"metric": "export_time", "value": export_time, "message": f"torch.onnx ({options['exporter']})"}
                    ] if exported else []  # a reused export has no time of its own: the process that made it says
        quant_config = {}
        if quantized:
            t0 = time.perf_counter()
            onnx_bytes, quant_config = quantize(onnx_bytes, case.dtype, example, options["calibration_samples"])
            one_shot.append({"metric": "quantization_time", "value": time.perf_counter() - t0,
                             "message": f"onnxruntime.quantization ({quant_config['quantization']})"})
        one_shot.append({"metric": "model_size", "value": len(onnx_bytes),
                         "message": "the serialized ONNX model the session loads (weights included)"
                                    + (f", after int8 quantization ({quant_config['quantization']})" if quantized
                                       else f", {case.dtype}")})

        so = _session_options(options, case.threads)
        if device.kind == "gpu":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise RuntimeError("device is a GPU but this onnxruntime has no CUDAExecutionProvider "
                                   "(install onnxruntime-gpu)")
            providers = ["CUDAExecutionProvider"]
        else:
            providers = ["CPUExecutionProvider"]
        t0 = time.perf_counter()
        sess = ort.InferenceSession(onnx_bytes, so, providers=providers)
        session_time = time.perf_counter() - t0
        in_name = sess.get_inputs()[0].name
        x = example.contiguous().numpy()

        if device.kind == "gpu" and options["io_binding"]:
            binding = sess.io_binding()
            binding.bind_ortvalue_input(in_name, ort.OrtValue.ortvalue_from_numpy(x, "cuda", 0))
            binding.bind_output(sess.get_outputs()[0].name, "cuda")

            def run():
                sess.run_with_iobinding(binding)
                binding.synchronize_outputs()

            def output():
                run()
                return torch.from_numpy(binding.copy_outputs_to_cpu()[0])
        else:
            feed = {in_name: x}

            def run():
                return sess.run(None, feed)

            def output():
                return torch.from_numpy(run()[0])

        config = {"exporter": options["exporter"], "graph_optimization_level": options["graph_optimization_level"],
                  "provider": providers[0], "onnxruntime": ort.__version__, **quant_config}
        if options["node_profile"]:
            one_shot += self._node_times(onnx_bytes, options, case.threads, providers, in_name, x)
        return Prepared(
            timed={"latency_forward": Timed(run=run)}, output=output, config=config,
            unsupported=INFERENCE_ONLY,
            one_shot=one_shot + [{"metric": "session_time", "value": session_time,
                                  "message": "InferenceSession creation (graph optimisation included)"}])

    def _node_times(self, onnx_bytes, options, threads, providers, in_name, x) -> list[dict]:
        """The nodes' times in a run, from a second session under onnxruntime's profiler: its node durations,
        not its wall time, which the profiler's own work inflates (by ~15% on a one-op model here)."""
        import json
        import os
        import tempfile

        import onnxruntime as ort

        so = _session_options(options, threads)
        so.enable_profiling = True
        runs = int(options["node_profile_runs"])
        with tempfile.TemporaryDirectory() as tmp:
            so.profile_file_prefix = os.path.join(tmp, "nodes")
            sess = ort.InferenceSession(onnx_bytes, so, providers=providers)
            feed = {in_name: x}
            sess.run(None, feed)  # the first run allocates: not counted (its events are skipped below)
            t0 = time.perf_counter()
            for _ in range(runs):
                sess.run(None, feed)
            wall = (time.perf_counter() - t0) / runs
            with open(sess.end_profiling()) as f:
                events = json.load(f)
        import numpy as np

        runs_seen = sorted(e["ts"] for e in events if e.get("cat") == "Session" and e.get("name") == "model_run")
        nodes = [e for e in events if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time")
                 and len(runs_seen) > 1 and e["ts"] >= runs_seen[1]]  # the first run allocates: skipped
        per_run: dict[int, list[float]] = {}
        for e in nodes:
            i = int(np.searchsorted(runs_seen, e["ts"], side="right")) - 1
            t = per_run.setdefault(i, [0.0, 0.0, 0])
            t[e["args"].get("op_name") in self.layout_ops] += e["dur"] * 1e-6
            t[2] += 1
        if not per_run:
            return []
        compute, layout, count = (float(np.median([t[j] for t in per_run.values()])) for j in range(3))
        ops = sorted({e["args"].get("op_name", "?") for e in nodes})
        how = (f"onnxruntime's profiler, median over {len(per_run)} runs of a second session "
               f"({1e6 * wall:.1f} us a run with the profiler on); nodes: {', '.join(ops)}")
        return [{"metric": "kernel_node_time", "value": compute, "message": how},
                {"metric": "layout_node_time", "value": layout, "message": how},
                {"metric": "nodes_per_run", "value": count, "unit": "count", "message": how}]

    def executed_ops(self, model, example, options, threads) -> list[str]:
        """The op types of the graph onnxruntime runs after its optimisation (its optimized model file)."""
        import os
        import tempfile

        import onnx
        import onnxruntime as ort

        onnx_bytes = export_onnx(model, example, options["exporter"])
        so = _session_options(options, threads)
        with tempfile.TemporaryDirectory() as tmp:
            so.optimized_model_filepath = os.path.join(tmp, "optimized.onnx")
            so.log_severity_level = 3  # its warning that the file holds hardware-specific ops: known
            ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])
            return [n.op_type for n in onnx.load(so.optimized_model_filepath).graph.node]


def _session_options(options: dict, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = options["inter_op_threads"]
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, LEVELS[options["graph_optimization_level"]])
    return so
