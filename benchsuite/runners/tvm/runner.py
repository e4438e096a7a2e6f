"""Apache TVM (Relax): torch.export -> Relax -> MetaSchedule schedules -> tvm.compile -> VirtualMachine.

Untuned TVM runs convolutions as naive loops, so its numbers mean something only with tuning. Tuning is
its own step (`benchsuite tune`, see tuning.py: a budget per task, one database per target); a run
applies the target's database and records per case what it found: `config.tuning` is tuned (every
kernel has records), partial or untuned, with the trials per task, the tasks missed and the database's
identity. Untuned cases are still timed, labelled so, and verdicts over them are inconclusive. With the
option `tune = true` a run tunes the kernels that lack trials itself first. Forward only. Boards behind
an RPC tracker are tuned the same way, their candidates measured on the board, and timed with the
board's own clock.
"""
from __future__ import annotations

import functools
import json
import os
import time

import torch

from ...measure import Timed
from ..base import Prepared, Runner, inference_only
from . import rpc
from . import tuning as tt
from .rpc import board_session, remote_of
from ...metrics import Metric

INFERENCE_ONLY = inference_only("the TVM runner compiles inference graphs only: no training forward or backward pass")


# /proc/cpuinfo flags whose LLVM feature is not the flag without its underscores
_FLAG_TO_LLVM = {"sse4_1": "sse4.1", "sse4_2": "sse4.2", "avx_vnni": "avxvnni", "amx_tile": "amx-tile",
                 "amx_int8": "amx-int8", "amx_bf16": "amx-bf16", "amx_fp16": "amx-fp16"}
_VECTOR = ("avx", "amx", "fma", "f16c")  # the features that decide which instructions a kernel compiles to
# CPU names whose features together cover the vector extensions LLVM can target on x86 (to know which
# /proc/cpuinfo flags are LLVM features at all)
_FEATURE_RICH = ("graniterapids", "sapphirerapids", "znver5", "znver4", "arrowlake", "diamondrapids")


def machine_mattr(cpu_features, machine_flags, known) -> list[str]:
    """LLVM -mattr that makes a CPU name's features what the machine exposes: +f for a vector feature the
    machine has and the name lacks (a VM that reports an older model: this Xeon's AMX, AVX-512 BF16/FP16 and
    AVX-VNNI under "rocketlake"), -f for one the name implies and the machine hides (a VM that masks
    AVX-512 on a Zen 4). Only features this LLVM knows (`known`) and vector ones (_VECTOR)."""
    machine = {_FLAG_TO_LLVM.get(f, f.replace("_", "")) for f in machine_flags} & set(known)
    has = set(cpu_features)
    return ([f"+{f}" for f in sorted(machine - has) if f.startswith(_VECTOR)]
            + [f"-{f}" for f in sorted(has - machine) if f.startswith(_VECTOR)])


def host_target(threads: int, mcpu: str = "auto") -> dict:
    """This host's LLVM target. With mcpu = "auto": LLVM's name for the CPU, and -mattr where the features
    that name implies differ from the ones /proc/cpuinfo lists (machine_mattr); a named mcpu is taken as is."""
    from tvm.target import Target, codegen

    from ...cpuinfo import cpu_flags

    if mcpu != "auto":
        return {"kind": "llvm", "mcpu": mcpu, "num-cores": threads}
    cpu, triple = codegen.llvm_get_system_cpu(), codegen.llvm_get_system_triple()
    if not codegen.llvm_is_valid_cpu(cpu, triple):
        return {"kind": "llvm", "mcpu": "generic", "num-cores": threads}
    features = lambda name: set(codegen.llvm_get_cpu_features(Target({"kind": "llvm", "mcpu": name})))  # noqa: E731
    known = set().union(*(features(c) for c in _FEATURE_RICH if codegen.llvm_is_valid_cpu(c, triple)))
    mattr = machine_mattr(features(cpu), cpu_flags(), known)
    return {"kind": "llvm", "mcpu": cpu, **({"mattr": mattr} if mattr else {}), "num-cores": threads}



