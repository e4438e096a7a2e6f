"""A board as its user meets it: the emulated aarch64 board behind a real OpenSSH server, reached with the
built-in `arm` profile (its own timeouts, no `emulated` flag) plus a [transport] table.

    python benchmarks/board_over_ssh.py [--workload guideline2] [--filter '*paper_set=arm*']

Starts sshd on 127.0.0.1 (tests/sshd.py: throw-away keys, every session forced into the board with
scripts/emulated-arm-board exec), runs `benchsuite run --quick` with torch eager and onnxruntime, and
prints: the wall time, each runner's latency records by status and source, what run.json says of
emulation, the verdict lines, and worker.log's size with the library lines it counted instead of writing.
Needs root and a built board (`scripts/emulated-arm-board build`)."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.sshd import INTO_THE_BOARD, Server  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="guideline2")
    ap.add_argument("--filter", default="*paper_set=arm*")
    a = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="board-ssh-"))
    server = Server(root, force_command=INTO_THE_BOARD)
    profile = (REPO / "benchsuite/builtin/devices/arm.toml").read_text().replace('name = "arm"', 'name = "myboard"')
    profile += server.transport(python="python3", timeout_s=600)
    profile += 'env = { TVM_FFI_DISABLE_TORCH_C_DLPACK = "1" }\n'
    (root / "myboard.toml").write_text(profile)
    out = root / "results"
    cmd = [sys.executable, "-m", "benchsuite", "run", "--device", str(root / "myboard.toml"), "--workload", a.workload,
           "--quick", "--filter", a.filter, "--runner", "torch_eager", "--runner", "onnxruntime", "--no-ceilings",
           "--out", str(out)]
    t0 = time.monotonic()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True)
    finally:
        server.stop()
    took = time.monotonic() - t0
    print(f"exit {done.returncode}, wall time {took:.0f} s")
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    meta = json.loads((run / "run.json").read_text())
    print(f"run.json: transport {meta['transport']!r}, emulated {meta['emulated']} ({meta.get('emulated_because')})")
    counts = Counter()
    for line in (run / "records.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r["metric"].startswith("latency"):
            counts[(r["runner"], r["metric"], r["status"], r["source"])] += 1
    for key, n in sorted(counts.items()):
        print("  " + " ".join(key) + f": {n}")
    print("\n".join(line for line in done.stdout.splitlines() if "G2" in line or "verdict" in line.lower()))
    log = (run / "worker.log").read_text()
    print(f"worker.log: {len(log.splitlines())} lines, {sum('NNPACK' in x for x in log.splitlines())} mention NNPACK")
    for r in meta["environment"].get("repeated_log_lines", []):
        print(f"  counted, not written: x{r['count']} {r['text'][:120]}")
    print(done.stderr[-2000:] if done.returncode not in (0, 1) else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
