"""PyTorch eager execution: the reference runner, forward and backward."""
from __future__ import annotations

import copy

import torch

from .base import Prepared, Runner
from .torch_common import DTYPES, device_timed, torch_device, train_timings


def cuda_graph_forward(model: torch.nn.Module, x: torch.Tensor):
    """Capture one inference forward in a CUDA graph; returns (replay, output tensor)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side), torch.inference_mode():
        for _ in range(3):
            model(x)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph), torch.inference_mode():
        out = model(x)
    return graph.replay, out


class TorchEagerRunner(Runner):
    name = "torch_eager"
    description = "PyTorch eager mode (the reference every other runner is checked against)"
    options = {"channels_last": False, "cudnn_benchmark": True, "cuda_graph": False}
    kernels_are_ops = True  # each module and function call of the graph runs as its own kernel(s)

    def prepare(self, model, example, case, options, device) -> Prepared:
        dev = torch_device(device)
        fmt = torch.channels_last if options["channels_last"] else torch.contiguous_format
        dtype = DTYPES[case.dtype]
        if dev.type == "cuda":
            torch.backends.cudnn.benchmark = bool(options["cudnn_benchmark"])
        eval_model = model.to(dev, dtype).to(memory_format=fmt).eval()
        train_model = copy.deepcopy(eval_model).train()
        x = example.to(dev, dtype).contiguous(memory_format=fmt)

        def forward():
            with torch.inference_mode():
                return eval_model(x)

        run, output = forward, forward
        graph = bool(options["cuda_graph"] and dev.type == "cuda")
        if graph:  # what is timed is the graph's replay: its output is what gets checked against eager
            run, graph_out = cuda_graph_forward(eval_model, x)

            def output():
                run()
                torch.cuda.synchronize()
                return graph_out.clone()
        config = {"channels_last": options["channels_last"]}
        if dev.type == "cuda":
            config.update(cudnn_benchmark=options["cudnn_benchmark"], cuda_graph=options["cuda_graph"],
                          gpu=torch.cuda.get_device_name(dev))
        return Prepared(timed={"latency_forward": device_timed(dev, run), **train_timings(train_model, x, dev)},
                        output=output, config=config, modules={"eval": eval_model, "train": train_model},
                        torch_allocator=True, output_is_reference=case.dtype == "float32" and not graph)