class TVMRunner(Runner):
    name = "tvm"
    description = "Apache TVM Relax with MetaSchedule schedules from `benchsuite tune`, forward only"
    # via: "rpc" cross-compiles on the host and runs on a board behind the profile's [remote] tracker;
    # "worker" compiles and runs wherever the worker runs (this host, or a board through [transport]);
    # "auto" is rpc when the profile has a [remote] table, else worker.
    # trials: MetaSchedule trials per task (kernel); tune: tune kernels that lack them during the run
    options = {"trials": 64, "tune": False, "database_dir": "results/tvm-tuning", "mcpu": "auto",
               "cpu_weight_prepack": True, "via": "auto"}
    dtypes = ("float32",)
    dtype_note = "the TVM path imports and tunes float32 graphs only"

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

    # ---- hooks: what TVM adds to the rest of benchsuite (runners/base.py says what each is for)
    remote_table_help = rpc.HOW_TO
    libraries = ("apache-tvm",)
    metrics = (
        Metric("tuning_time", "s", "runner", "auto-tuning schedules (TVM MetaSchedule)"),
        Metric("tuned_kernel_time", "s", "runner",
               "sum of a case's TVM kernels' best tuned times x their counts (from MetaSchedule's measurements)"),
        Metric("upload_time", "s", "runner", "getting the compiled model onto a remote board (RPC)"),
    )

    def check_remote_table(self, checker) -> dict:
        return rpc.check_table(checker)

    def check_reach(self, device) -> None:
        if device.remote is not None:
            rpc.check_tracker(remote_of(device))

    def claim_caveat(self, record, margin: float) -> str:
        """Untuned kernels, or tuning still improving by more than the margin, decide no claim."""
        config = record.get("config") or {}
        if not record.get("metric", "").startswith("latency"):
            return ""
        if config.get("tuning") in ("untuned", "partial"):
            return (f"TVM's kernels are {config['tuning']} here (default loop nests, not TVM's speed); run "
                    "benchsuite tune for this device and workload first")
        gain = config.get("last_doubling_gain")
        if gain is not None and gain > margin:
            return (f"TVM's tuning had not converged: its estimated forward time still fell {gain:.0%} over the "
                    "last doubling of trials per task (more than the margin), so more tuning could change the verdict")
        return ""

    def report_section(self, df, figure, table):
        from .report import section

        return section(df, figure, table)

    def tune(self, cases, device, options, **kw):
        from .tune_step import tune

        return tune(self, cases, device, options, **kw)

    def target(self, case, options, device) -> dict:
        """The LLVM target a case compiles for: the board's from [remote] (via RPC), else this host's CPU,
        with the case's threads as num-cores (MetaSchedule's tasks and database folder depend on it)."""
        if self._via_rpc(options, device):
            return {**remote_of(device).target, "num-cores": case.threads}
        if device.kind == "gpu":
            raise RuntimeError("the TVM runner here targets CPUs (local LLVM or remote aarch64 boards); "
                               "GPU targets are not wired up")
        return host_target(case.threads, options["mcpu"])

    def candidates(self, options, device):
        """Where tuning measures candidates ("local", or the board's RemoteSpec through its tracker) and the
        function that links them here (a cross compiler; None: MetaSchedule's tar, linked where they run)."""
        if self._via_rpc(options, device):
            remote = remote_of(device)
            return remote, (functools.partial(_export_library, remote.cc) if remote.cc else None)
        return "local", None

    def availability(self) -> tuple[bool, str]:
        try:
            import tvm  # noqa: F401
            from tvm.relax.frontend.torch import from_exported_program  # noqa: F401
        except ImportError as e:
            return False, f"TVM not importable ({e}); pip install 'benchsuite[tvm]'"
        return True, ""

    def prepare(self, model, example, case, options, device) -> Prepared:
        import tvm
        from tvm import relax

        target_dict = self.target(case, options, device)
        if self._via_rpc(options, device):
            return self._prepare_remote(model, example, case, options, device, target_dict)
        os.environ["TVM_NUM_THREADS"] = str(case.threads)  # read when TVM's thread pool starts
        mod, params, export_time = tt.relax_module(model, example)
        mod, config, tuning = _schedule(mod, target_dict, options, case, device)
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
                      *tuning,
                      {"metric": "compile_time", "value": compile_time, "message": "tvm.compile + VM creation"}])

    def _prepare_remote(self, model, example, case, options, device, target_dict) -> Prepared:
        """Tune through the tracker (MetaSchedule's RPC runner measures candidates on the board),
        cross-compile, upload into the worker's board session, time with the board's own timer."""
        import tvm


        remote = remote_of(device)
        board = board_session(remote)
        mod, params, export_time = tt.relax_module(model, example)
        # MetaSchedule's RPC runner asks the tracker for the board itself: hand it back first
        _, export = self.candidates(options, device)
        mod, config, tuning = _schedule(mod, target_dict, options, case, device, measure_on=remote,
                                        before_tuning=board.release, export=export)
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
                      *tuning,
                      {"metric": "compile_time", "value": compile_time, "message": "cross-compile + export_library"},
                      {"metric": "upload_time", "value": upload_time,
                       "message": f"RPC session to '{remote.key}', upload, load"}])


