"""Apache TVM (Relax): torch.export -> Relax -> MetaSchedule tuning -> tvm.compile -> VirtualMachine.

Untuned TVM runs convolutions as naive loops, so numbers without tuning mislead: the runner tunes
with MetaSchedule by default (`trials` from the device profile or `--runner-option tvm.trials=N`)
and keeps the tuning records in a database keyed by target and workload (the Relax module's
structural hash), so a repeated run applies them without tuning again. Tuning and compile times
are their own metrics, and every record's config says whether it was tuned, with how many trials,
and whether the records were re-used. Forward only.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import torch

from ..measure import Timed
from .base import Prepared, Runner

INFERENCE_ONLY = "the TVM runner compiles inference graphs only: no training forward or backward pass"
DONE_MARK = "benchsuite-tuning.json"


def host_target(threads: int, mcpu: str = "auto") -> dict:
    from tvm.target import codegen

    if mcpu == "auto":
        cpu = codegen.llvm_get_system_cpu()
        mcpu = cpu if codegen.llvm_is_valid_cpu(cpu, codegen.llvm_get_system_triple()) else "generic"
    return {"kind": "llvm", "mcpu": mcpu, "num-cores": threads}


class TVMRunner(Runner):
    name = "tvm"
    description = "Apache TVM Relax with MetaSchedule tuning (records re-used across runs), forward only"
    options = {"trials": 64, "tune": True, "database_dir": "results/tvm-tuning", "mcpu": "auto",
               "cpu_weight_prepack": True}

    def availability(self) -> tuple[bool, str]:
        try:
            import tvm  # noqa: F401
            from tvm.relax.frontend.torch import from_exported_program  # noqa: F401
        except ImportError as e:
            return False, f"TVM not importable ({e}); pip install 'benchsuite[tvm]'"
        if self.options["tune"]:
            try:
                import cloudpickle  # noqa: F401
                import xgboost  # noqa: F401
            except ImportError as e:
                return False, f"MetaSchedule tuning needs {e.name} (pip install 'benchsuite[tvm]')"
        return True, ""

    def prepare(self, model, example, case, options, device) -> Prepared:
        import tvm
        import tvm_ffi
        from tvm import relax
        from tvm.relax.frontend.torch import from_exported_program

        from ..remote import is_remote

        if is_remote(device):
            return self._prepare_remote(model, example, case, device)
        if device.kind == "gpu":
            raise RuntimeError("the TVM runner here targets CPUs (local LLVM or remote aarch64 boards); "
                               "GPU targets are not wired up")
        if case.dtype != "float32":
            raise ValueError(f"the TVM runner compiles float32 only, not {case.dtype}")
        os.environ["TVM_NUM_THREADS"] = str(case.threads)  # read when TVM's thread pool starts
        model.eval()
        t0 = time.perf_counter()
        exported = torch.export.export(model, (example,))
        mod, params = relax.frontend.detach_params(from_exported_program(exported, keep_params_as_input=True))
        export_time = time.perf_counter() - t0

        target_dict = host_target(case.threads, options["mcpu"])
        target = tvm.target.Target(target_dict)
        trials = int(options["trials"]) if options["tune"] else 0
        key = hashlib.sha1(json.dumps([target_dict, int(tvm_ffi.structural_hash(mod)), trials]).encode()).hexdigest()
        work_dir = Path(options["database_dir"]) / key[:16]
        mark = work_dir / DONE_MARK
        reused = trials > 0 and mark.exists()
        t0 = time.perf_counter()
        with target:
            pipeline = relax.pipeline.static_shape_tuning_pipeline(
                total_trials=0 if reused else trials, target=target, work_dir=str(work_dir),
                cpu_weight_prepack=options["cpu_weight_prepack"])
            mod = pipeline(mod)
        tuning_time = time.perf_counter() - t0
        if trials and not reused:
            mark.write_text(json.dumps({"trials": trials, "tuning_time_s": tuning_time, "target": target_dict}))
        t0 = time.perf_counter()
        vm = relax.VirtualMachine(tvm.compile(mod, target=target), tvm.cpu())
        compile_time = time.perf_counter() - t0

        weights = params["main"]
        if options["cpu_weight_prepack"]:
            weights = vm["main_transform_params"](weights)
        data = tvm.runtime.tensor(example.contiguous().numpy())
        main = vm["main"]

        def run():
            return main(data, *weights)

        def output():
            out = run()
            out = out if hasattr(out, "numpy") else out[0]
            return torch.from_numpy(out.numpy())

        config = {"tuned": trials > 0, "trials": trials, "tuning_reused": reused, "target": json.dumps(target_dict),
                  "database": str(work_dir) if trials else None}
        tuning_msg = (f"re-used tuning records in {work_dir} (no new trials)" if reused else
                      f"MetaSchedule, {trials} trials" if trials else "not tuned: default schedules (slow loops)")
        return Prepared(
            timed={"latency_forward": Timed(run=run)}, output=output, config=config,
            unsupported={"latency_backward": INFERENCE_ONLY, "latency_forward_train": INFERENCE_ONLY},
            one_shot=[{"metric": "export_time", "value": export_time, "message": "torch.export + Relax import"},
                      {"metric": "tuning_time", "value": tuning_time, "message": tuning_msg},
                      {"metric": "compile_time", "value": compile_time, "message": "tvm.compile + VM creation"}])

    def _prepare_remote(self, model, example, case, device) -> Prepared:
        """Cross-compile for the board, upload it over RPC, time it with the board's own timer.

        MetaSchedule tuning through RPC runners is not wired up yet: remote numbers are untuned
        (default schedules) and every record's config says so."""
        import tempfile

        import tvm
        from tvm import relax
        from tvm.support import cc as tvm_cc
        from tvm.relax.frontend.torch import from_exported_program

        from ..remote import request_session

        remote = device.remote
        if case.dtype != "float32":
            raise ValueError(f"the TVM runner compiles float32 only, not {case.dtype}")
        model.eval()
        t0 = time.perf_counter()
        mod, params = relax.frontend.detach_params(
            from_exported_program(torch.export.export(model, (example,)), keep_params_as_input=True))
        export_time = time.perf_counter() - t0
        target_dict = {**remote.target, "num-cores": case.threads}
        t0 = time.perf_counter()
        executable = tvm.compile(mod, target=tvm.target.Target(target_dict))
        lib = Path(tempfile.mkdtemp(prefix="benchsuite-tvm-")) / "model.so"
        executable.export_library(str(lib), fcompile=tvm_cc.cross_compiler(remote.cc) if remote.cc else None)
        compile_time = time.perf_counter() - t0

        t0 = time.perf_counter()
        session = request_session(remote)
        session.upload(str(lib))
        dev = session.cpu()
        vm = relax.VirtualMachine(session.load_module(lib.name), dev)
        data = tvm.runtime.tensor(example.contiguous().numpy(), device=dev)
        weights = [tvm.runtime.tensor(w.numpy(), device=dev) for w in params["main"]]
        upload_time = time.perf_counter() - t0

        def board_timer(t, number: int) -> float:
            # the board times `number` calls itself: no network round trip in the figure
            return vm.time_evaluator("main", dev, number=number, repeat=1)(data, *weights).mean

        def output():
            # the result stays on the board as a remote object: fetch it through the stateful API
            vm.set_input("main", data, *weights)
            vm.invoke_stateful("main")
            out = vm.get_outputs("main")
            out = out if hasattr(out, "numpy") else out[0]
            return torch.from_numpy(out.numpy())

        config = {"tuned": False, "trials": 0, "target": json.dumps(target_dict), "remote_key": remote.key,
                  "tracker": f"{remote.tracker_host}:{remote.tracker_port}"}
        return Prepared(
            timed={"latency_forward": Timed(run=output, block_timer=board_timer)}, output=output, config=config,
            unsupported={"latency_backward": INFERENCE_ONLY, "latency_forward_train": INFERENCE_ONLY},
            one_shot=[{"metric": "export_time", "value": export_time, "message": "torch.export + Relax import"},
                      {"metric": "compile_time", "value": compile_time, "message": "cross-compile + export_library"},
                      {"metric": "upload_time", "value": upload_time,
                       "message": f"RPC session to '{remote.key}', upload, load"}])
