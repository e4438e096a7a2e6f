"""Preparing one case where the device is: build the seeded model and input, let the runner prepare it,
and check the runner's output against torch eager before anything is timed."""
from __future__ import annotations

import hashlib
import inspect
import sys

from ..records import make_record

# int8: post-training quantization of randomly initialised networks. Where the signal shrinks layer by layer
# (G1's 20 plain 1x1 convs end near 1e-4) a uint8 activation grid loses much of it: static int8 reaches a
# relative error of 0.41-0.44 there (0.004 on MobileNetV2). The check then catches broken graphs, not
# quantization quality: an all-zero output scores exactly 1, garbage more; every case's error is recorded
# (`output_error`).
OUTPUT_TOLERANCE = {"float32": 1e-3, "float16": 2e-2, "bfloat16": 5e-2, "int8_static": 0.8, "int8_dynamic": 0.8}


class OutputMismatch(Exception):
    pass


def build_case(case):
    """The model and a seeded input for a case (the same in every process and run)."""
    import torch

    from ..models import create_model

    torch.manual_seed(0)
    model = create_model(case.model, **case.params)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(case.batch_size, model.in_channels, case.resolution.height, case.resolution.width,
                    generator=gen)
    return model, x


def relative_error(out, ref) -> float:
    import torch

    out = out.detach().float().cpu()
    if out.shape != ref.shape:
        raise OutputMismatch(f"output shape {tuple(out.shape)} differs from torch eager {tuple(ref.shape)}")
    if not torch.isfinite(out).all():
        raise OutputMismatch("output holds NaN or Inf where torch eager does not")
    return float((out - ref).abs().max() / ref.abs().max().clamp_min(1e-30))


def prepare_case(case, device):
    """Build, prepare and verify one case. Returns (prepared, records made on the way)."""
    import torch

    from ..runners import check_dtype, get_runner, resolved_options

    runner = get_runner(case.runner)
    check_dtype(runner, case.dtype)
    model, x = build_case(case)
    ok, why = runner.availability()
    if not ok:
        raise RuntimeError(f"runner {case.runner} unavailable: {why}")
    options = resolved_options(runner, device.runner_options.get(case.runner, {}))
    prepared = runner.prepare(model, x, case, options, device)
    records = [
        make_record(case, r["metric"], value=r["value"], unit=r.get("unit"), n=1, source=r.get("source", "measured"),
                    config={**prepared.config, **r.get("config", {})}, message=r.get("message", ""))
        for r in prepared.one_shot]
    if not prepared.output_is_reference:
        # the reference from a fresh build (seeded: the same weights and input), since a runner may have
        # moved or converted the model it was given; torch eager, float32, on this CPU
        ref_model, ref_x = build_case(case)
        with torch.inference_mode():
            ref = ref_model.eval()(ref_x).float()
        err = relative_error(prepared.output(), ref)
        tol = OUTPUT_TOLERANCE[case.dtype]
        if err > tol:
            raise OutputMismatch(f"output differs from torch eager: max relative error {err:.3g} "
                                 f"> tolerance {tol:g} for {case.dtype}")
        records.append(make_record(case, "output_error", value=err, n=1, config=prepared.config,
                                   message=f"within tolerance {tol:g}"))
    return prepared, records


def code_fingerprint(case) -> str:
    """A hash of the code behind a case's numbers: the model's module and the runner's module, with the
    benchsuite modules each uses directly, and benchsuite's version. Not part of case_id (a case stays the
    same case), but kept beside it so that comparing runs can say when the code changed in between."""
    from .. import __version__
    from ..models import get_model_entry
    from ..runners import get_runner

    roots = [sys.modules[get_model_entry(case.model).fn.__module__],
             sys.modules[type(get_runner(case.runner)).__module__]]
    mods = {m.__name__: m for m in roots}
    for m in roots:  # one level of benchsuite modules they use (shared layers, shared runner helpers)
        for v in vars(m).values():
            dep = v if inspect.ismodule(v) else sys.modules.get(getattr(v, "__module__", "") or "")
            if dep is not None and dep.__name__.startswith(("benchsuite.models", "benchsuite.runners")):
                mods.setdefault(dep.__name__, dep)
    h = hashlib.sha1(__version__.encode())
    for name in sorted(mods):
        h.update(name.encode() + inspect.getsource(mods[name]).encode())
    return h.hexdigest()[:12]
