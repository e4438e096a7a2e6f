"""The worker: runs where the device is (`python -m benchsuite.worker`) and does one job.

It reads its job as one JSON line on stdin and answers in JSON lines on stdout (protocol.py):
for a comparison group it builds every case, checks each runner's output against torch eager,
measures all (case, metric) series interleaved and sends each case's records as it finishes.
The same program runs on every transport: a child of the host, an emulated board, a board over
ssh. The host's supervisor turns a crash or silence into error records.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import traceback

from . import protocol
from .measure import Series, measure_interleaved, precision_note, summarize
from .records import error_records, make_record

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


def count_records(case) -> list[dict]:
    """The case's analytic counts as `modeled` records; a counting failure is an error record."""
    from .counting import count_registered
    from .metrics import COUNTER_METRICS

    from .energy import modeled_energy

    try:
        totals = count_registered(case.model, case.resolution, case.batch_size, case.dtype, **case.params).totals()
    except Exception as e:  # noqa: BLE001 - the measurements go on without the counts
        return error_records(case, f"counting failed: {type(e).__name__}: {e}", metrics=COUNTER_METRICS)
    values = {"madds": totals["madds"], "params": totals["params"], "memory_access": totals["mac_bytes"],
              "activation_memory_peak": totals["peak_activation_bytes"],
              "arithmetic_intensity": 2 * totals["madds"] / totals["mac_bytes"] if totals["mac_bytes"] else None}
    out = [make_record(case, m, value=v, source="modeled", message="analytic count from the model graph")
           for m, v in values.items() if v is not None]
    try:
        joules, how = modeled_energy(totals["madds"], totals["elementwise_ops"], totals["mac_bytes"], case.dtype)
        out.append(make_record(case, "energy_forward_modeled", value=joules, source="modeled", message=how))
    except KeyError:
        out.append(make_record(case, "energy_forward_modeled", status="unsupported", source="modeled",
                               message=f"the energy constants have no figure for {case.dtype}"))
    return out


def achieved_flops(case, records: list[dict], latency: float, config: dict) -> list[dict]:
    """FLOP/s this case reached: 2 x counted multiply-adds over the measured median latency."""
    madds = next((r["value"] for r in records if r["metric"] == "madds" and r["status"] == "ok"), None)
    if not madds:
        return []
    if case.model == "gemm_probe":  # the op count of a GEMM is exact: its FLOP/s is a measurement
        return [make_record(case, "ceiling_flops", value=2 * madds / latency, config=config,
                            message=f"{case.params['n']}^3 GEMM through {case.runner}, median latency")]
    out = [make_record(case, "achieved_flops", value=2 * madds / latency, source="modeled", config=config,
                       message="2 x counted multiply-adds / measured median forward latency")]
    mac = next((r["value"] for r in records if r["metric"] == "memory_access" and r["status"] == "ok"), None)
    if mac:
        out.append(make_record(case, "achieved_bandwidth", value=mac / latency, source="modeled", config=config,
                               message="analytic memory access (MAC) / measured median forward latency"))
    return out


def prepare_case(case, device):
    """Build, prepare and verify one case. Returns (prepared, records made on the way)."""
    import torch

    from .runners import get_runner, resolved_options

    model, x = build_case(case)
    check = not (case.runner == "torch_eager" and case.dtype == "float32")
    ref = None
    if check:
        with torch.inference_mode():
            ref = model.eval()(x).float()
    runner = get_runner(case.runner)
    ok, why = runner.availability()
    if not ok:
        raise RuntimeError(f"runner {case.runner} unavailable: {why}")
    options = resolved_options(runner, device.runner_options.get(case.runner, {}))
    prepared = runner.prepare(model, x, case, options, device)
    records = [
        make_record(case, r["metric"], value=r["value"], unit=r.get("unit"), n=1, config=prepared.config,
                    message=r.get("message", "")) for r in prepared.one_shot]
    if check and prepared.verify_output:
        err = relative_error(prepared.output(), ref)
        tol = OUTPUT_TOLERANCE[case.dtype]
        if err > tol:
            raise OutputMismatch(f"output differs from torch eager: max relative error {err:.3g} "
                                 f"> tolerance {tol:g} for {case.dtype}")
        records.append(make_record(case, "output_error", value=err, n=1, config=prepared.config,
                                   message=f"within tolerance {tol:g}"))
    return prepared, records


