"""Memory traffic per inference: measured from hardware counters where the PMU is readable (perf on
CPUs, Nsight Compute's DRAM byte counters on NVIDIA GPUs), simulated with valgrind's cachegrind
where it is not. (The analytic MAC, `memory_access`, is modeled for every case by the counter.)

cachegrind is slow (tens of seconds per inference of a G1 stack, plus the interpreter's start-up
under simulation), so it is switched on per run (`benchsuite run --simulate-traffic`) and meant for
the micro-benchmarks. The per-inference figure is isolated by differencing two runs of the same
process with different iteration counts: start-up, import and preparation cancel out.
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..metrics import Metric
from . import Probe

MEASURED = Metric("traffic_forward_measured", "B", "probe",
                  "DRAM bytes per inference: perf LLC misses (CPU), ncu (GPU)")
SIMULATED = Metric("traffic_forward_simulated", "B", "probe", "LLC traffic per inference simulated by cachegrind")

PERF_EVENTS = ("LLC-load-misses", "LLC-store-misses")
LINE_BYTES = 64
NCU_METRICS = ("dram__bytes_read.sum", "dram__bytes_write.sum")
NVTX_RANGE = "benchsuite_forward"  # profiled_forward wraps the profiled forward in this range
BYTE_UNITS = {"byte": 1, "Kbyte": 1e3, "Mbyte": 1e6, "Gbyte": 1e9, "Tbyte": 1e12}


def parse_perf_csv(text: str) -> dict[str, int | None]:
    """`perf stat -x,` output -> event -> count (None where perf says not supported / not counted)."""
    out: dict[str, int | None] = {}
    for line in text.splitlines():
        parts = line.split(",")
        if len(parts) < 3 or line.startswith("#"):
            continue
        value, event = parts[0].strip(), parts[2].strip()
        out[event] = int(value) if value.isdigit() else None
    return out


def parse_cachegrind(text: str) -> tuple[int, int, str]:
    """(last-level data misses, read + write; LL line size; LL description) from a cachegrind.out file."""
    events = summary = None
    line_size, desc = LINE_BYTES, "?"
    for line in text.splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("summary:"):
            summary = [int(x) for x in line.split()[1:]]
        elif line.startswith("desc: LL cache:"):
            desc = line.split(":", 2)[2].strip()
            m = re.search(r",\s*(\d+) B,", line)
            if m:
                line_size = int(m.group(1))
    if not events or not summary:
        raise ValueError("not a cachegrind output: no events/summary lines (was --cache-sim=yes given?)")
    counts = dict(zip(events, summary))
    if "DLmr" not in counts:
        raise ValueError("cachegrind ran without cache simulation (--cache-sim=yes): no DLmr/DLmw counts")
    return counts["DLmr"] + counts.get("DLmw", 0), line_size, desc


def parse_ncu_csv(text: str) -> tuple[dict[str, float], int]:
    """Nsight Compute `--csv` details output -> (metric -> bytes summed over kernels, kernels seen)."""
    lines = [ln for ln in text.splitlines() if ln.startswith('"')]  # drops ==PROF== and program lines
    if not lines or "Metric Name" not in lines[0]:
        raise ValueError("not Nsight Compute CSV output: no header with \"Metric Name\" (was --csv given?)")
    totals: dict[str, float] = {}
    kernels = set()
    for row in csv.DictReader(lines):
        name, unit = row["Metric Name"], row["Metric Unit"]
        if name not in NCU_METRICS:
            continue
        if unit not in BYTE_UNITS:
            raise ValueError(f"unexpected unit '{unit}' for {name} (known: {', '.join(BYTE_UNITS)})")
        value = row["Metric Value"].replace(",", "")  # digit grouping
        totals[name] = totals.get(name, 0.0) + float(value) * BYTE_UNITS[unit]
        kernels.add(row.get("ID"))
    return totals, len(kernels)


class PerfTrafficProbe(Probe):
    """Last-level-cache misses x line size per inference, from perf attached to this process."""

    name = "perf_traffic"
    metrics = (MEASURED,)

    def measure(self, prepared, case, device) -> list[dict]:
        if "traffic_forward_measured" not in case.metrics or device.kind == "gpu":
            return []  # GPUs: NcuTrafficProbe
        timed = prepared.timed.get("latency_forward")
        if not shutil.which("perf"):
            return [_unsupported("perf is not installed (Debian: linux-perf)")]
        if timed is None or timed.block_timer is not None:
            return [_unsupported("the forward does not run in this process")]
        proc = subprocess.Popen(["perf", "stat", "-x,", "-e", ",".join(PERF_EVENTS), "-p", str(os.getpid())],
                                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        time.sleep(0.2)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 1.0:
            timed.run()
            n += 1
        proc.send_signal(2)
        _, err = proc.communicate(timeout=30)
        counts = parse_perf_csv(err)
        if any(counts.get(e) is None for e in PERF_EVENTS):
            return [_unsupported(f"perf cannot count {', '.join(PERF_EVENTS)} here ({err.strip()[:160]}): "
                                 "the PMU is not readable (virtual machine, or kernel.perf_event_paranoid)")]
        misses = sum(counts[e] for e in PERF_EVENTS)
        return [{"metric": "traffic_forward_measured", "value": misses * LINE_BYTES / n, "unit": "B",
                 "message": f"perf LLC load+store misses x {LINE_BYTES} B over {n} forwards (whole process)"}]


class NcuTrafficProbe(Probe):
    """DRAM bytes read + written per inference on an NVIDIA GPU, from Nsight Compute's counters.

    One forward runs in a child process under `ncu`, inside an NVTX range after a warm-up forward
    (lazy initialisation, cuDNN algorithm search); only the kernels in that range are profiled."""

    name = "ncu_traffic"
    metrics = (MEASURED,)

    def measure(self, prepared, case, device) -> list[dict]:
        if "traffic_forward_measured" not in case.metrics or device.kind != "gpu":
            return []
        ncu = shutil.which("ncu")
        if not ncu:
            return [_unsupported("Nsight Compute (ncu) is not on PATH; it ships with the CUDA toolkit "
                                 "(e.g. /usr/local/cuda/bin)")]
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "ncu.csv"
            cmd = [ncu, "--csv", "--page", "details", "--print-units", "base", "--metrics", ",".join(NCU_METRICS),
                   "--nvtx", "--nvtx-include", f"{NVTX_RANGE}/", "--target-processes", "all",
                   "--log-file", str(log), *_profiled_forward(case, device, 1, nvtx=True)]
            r = subprocess.run(cmd, capture_output=True, text=True)
            text = log.read_text() if log.exists() else ""
        if "ERR_NVGPUCTRPERM" in text + r.stdout + r.stderr:
            return [_unsupported("ncu may not read the GPU's performance counters (ERR_NVGPUCTRPERM): run as "
                                 "root or load the driver with NVreg_RestrictProfilingToAdminUsers=0")]
        if r.returncode != 0:
            raise RuntimeError(f"ncu failed (exit {r.returncode}): {(text + r.stderr).strip()[-300:]}")
        totals, kernels = parse_ncu_csv(text)
        if not kernels:
            raise RuntimeError(f"ncu profiled no kernel inside the NVTX range '{NVTX_RANGE}'")
        read, write = (totals.get(m, 0.0) for m in NCU_METRICS)
        return [{"metric": "traffic_forward_measured", "value": read + write, "unit": "B",
                 "message": f"Nsight Compute {' + '.join(NCU_METRICS)} over the {kernels} kernels of one forward "
                            f"(read {read:.4g} B, write {write:.4g} B)"}]


class CachegrindProbe(Probe):
    """Simulated last-level-cache traffic per inference (valgrind cachegrind)."""

    name = "cachegrind"
    metrics = (SIMULATED,)
    ITERATIONS = (1, 11)

    def measure(self, prepared, case, device) -> list[dict]:
        if "traffic_forward_simulated" not in case.metrics:
            return []
        if not shutil.which("valgrind"):
            return [_unsupported("valgrind is not installed (Debian: valgrind)", "traffic_forward_simulated")]
        if prepared.runs_on:
            return [_unsupported(f"cachegrind simulates this machine's CPU, but the model runs on {prepared.runs_on}",
                                 "traffic_forward_simulated")]
        # the two children are simulations (their counts do not depend on timing), so they run side by side:
        # each costs minutes, most of it importing torch under valgrind
        with ThreadPoolExecutor(len(self.ITERATIONS)) as pool:
            runs = dict(zip(self.ITERATIONS, pool.map(lambda k: simulate(case, device, k, device.cachegrind_ll),
                                                      self.ITERATIONS)))
        misses = {k: m for k, (m, _, _) in runs.items()}
        k1, k2 = self.ITERATIONS
        _, line, desc = runs[k2]
        per = (misses[k2] - misses[k1]) / (k2 - k1) * line
        if per < 0:
            # The forwards add no LL misses that rise above the process's own run-to-run variation (startup and
            # allocation differ between the two children): the case stays in the simulated LL. Report that as
            # zero traffic and say how large the noise was, rather than a negative byte count.
            return [{"metric": "traffic_forward_simulated", "value": 0.0, "unit": "B", "source": "simulated",
                     "message": f"no LL traffic above the noise: the {k2}-forward run missed fewer lines than the "
                                f"{k1}-forward run ({per:.3g} B per forward), so the forward stays in the simulated "
                                f"LL ({desc}) to within {-per:.3g} B"}]
        return [{"metric": "traffic_forward_simulated", "value": per, "unit": "B", "source": "simulated",
                 "message": f"cachegrind LL data misses x {line} B, difference of {k2} and {k1} forwards; "
                            f"simulated LL: {desc}"}]


def simulate(case, device, iterations: int, ll: str | None = None) -> tuple[int, int, str]:
    """Run `iterations` forwards of the case under cachegrind; (LL data misses, line size)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cachegrind.out"
        cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=yes", f"--cachegrind-out-file={out}",
               *([f"--LL={ll}"] if ll else []), *_profiled_forward(case, device, iterations)]
        env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same allocation pattern in both runs
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if r.returncode != 0 or not out.exists():
            raise RuntimeError(f"cachegrind run failed (exit {r.returncode}): {r.stderr.strip()[-300:]}")
        return parse_cachegrind(out.read_text())


def _profiled_forward(case, device, iterations: int, nvtx: bool = False) -> list[str]:
    """The command line of a child that prepares the case and runs its forward `iterations` times."""
    from ..protocol import case_to_dict, device_to_dict

    spec = json.dumps({"case": case_to_dict(case), "device": device_to_dict(device),
                       "nvtx": NVTX_RANGE if nvtx else None})
    return [sys.executable, "-m", "benchsuite.device.profiled_forward", spec, str(iterations)]


def _unsupported(reason: str, metric: str = "traffic_forward_measured") -> dict:
    return {"metric": metric, "status": "unsupported", "message": reason}
