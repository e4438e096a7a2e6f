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


def train_timings(model: torch.nn.Module, x: torch.Tensor, sync) -> dict[str, Timed]:
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
        "latency_forward_train": Timed(run=lambda: model(x), sync=sync),
        "latency_backward": Timed(run=backward, setup=forward_for_backward, sync=sync),
    }


class TorchEagerRunner(Runner):
    name = "torch_eager"
    description = "PyTorch eager mode (the reference every other runner is checked against)"
    options = {"channels_last": False}

    def prepare(self, model, example, case, options, device) -> Prepared:
        dev = torch_device(device)
        fmt = torch.channels_last if options["channels_last"] else torch.contiguous_format
        dtype = DTYPES[case.dtype]
        eval_model = model.to(dev, dtype).to(memory_format=fmt).eval()
        train_model = copy.deepcopy(eval_model).train()
        x = example.to(dev, dtype).contiguous(memory_format=fmt)
        sync = sync_for(dev)

        def forward():
            with torch.inference_mode():
                return eval_model(x)

        return Prepared(timed={"latency_forward": Timed(run=forward, sync=sync),
                               **train_timings(train_model, x, sync)},
                        output=forward, config={"channels_last": options["channels_last"]},
                        modules={"eval": eval_model, "train": train_model})
