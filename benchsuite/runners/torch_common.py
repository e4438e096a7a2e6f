"""What the runners built on torch share: dtypes, the torch device of a profile, device-aware timing
(CUDA events on GPUs), and the training-pass timings (train-mode forward, backward alone)."""
from __future__ import annotations

import torch

from ..measure import Timed

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
