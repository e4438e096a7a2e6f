"""Preparing one case where the device is: build the seeded model and input, let the runner prepare it,
and check the runner's output against torch eager before anything is timed."""
from __future__ import annotations

from .records import make_record

OUTPUT_TOLERANCE = {"float32": 1e-3, "float16": 2e-2, "bfloat16": 5e-2}


class OutputMismatch(Exception):
    pass


def build_case(case):
    """The model and a seeded input for a case (the same in every process and run)."""
    import torch

    from .models import create_model

    torch.manual_seed(0)
    model = create_model(case.model, **case.params)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(case.batch_size, model.in_channels, case.resolution, case.resolution, generator=gen)
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

    from .runners import get_runner, resolved_options

    runner = get_runner(case.runner)
    model, x = build_case(case)
    check = not (runner.is_reference and case.dtype == "float32")  # the reference's float32 output is eager's
    ref = None
    if check:
        with torch.inference_mode():
            ref = model.eval()(x).float()
    ok, why = runner.availability()
    if not ok:
        raise RuntimeError(f"runner {case.runner} unavailable: {why}")
    options = resolved_options(runner, device.runner_options.get(case.runner, {}))
    prepared = runner.prepare(model, x, case, options, device)
    records = [
        make_record(case, r["metric"], value=r["value"], unit=r.get("unit"), n=1, config=prepared.config,
                    message=r.get("message", "")) for r in prepared.one_shot]
    if check:
        err = relative_error(prepared.output(), ref)
        tol = OUTPUT_TOLERANCE[case.dtype]
        if err > tol:
            raise OutputMismatch(f"output differs from torch eager: max relative error {err:.3g} "
                                 f"> tolerance {tol:g} for {case.dtype}")
        records.append(make_record(case, "output_error", value=err, n=1, config=prepared.config,
                                   message=f"within tolerance {tol:g}"))
    return prepared, records
