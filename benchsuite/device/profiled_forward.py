"""Entry point run under a profiler (cachegrind, Nsight Compute): prepare one case, run N forwards.

With an NVTX range name, one untimed forward warms up first and the N forwards run inside the range."""
from __future__ import annotations

import json
import sys

import torch

from ..protocol import case_from_dict, device_from_dict
from .preparation import prepare_case


def main(spec_json: str, iterations: int) -> None:
    spec = json.loads(spec_json)
    case = case_from_dict(spec["case"])
    torch.set_num_threads(case.threads)
    prepared, _ = prepare_case(case, device_from_dict(spec["device"]))
    timed = prepared.timed["latency_forward"]
    if spec.get("nvtx"):
        timed.run()
        timed.sync()
        with torch.cuda.nvtx.range(spec["nvtx"]):
            for _ in range(iterations):
                timed.run()
            timed.sync()
    else:
        for _ in range(iterations):
            timed.run()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