def _die_with_host() -> None:
    """End this worker when the host goes: the kernel kills it when its parent dies (Linux), and a
    thread ends it when its stdin closes (the host died, or an ssh/adb connection dropped)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass  # not Linux (or no glibc): the stdin watch below still ends it

    def watch():
        while sys.stdin.buffer.read(65536):
            pass
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def measure_group(cases, device, quick: bool, send) -> None:
    """Prepare, verify and measure one comparison group; send(message) for progress and each case."""
    import torch

    from .probes import probes_for

    timing = device.timing_for(quick)
    torch.set_num_threads(cases[0].threads)
    live = []
    for case in cases:
        send({"type": "progress", "text": f"preparing {case.label}", "timeout_s": timing.prepare_timeout_s})
        counts = count_records(case)
        try:
            prepared, records = prepare_case(case, device)
            records = counts + records
        except Exception as e:  # noqa: BLE001 - becomes this case's error records
            msg = f"{type(e).__name__}: {e}"
            if not isinstance(e, OutputMismatch):
                where = traceback.extract_tb(e.__traceback__)[-1]
                msg += f" (at {where.filename.rsplit('/', 1)[-1]}:{where.lineno})"
            send({"type": "case", "case_id": case.case_id,
                  "records": emulated_sources(counts + error_records(case, msg), device), "samples": []})
            continue
        series = {m: Series((case.case_id, m), prepared.timed[m]) for m in case.metrics if m in prepared.timed}
        live.append((case, prepared, records, series))

    all_series = [s for *_, series in live for s in series.values()]
    send({"type": "progress", "text": f"measuring {len(all_series)} series interleaved",
          "timeout_s": timing.case_timeout_s})
    measure_interleaved(all_series, timing, on_round=lambda r: send({"type": "progress", "text": f"round {r}"}))

    for case, prepared, records, series in live:
        samples = []
        for metric in case.metrics:
            if metric in series:
                s = series[metric]
                if s.error:
                    records.append(make_record(case, metric, status="error", message=s.error,
                                               config=prepared.config))
                    continue
                stats = summarize(s.samples)
                records.append(make_record(case, metric, config=prepared.config,
                                           message=precision_note(s, timing), **stats))
                if metric == "latency_forward":
                    records += achieved_flops(case, records, stats["value"], prepared.config)
                samples.append({"case_id": case.case_id, "metric": metric, "number": s.number,
                                "samples": s.samples})
            elif metric in prepared.unsupported:
                records.append(make_record(case, metric, status="unsupported",
                                           message=prepared.unsupported[metric], config=prepared.config))
        send({"type": "progress", "text": f"probes for {case.label}", "timeout_s": timing.prepare_timeout_s})
        for probe in probes_for(case.metrics):
            try:
                results = probe.measure(prepared, case, device)
            except Exception as e:  # noqa: BLE001
                results = [{"metric": m, "status": "error", "message": f"probe {probe.name}: {e}"}
                           for m in probe.metrics if m in case.metrics]
            for r in results:
                metric = r.pop("metric")
                records.append(make_record(case, metric, config=prepared.config,
                                           n=1 if r.get("value") is not None else None, **r))
        send({"type": "case", "case_id": case.case_id, "records": emulated_sources(records, device),
              "samples": samples})


EMULATED = "timed under an emulator (qemu-user): proves the path, not the speed"


def emulated_sources(records: list[dict], device) -> list[dict]:
    """On an emulated device every measured number is an emulated one, and says so."""
    if device.emulated:
        for r in records:
            if r["source"] == "measured":
                r["source"] = "emulated"
                r["message"] = f"{EMULATED}; {r['message']}" if r["message"] else EMULATED
    return records


def _run_job(job: dict, send) -> None:
    task = job.get("task")
    if task == "environment":
        from .env import environment

        send({"type": "environment", "environment": environment()})
        return
    device = protocol.device_from_dict(job["device"])
    if task == "group":
        measure_group([protocol.case_from_dict(c) for c in job["cases"]], device, job["quick"], send)
    elif task == "bandwidth":
        from .ceilings import bandwidth_records

        for threads in job["threads"]:
            send({"type": "progress", "text": f"memory bandwidth ceiling, {threads} thread(s)"})
            records = bandwidth_records(device.name, job["workload"], threads, device.timing_for(job["quick"]))
            send({"type": "records", "records": emulated_sources(records, device)})
    else:
        raise ValueError(f"unknown job {task!r}")


def main() -> int:
    """Entry point on the device: one job from stdin, JSON lines to stdout, library chatter to stderr."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the host decides what Ctrl-C does
    out = os.fdopen(os.dup(1), "w", buffering=1)  # the protocol's own stream
    os.dup2(2, 1)  # anything a library prints goes to stderr (the run's worker.log), not into the protocol
    lock = threading.Lock()

    def send(msg: dict) -> None:
        with lock:
            out.write(protocol.dumps(msg) + "\n")
            out.flush()

    send(protocol.hello())
    line = sys.stdin.readline()
    if not line:
        return 0  # the host went away before sending a job
    _die_with_host()
    try:
        _run_job(protocol.loads(line), send)
    except Exception as e:  # noqa: BLE001 - a job the worker cannot do ends with the reason, not a traceback
        traceback.print_exc()
        send({"type": "fatal", "message": f"{type(e).__name__}: {e}"})
        return 1
    send({"type": "end"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
