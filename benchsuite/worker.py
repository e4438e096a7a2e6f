"""Run the cases of one comparison group in a child process.

The child builds every case of the group, checks each runner's output against torch eager,
then measures all (case, metric) series interleaved and sends each case's records back.
The parent turns a raise, a crash (signal, out-of-memory kill) or silence past the timeout
into `error` records; when a group of several cases dies, its unfinished cases are re-run
one per process so that only the case at fault is lost.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import traceback
from typing import Callable

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


def _die_with_parent() -> None:
    """Linux: have the kernel kill this worker if the run's process dies (even by SIGKILL)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass  # not Linux: an orphan finishes its group and exits


def _child(conn, cases, device, quick: bool, log_path) -> None:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C does
    if log_path:  # library chatter (profiler, compilers) and crash reports go to the run's worker.log
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
    import torch

    from .probes import probes_for

    timing = device.timing_for(quick)
    torch.set_num_threads(cases[0].threads)
    live = []
    for case in cases:
        conn.send(("progress", f"preparing {case.label}", timing.prepare_timeout_s))
        counts = count_records(case)
        try:
            prepared, records = prepare_case(case, device)
            records = counts + records
        except Exception as e:  # noqa: BLE001 - becomes this case's error records
            msg = f"{type(e).__name__}: {e}"
            if not isinstance(e, OutputMismatch):
                where = traceback.extract_tb(e.__traceback__)[-1]
                msg += f" (at {where.filename.rsplit('/', 1)[-1]}:{where.lineno})"
            conn.send(("case", case.case_id, counts + error_records(case, msg), []))
            continue
        series = {m: Series((case.case_id, m), prepared.timed[m]) for m in case.metrics if m in prepared.timed}
        live.append((case, prepared, records, series))

    all_series = [s for *_, series in live for s in series.values()]
    conn.send(("progress", f"measuring {len(all_series)} series interleaved", timing.case_timeout_s))
    measure_interleaved(all_series, timing, on_round=lambda r: conn.send(("progress", f"round {r}")))

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
        conn.send(("progress", f"probes for {case.label}", timing.prepare_timeout_s))
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
        conn.send(("case", case.case_id, records, samples))
    conn.send(("end",))


def _death_reason(exitcode: int | None) -> str:
    if exitcode is None:
        return "worker vanished"
    if exitcode < 0:
        sig = signal.Signals(-exitcode).name
        hint = " (the kernel's out-of-memory killer sends this)" if sig == "SIGKILL" else ""
        return f"worker process died from {sig}{hint}"
    return f"worker process exited with code {exitcode} before finishing"


def _run_process(cases, device, quick, timeout_s, emit, progress, log_path) -> str | None:
    """One child for `cases`. Returns None if it ended cleanly, else why it did not."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, cases, device, quick, log_path), daemon=True)
    proc.start()
    child.close()
    try:
        while True:
            if not parent.poll(timeout_s):
                return f"timed out: no progress for {timeout_s:g} s"
            try:
                msg = parent.recv()
            except EOFError:
                proc.join(5)
                return _death_reason(proc.exitcode)
            if msg[0] == "progress":
                progress(msg[1])
                if len(msg) > 2:  # the child says how long its next step may stay silent
                    timeout_s = msg[2]
            elif msg[0] == "case":
                emit(msg[1], msg[2], msg[3])
            elif msg[0] == "end":
                return None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        parent.close()


def run_group(cases, device, quick: bool, emit: Callable, progress: Callable = lambda s: None,
              log_path=None) -> None:
    """Measure one comparison group; every case ends with records passed to emit(case, records, samples)."""
    timeout = device.timing_for(quick).prepare_timeout_s  # until the child says otherwise: start-up is slow
    pending = {c.case_id: c for c in cases}

    def got(case_id, records, samples):
        emit(pending.pop(case_id), records, samples)

    reason = _run_process(list(pending.values()), device, quick, timeout, got, progress, log_path)
    if reason and len(pending) > 1:
        progress(f"group failed ({reason}); re-running {len(pending)} cases one per process")
        for case in list(pending.values()):
            reason = _run_process([case], device, quick, timeout, got, progress, log_path)
            if reason and case.case_id in pending:
                got(case.case_id, error_records(case, reason), [])
    else:
        for case in list(pending.values()):
            got(case.case_id, error_records(case, reason or "worker ended without a result"), [])
