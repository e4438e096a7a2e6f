"""PyTorch eager execution: the reference runner, forward and backward."""
from __future__ import annotations

import copy

import torch

from ..measure import Timed
from .base import Prepared, Runner

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def torch_device(device_spec) -> torch.device:
    return torch.device("cuda" if device_spec.kind == "gpu" else "cpu")


def sync_for(dev: torch.device):
    return torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)


def cuda_event_timer(t: Timed, number: int) -> float:
    """Seconds per call from CUDA events recorded around the calls (device time, not launch time)."""
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    if t.setup is None:
        torch.cuda.synchronize()
        start.record()
        for _ in range(number):
            t.run()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3 / number
    total = 0.0
    for _ in range(number):
        t.setup()
        start.record()
        t.run()
        end.record()
        end.synchronize()
        total += start.elapsed_time(end) / 1e3
    return total / number


def device_timed(dev: torch.device, run, setup=None) -> Timed:
    if dev.type == "cuda":
        return Timed(run=run, setup=setup, sync=torch.cuda.synchronize, block_timer=cuda_event_timer)
    return Timed(run=run, setup=setup)


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


def train_timings(model: torch.nn.Module, x: torch.Tensor, dev: torch.device) -> dict[str, Timed]:
    """Train-mode forward, and backward alone (its forward and zero_grad run untimed)."""
    state = {}
    grad = None

    def forward_for_backward():
        nonlocal grad
        model.zero_grad(set_to_none=True)
        state["out"] = model(x)
        if grad is None:
            grad = torch.ones_like(state["out"])

    def backward():
        state.pop("out").backward(grad)

    return {
        "latency_forward_train": device_timed(dev, lambda: model(x)),
        "latency_backward": device_timed(dev, backward, forward_for_backward),
    }


class TorchEagerRunner(Runner):
    name = "torch_eager"
    description = "PyTorch eager mode (the reference every other runner is checked against)"
    options = {"channels_last": False, "cudnn_benchmark": True, "cuda_graph": False}
    is_reference = True

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

        run = forward
        if options["cuda_graph"] and dev.type == "cuda":
            run, _ = cuda_graph_forward(eval_model, x)
        config = {"channels_last": options["channels_last"]}
        if dev.type == "cuda":
            config.update(cudnn_benchmark=options["cudnn_benchmark"], cuda_graph=options["cuda_graph"],
                          gpu=torch.cuda.get_device_name(dev))
        return Prepared(timed={"latency_forward": device_timed(dev, run), **train_timings(train_model, x, dev)},
                        output=forward, config=config, modules={"eval": eval_model, "train": train_model},
                        torch_allocator=True)
