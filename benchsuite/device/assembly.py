"""Assembling records where the device is: analytic counts, timed series, derived rates, probes, and the
label every number of an emulated device carries."""
from __future__ import annotations

import functools

from ..records import error_records, make_record


def count_records(case, device=None) -> list[dict]:
    """The case's analytic counts as `modeled` records; a counting failure is an error record. The
    modeled energy uses the device's cache sizes (profile, else the machine this runs on)."""
    from ..counting import count_registered
    from ..energy_model import caches_for, modeled_energy
    from ..metrics import COUNTER_METRICS

    try:
        counts = count_registered(case.model, case.resolution, case.batch_size, case.dtype, **case.params)
        totals = counts.totals()
    except Exception as e:  # noqa: BLE001 - the measurements go on without the counts
        return error_records(case, f"counting failed: {type(e).__name__}: {e}", metrics=COUNTER_METRICS)
    values = {"madds": totals["madds"], "params": totals["params"], "memory_access": totals["mac_bytes"],
              "activation_memory_peak": totals["peak_activation_bytes"],
              "arithmetic_intensity": 2 * totals["madds"] / totals["mac_bytes"] if totals["mac_bytes"] else None}
    out = [make_record(case, m, value=v, source="modeled", message="analytic count from the model graph")
           for m, v in values.items() if v is not None]
    try:
        joules, how, config = modeled_energy(counts, case.dtype, caches_for(device))
        out.append(make_record(case, "energy_forward_modeled", value=joules, source="modeled", message=how,
                               config=config))
    except KeyError:
        out.append(make_record(case, "energy_forward_modeled", status="unsupported", source="modeled",
                               message=f"the energy constants have no figure for {case.dtype}"))
    return out


def achieved_flops(case, records: list[dict], latency: float, config: dict) -> list[dict]:
    """FLOP/s this case reached: 2 x counted multiply-adds over the measured median latency."""
    madds = next((r["value"] for r in records if r["metric"] == "madds" and r["status"] == "ok"), None)
    if not madds:
        return []
    from ..models import get_model_entry

    if get_model_entry(case.model).family == "calibration":  # its op count is exact: FLOP/s is a measurement
        return [make_record(case, "ceiling_flops", value=2 * madds / latency, config=config,
                            message=f"{case.model} {case.params} through {case.runner}, median latency")]
    out = [make_record(case, "achieved_flops", value=2 * madds / latency, source="modeled", config=config,
                       message="2 x counted multiply-adds / measured median forward latency")]
    mac = next((r["value"] for r in records if r["metric"] == "memory_access" and r["status"] == "ok"), None)
    if mac:
        out.append(make_record(case, "achieved_bandwidth", value=mac / latency, source="modeled", config=config,
                               message="analytic memory access (MAC) / measured median forward latency"))
    return out


def case_records(case, prepared, records: list[dict], series: dict, timing, device,
                 probes: bool = True) -> tuple[list, list]:
    """Every record of a measured case (its timed series, unsupported metrics, probes unless `probes` is
    False) and its raw samples."""
    from ..measure import precision_note, summarize
    from ..probes import probes_for

    samples = []
    for metric in case.metrics:
        if metric in series:
            s = series[metric]
            if s.error:
                records.append(make_record(case, metric, status="error", message=s.error, config=prepared.config))
                continue
            stats = summarize(s.samples)
            records.append(make_record(case, metric, config=prepared.config, message=precision_note(s, timing),
                                       **stats))
            if metric == "latency_forward":
                records += achieved_flops(case, records, stats["value"], prepared.config)
            samples.append({"case_id": case.case_id, "metric": metric, "number": s.number, "samples": s.samples})
        elif metric in prepared.unsupported:
            records.append(make_record(case, metric, status="unsupported", message=prepared.unsupported[metric],
                                       config=prepared.config))
    for probe in probes_for(case.metrics) if probes else ():
        try:
            results = probe.measure(prepared, case, device)
        except Exception as e:  # noqa: BLE001
            results = [{"metric": m, "status": "error", "message": f"probe {probe.name}: {e}"}
                       for m in (d.name for d in probe.metrics) if m in case.metrics]
        for r in results:  # a probe may give its own n and interval (several profiled calls); else n = 1
            metric = r.pop("metric")
            records.append(make_record(case, metric, config=prepared.config,
                                       **{"n": 1 if r.get("value") is not None else None, **r}))
    return records, samples


EMULATED = "timed under an emulator (qemu-user): proves the path, not the speed"


@functools.cache
def _emulation() -> str | None:
    from ..env import emulation

    return emulation()


def emulated_sources(records: list[dict], device) -> list[dict]:
    """On an emulated device every measured number is an emulated one, and says so: the profile's flag or
    the worker's own detection (env.emulation), whichever says it."""
    if device.emulated or _emulation():
        for r in records:
            if r["source"] == "measured" and r["status"] == "ok":
                r["source"] = "emulated"
                r["message"] = f"{EMULATED}; {r['message']}" if r["message"] else EMULATED
    return records