def _to_torch(out) -> torch.Tensor:
    """A VM result (a tensor, or a tuple holding it) as a torch tensor on the host."""
    return torch.from_numpy((out if hasattr(out, "numpy") else out[0]).numpy())


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


def _schedule(mod, target_dict: dict, options: dict, case, device, measure_on="local",
              before_tuning=lambda: None, export=None):
    """Lower `mod` for the target with the schedules of its target's tuning database, first tuning the
    tasks that lack trials when the `tune` option is on (measure_on: "local" or the board's RemoteSpec).

    Returns (module, record config, one-shot records: tuning_time and the convergence estimate)."""
    import tvm

    target = tvm.target.Target(target_dict)
    trials = int(options["trials"])
    prepack = options["cpu_weight_prepack"]
    t0 = time.perf_counter()
    mod = tt.lowered(mod, target, prepack)
    folder = tt.target_folder(options["database_dir"], target_dict, create=options["tune"])
    tasks = tt.tasks_of(mod, target)
    given = {}
    if options["tune"] and trials > 0 and tt.remaining(tasks, tt.TuningLog(folder), trials):
        before_tuning()
        given = tt.tune(tasks, target, folder, trials, threads=case.threads, measure_on=measure_on, export=export)
    database = tt.best_records(folder)
    prov = tt.provenance(tasks, target, folder, database)
    mod = tt.finish(mod, target, database if prov["tasks_tuned"] else None, prepack)
    tuning_time = time.perf_counter() - t0
    where = "" if measure_on == "local" else f", candidates measured on '{measure_on.key}' over RPC"
    held = (f"{prov['tasks_tuned']} of {prov['tasks']} tasks in the database {folder.name} "
            f"(trials per task: {prov['trials_per_task']})")
    if given:
        message = f"MetaSchedule: {len(given)} tasks tuned here, {sum(given.values())} trials{where}; {held}"
    else:
        message = f"no tuning in this run; {held}"
    if prov["tuning"] != "tuned":
        message += (f"; {prov['tuning']}: tasks without records run TVM's default schedules (slow loops). "
                    f"Tune first: benchsuite tune --device {device.name} --workload {case.workload}")
    config = {"tuning": prov["tuning"], "tuned": prov["tuning"] == "tuned", "trials_per_task": prov["trials_per_task"],
              "tasks": prov["tasks"], "tasks_tuned": prov["tasks_tuned"],
              "tasks_missed": ", ".join(prov["tasks_missed"]), "trials_tuned_here": sum(given.values()),
              "target": json.dumps(target_dict), "database": prov["database"], "database_id": prov["database_id"],
              "search": json.dumps(prov["search"], sort_keys=True)}  # MetaSchedule's knobs the tuning used
    one_shot = [{"metric": "tuning_time", "value": tuning_time, "message": message}]
    curve = tt.convergence(tasks, folder)
    gain = tt.last_doubling_gain(curve)
    config["last_doubling_gain"] = None if gain is None else round(gain, 4)
    if curve:
        one_shot.append({
            "metric": "tuned_kernel_time", "value": curve[-1][1], "source": "modeled",
            "config": {"convergence": json.dumps([[n, s] for n, s in curve])},
            "message": "sum over the case's TVM kernels of the best time MetaSchedule measured, times each "
                       "kernel's count; config.convergence holds it per trials-per-task"})
    return mod, config, one_shot
