"""Apache TVM (Relax): torch.export -> Relax -> MetaSchedule tuning -> tvm.compile -> VirtualMachine.

Untuned TVM runs convolutions as naive loops, so numbers without tuning mislead: the runner tunes
with MetaSchedule by default (`trials` from the device profile or `--runner-option tvm.trials=N`)
and keeps the tuning records in a database keyed by target and workload (the Relax module's
structural hash), so a repeated run applies them without tuning again. Tuning and compile times
are their own metrics, and every record's config says whether it was tuned, with how many trials,
and whether the records were re-used. Forward only. Boards behind an RPC tracker are tuned the
same way, their candidates measured on the board, and timed with the board's own clock.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from pathlib import Path

import torch

from ..measure import Timed
from .base import Prepared, Runner, inference_only

INFERENCE_ONLY = inference_only("the TVM runner compiles inference graphs only: no training forward or backward pass")
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
    # via: "rpc" cross-compiles on the host and runs on a board behind the profile's [remote] tracker;
    # "worker" compiles and runs wherever the worker runs (this host, or a board through [transport]);
    # "auto" is rpc when the profile has a [remote] table, else worker.
    options = {"trials": 64, "tune": True, "database_dir": "results/tvm-tuning", "mcpu": "auto",
               "cpu_weight_prepack": True, "via": "auto"}

    @staticmethod
    def _via_rpc(options, device) -> bool:
        via = options.get("via", "auto")
        if via not in ("auto", "rpc", "worker"):
            raise ValueError(f"tvm option via={via!r} (valid: auto, rpc, worker)")
        if via == "rpc" and device.remote is None:
            raise ValueError("tvm option via=rpc needs a [remote] table (the RPC tracker) in the device profile")
        return via == "rpc" or (via == "auto" and device.remote is not None)

    def reaches_device_itself(self, options, device) -> bool:
        return self._via_rpc(options, device)

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
        from tvm import relax

        if case.dtype != "float32":
            raise ValueError(f"the TVM runner compiles float32 only, not {case.dtype}")
        if self._via_rpc(options, device):
            return self._prepare_remote(model, example, case, options, device)
        if device.kind == "gpu":
            raise RuntimeError("the TVM runner here targets CPUs (local LLVM or remote aarch64 boards); "
                               "GPU targets are not wired up")
        os.environ["TVM_NUM_THREADS"] = str(case.threads)  # read when TVM's thread pool starts
        mod, params, export_time = _relax_module(model, example)
        target_dict = host_target(case.threads, options["mcpu"])
        mod, config, tuning = _tune(mod, target_dict, options, measure_on="local")
        t0 = time.perf_counter()
        vm = relax.VirtualMachine(tvm.compile(mod, target=tvm.target.Target(target_dict)), tvm.cpu())
        compile_time = time.perf_counter() - t0

        weights = params["main"]
        if options["cpu_weight_prepack"]:
            weights = vm["main_transform_params"](weights)
        data = tvm.runtime.tensor(example.contiguous().numpy())
        main = vm["main"]

        def run():
            return main(data, *weights)

        def output():
            return _to_torch(run())

        return Prepared(
            timed={"latency_forward": Timed(run=run)}, output=output, config=config,
            unsupported=INFERENCE_ONLY,
            one_shot=[{"metric": "export_time", "value": export_time, "message": "torch.export + Relax import"},
                      tuning,
                      {"metric": "compile_time", "value": compile_time, "message": "tvm.compile + VM creation"}])

    def _prepare_remote(self, model, example, case, options, device) -> Prepared:
        """Tune through the tracker (MetaSchedule's RPC runner measures candidates on the board),
        cross-compile, upload into the worker's board session, time with the board's own timer."""
        import tvm

        from ..remote import board_session

        remote = device.remote
        board = board_session(remote)
        mod, params, export_time = _relax_module(model, example)
        target_dict = {**remote.target, "num-cores": case.threads}
        # MetaSchedule's RPC runner asks the tracker for the board itself: hand it back first
        mod, config, tuning = _tune(mod, target_dict, options, measure_on=remote, before_tuning=board.release)
        t0 = time.perf_counter()
        lib = _export_library(remote.cc, tvm.compile(mod, target=tvm.target.Target(target_dict)))
        compile_time = time.perf_counter() - t0

        weights = (_host_transform_params(mod, params["main"]) if options["cpu_weight_prepack"]
                   else [w.numpy() for w in params["main"]])
        handle = board.add(lib, [example.contiguous().numpy(), *weights])
        t0 = time.perf_counter()
        board.get(handle)
        upload_time = time.perf_counter() - t0

        def board_timer(t, number: int) -> float:
            # the board times `number` calls itself: no network round trip in the figure
            vm, dev, args = board.get(handle)
            return vm.time_evaluator("main", dev, number=number, repeat=1)(*args).mean

        def output():
            # the result stays on the board as a remote object: fetch it through the stateful API
            vm, dev, args = board.get(handle)
            vm.set_input("main", *args)
            vm.invoke_stateful("main")
            return _to_torch(vm.get_outputs("main"))

        config = {**config, "via": "rpc", "remote_key": remote.key,
                  "tracker": f"{remote.tracker_host}:{remote.tracker_port}"}
        return Prepared(
            runs_on=f"the board '{remote.key}' behind the RPC tracker {remote.tracker_host}:{remote.tracker_port}",
            timed={"latency_forward": Timed(run=output, block_timer=board_timer)}, output=output, config=config,
            unsupported=INFERENCE_ONLY,
            one_shot=[{"metric": "export_time", "value": export_time, "message": "torch.export + Relax import"},
                      tuning,
                      {"metric": "compile_time", "value": compile_time, "message": "cross-compile + export_library"},
                      {"metric": "upload_time", "value": upload_time,
                       "message": f"RPC session to '{remote.key}', upload, load"}])


def _to_torch(out) -> torch.Tensor:
    """A VM result (a tensor, or a tuple holding it) as a torch tensor on the host."""
    return torch.from_numpy((out if hasattr(out, "numpy") else out[0]).numpy())


def _relax_module(model, example):
    """(Relax module, its weights, seconds taken) from torch.export of the eval-mode model."""
    from tvm import relax
    from tvm.relax.frontend.torch import from_exported_program

    model.eval()
    t0 = time.perf_counter()
    exported = torch.export.export(model, (example,))
    mod, params = relax.frontend.detach_params(from_exported_program(exported, keep_params_as_input=True))
    return mod, params, time.perf_counter() - t0


BUILD_TIMEOUT_S = 600.0


def _import_intrinsics() -> None:
    """MetaSchedule builder processes' initializer: the slow one-time import, outside every build's timeout."""
    import tvm.s_tir.tensor_intrin  # noqa: F401


def _export_library(cc: str, module) -> str:
    """A shared library of `module` in a fresh folder, linked by the cross compiler `cc` ("" = the
    host's default). Also MetaSchedule's builder export for candidates when a board has `cc`."""
    import tempfile

    from tvm.support import cc as tvm_cc

    path = os.path.join(tempfile.mkdtemp(prefix="benchsuite-tvm-"), "model.so")
    module.export_library(path, fcompile=tvm_cc.cross_compiler(cc) if cc else None)
    return path


def _host_transform_params(mod, weights) -> list:
    """The weights in the layouts the tuned kernels want, computed on this host.

    RPC cannot carry the tuple main_transform_params takes, so the layout transforms (index
    arithmetic, no target-specific code) run here and the board receives the packed arrays."""
    import tvm
    from tvm import relax

    only = tvm.IRModule({gv: f for gv, f in mod.functions_items() if gv.name_hint != "main"})
    only = relax.transform.DeadCodeElimination(entry_functions=["main_transform_params"])(only)
    vm = relax.VirtualMachine(tvm.compile(only, target="llvm"), tvm.cpu())
    return [w.numpy() for w in vm["main_transform_params"](weights)]


def _tune(mod, target_dict: dict, options: dict, measure_on, before_tuning=lambda: None):
    """Lower `mod` for the target with MetaSchedule schedules, tuning unless the database has them.

    The steps are those of relax.pipeline.static_shape_tuning_pipeline, spelled out because that
    pipeline cannot be given a runner: `measure_on` is "local" or a RemoteSpec, whose board then
    measures every candidate through the tracker; `before_tuning` runs only when trials will run.
    Returns (module, record config, tuning_time record).
    """
    import tvm
    import tvm_ffi
    from tvm import relax
    from tvm.relax import transform
    from tvm.s_tir import meta_schedule as ms

    trials = int(options["trials"]) if options["tune"] else 0
    key = hashlib.sha1(json.dumps([target_dict, int(tvm_ffi.structural_hash(mod)), trials]).encode()).hexdigest()
    work_dir = Path(options["database_dir"]) / key[:16]
    mark = work_dir / DONE_MARK
    reused = trials > 0 and mark.exists()
    prepack = options["cpu_weight_prepack"]
    target = tvm.target.Target(target_dict)
    t0 = time.perf_counter()
    with target:
        mod = tvm.transform.Sequential([
            transform.DecomposeOpsForInference(), transform.CanonicalizeBindings(), relax.get_pipeline("zero"),
            *([transform.AttachAttrLayoutFreeBuffers()] if prepack else [])])(mod)
        if trials and not reused:
            before_tuning()
            # TVM's default 30 s per build is shorter than a builder process's first import of its tensor
            # intrinsics on some machines (49 s measured on the 2-core CI machine): every candidate then
            # "failed to build" and nothing was tuned. The initializer pays that import once per process.
            runner = "local"
            # with a cross compiler, candidates are linked here, so the board needs no compiler of its own;
            # otherwise MetaSchedule's tar export (linked by the board's RPC server when remote)
            cc = "" if measure_on == "local" else measure_on.cc
            export = {"f_export": functools.partial(_export_library, cc)} if cc else {}
            builder = ms.builder.LocalBuilder(timeout_sec=BUILD_TIMEOUT_S, initializer=_import_intrinsics, **export)
            if measure_on != "local":
                runner = ms.runner.RPCRunner(
                    ms.runner.RPCConfig(measure_on.tracker_host, measure_on.tracker_port, measure_on.key,
                                        session_timeout_sec=int(measure_on.session_timeout_s)), max_workers=1)
            ms.relax_integration.tune_relax(mod, params={}, target=target, work_dir=str(work_dir),
                                            max_trials_global=trials, runner=runner, builder=builder)
        if trials:
            mod = transform.MetaScheduleApplyDatabase(str(work_dir))(mod)
        if prepack:
            mod = tvm.transform.Sequential([transform.SplitLayoutRewritePreproc(), transform.LiftTransformParams(),
                                            transform.FoldConstant()])(mod)
    tuning_time = time.perf_counter() - t0
    if trials and not reused:
        mark.write_text(json.dumps({"trials": trials, "tuning_time_s": tuning_time, "target": target_dict}))
    where = "" if measure_on == "local" else f", candidates measured on '{measure_on.key}' over RPC"
    message = (f"re-used tuning records in {work_dir} (no new trials)" if reused else
               f"MetaSchedule, {trials} trials{where}" if trials else "not tuned: default schedules (slow loops)")
    config = {"tuned": trials > 0, "trials": trials, "tuning_reused": reused, "target": json.dumps(target_dict),
              "database": str(work_dir) if trials else None}
    return mod, config, {"metric": "tuning_time", "value": tuning_time, "message": message}
