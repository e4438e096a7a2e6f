"""torch.compile (inductor by default), forward and backward; compile time measured apart."""
from __future__ import annotations

import copy
import shutil
import time

import torch

from .base import Prepared, Runner
from .torch_common import DTYPES, device_timed, sync_for, torch_device, train_timings


class TorchCompileRunner(Runner):
    name = "torch_compile"
    description = "torch.compile (inductor): forward and backward, compile time as its own metric"
    options = {"backend": "inductor", "mode": "default"}
    # dynamo recompiles a model class's forward for each new shape up to its per-code limit (8), then runs it
    # eagerly; inductor's in-process caches would also make a later group's compile_time cheaper
    shares_workers = False

    def availability(self) -> tuple[bool, str]:
        if not (shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")):
            return False, "inductor needs a C++ compiler on the PATH for CPU code"
        return True, ""

    def prepare(self, model, example, case, options, device) -> Prepared:
        dev = torch_device(device)
        dtype = DTYPES[case.dtype]
        eval_model = model.to(dev, dtype).eval()
        train_model = copy.deepcopy(eval_model).train()
        x = example.to(dev, dtype)
        sync = sync_for(dev)
        kw = {"backend": options["backend"], "mode": None if options["mode"] == "default" else options["mode"],
              "dynamic": False}
        compiled_eval = torch.compile(eval_model, **kw)
        compiled_train = torch.compile(train_model, **kw)

        def forward():
            with torch.inference_mode():
                return compiled_eval(x)

        # compilation happens at the first call: time it, one execution included
        t0 = time.perf_counter()
        forward()
        sync()
        compile_time = time.perf_counter() - t0
        train = train_timings(compiled_train, x, dev)
        t0 = time.perf_counter()
        train["latency_backward"].setup()
        train["latency_backward"].run()
        sync()
        compile_time_train = time.perf_counter() - t0
        return Prepared(
            timed={"latency_forward": device_timed(dev, forward), **train}, output=forward,
            config={"backend": options["backend"], "mode": options["mode"]},
            modules={"eval": compiled_eval, "train": compiled_train}, torch_allocator=True,
            one_shot=[{"metric": "compile_time", "value": compile_time,
                       "message": "first inference call: compilation plus one execution"},
                      {"metric": "compile_time_train", "value": compile_time_train,
                       "message": "first training forward + backward: compilation plus one execution"}])
