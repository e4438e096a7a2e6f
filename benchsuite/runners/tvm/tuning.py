"""TVM MetaSchedule tuning with a budget per task: one database per target, resumable, logged.

MetaSchedule's own entry points take a global trial budget and give each round up to 64 candidates to
one task, so a global budget below 64 x tasks leaves most tasks on their default schedules (for CPU
convolutions: an unparallelised loop nest). Here every task gets the same number of trials, tasks are
tuned one after another (a task's candidates are never measured while another task's are being built,
which on a small machine would pick schedules by noise), and a log beside the database records, per task
and per round, how many trials it has had and the best kernel time so far. The log makes tuning
resumable (a second call gives each task only what it still lacks) and gives the convergence curve:
the estimated forward time of a case as a function of trials per task. One XGBoost cost model serves
every task of a target and is kept beside its database (cost_model.tar), as MetaSchedule's own
tune_tasks shares one over the tasks it tunes together: a model per task call would stay in its 100
warm-up samples of random predictions for good.

The database is keyed by folder, one per target (TVM's database does not key on the target itself,
apache/tvm#15549): kind, CPU, thread count and a hash of the whole target.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from ...errors import BenchsuiteError

LOG_FILE = "tuning-log.jsonl"
TARGET_FILE = "target.json"
RECORDS_FILE = "database_tuning_record.json"
PRUNED_PREFIX = "pruned-"  # the best record per kernel, what runs read (best_records)
COST_MODEL_FILE = "cost_model.tar"  # the shared XGBoost cost model and the features it was trained on
BUILD_TIMEOUT_S = 600.0
# MetaSchedule schedules a convolution in rounds of candidates; a round below 16 gives its cost model
# too little to learn from, above 32 spends a small budget in one blind step.
MAX_ROUND = 32
# two lines of a tuning log further apart than this belong to different calls (a round takes ~30-60 s
# here; logs written before a call logged its start): the time between them is not tuning
CALL_GAP_S = 300.0


def target_name(target_dict: dict) -> str:
    """The name of a target's database folder: kind, CPU, cores and a hash of the whole target."""
    text = json.dumps(target_dict, sort_keys=True)
    cpu = target_dict.get("mcpu") or target_dict.get("mtriple") or "generic"
    return f"{target_dict.get('kind', 'llvm')}-{cpu}-{target_dict.get('num-cores', 'x')}c-" \
           f"{hashlib.sha1(text.encode()).hexdigest()[:10]}"


def target_folder(root, target_dict: dict, create: bool = True) -> Path:
    """The database folder of one target under `root` (created, with the target written beside it). A
    database tuned for another target is refused by name: `root` that is itself one target's database
    (it holds target.json), or a folder whose target.json is not this target."""
    text = json.dumps(target_dict, sort_keys=True)
    for folder in (Path(root), Path(root) / target_name(target_dict)):
        written = folder / TARGET_FILE
        if written.is_file():
            try:
                theirs = json.loads(written.read_text())
            except ValueError:
                theirs = None
            if theirs == target_dict:
                return folder
            raise BenchsuiteError(
                f"{folder}: a TVM tuning database for target "
                f"{target_name(theirs) if isinstance(theirs, dict) else '?'} ({written.read_text().strip()}), "
                f"not this machine's {target_name(target_dict)} ({text}); "
                "schedules tuned for another CPU or thread count are not used. Give database_dir the folder "
                "that holds one database per target (default results/tvm-tuning), or tune this target anew")
    folder = Path(root) / target_name(target_dict)
    if not create:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / TARGET_FILE).write_text(text + "\n")
    return folder


def lowered(mod, target, prepack: bool):
    """The Relax module as MetaSchedule sees it: decomposed for inference, fused, legalised to TIR."""
    import tvm
    from tvm import relax
    from tvm.relax import transform

    with target:
        return tvm.transform.Sequential([
            transform.DecomposeOpsForInference(), transform.CanonicalizeBindings(), relax.get_pipeline("zero"),
            *([transform.AttachAttrLayoutFreeBuffers()] if prepack else [])])(mod)


def finish(mod, target, database, prepack: bool):
    """Apply the database's best schedules (none when `database` is None; see best_records), then lift
    the weight layout transforms into main_transform_params when prepacking."""
    import tvm
    from tvm.relax import transform

    with target:
        if database is not None:
            with database:
                mod = transform.MetaScheduleApplyDatabase()(mod)
        if prepack:
            mod = tvm.transform.Sequential([transform.SplitLayoutRewritePreproc(), transform.LiftTransformParams(),
                                            transform.FoldConstant()])(mod)
    return mod


@dataclass
class Task:
    """One tunable kernel: its identity across cases and models (name + structural hash), how many
    times the module calls it, and MetaSchedule's extracted task."""
    key: str
    name: str
    weight: int
    extracted: object


def tasks_of(mod, target) -> list[Task]:
    """The module's tunable kernels, one per distinct kernel."""
    import tvm_ffi
    from tvm.s_tir import meta_schedule as ms

    out = {}
    for t in ms.relax_integration.extract_tasks(mod, target):
        key = f"{t.task_name}-{int(tvm_ffi.structural_hash(t.dispatched[0])) & (2**64 - 1):016x}"
        if key in out:
            out[key].weight += int(t.weight)
        else:
            out[key] = Task(key, t.task_name, int(t.weight), t)
    return list(out.values())


class TuningLog:
    """The folder's tuning log: per task, rounds of (trials so far, best kernel seconds so far), and
    the budgets whose tuning call finished (a task can end short of its budget when its search space
    runs out; it is then done all the same)."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / LOG_FILE
        self.rounds: dict[str, list[tuple[int, float | None]]] = {}
        self.finished: dict[str, int] = {}
        self.settings: dict[str, list[dict]] = {}  # per task, the search settings of each tuning call
        self.timeline: list[dict] = []  # every line with its time, in order (the tuning rate)
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    e = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a kill: the rounds before it still count
                self._add(e)

    def _add(self, e: dict) -> None:
        if e.get("event") == "round":
            self.rounds.setdefault(e["task"], []).append((int(e["trials"]), e["best_s"]))
        elif e.get("event") == "finished":
            self._finish(e)
        if isinstance(e.get("time"), (int, float)):
            self.timeline.append(e)

    def _finish(self, e: dict) -> None:
        self.finished[e["task"]] = max(self.finished.get(e["task"], 0), int(e["budget"]))
        if e.get("settings") and e["settings"] not in self.settings.get(e["task"], []):
            self.settings.setdefault(e["task"], []).append(e["settings"])

    def append(self, **entry) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(entry) + "\n")
        self._add(entry)

    def seconds_per_trial(self) -> tuple[float, int] | None:
        """(wall seconds per trial, trials it rests on) of the tuning this log records: the time from each
        line to the next round, over the trials that round added. A tuning call's start line begins a span
        (its set-up counts, the time before it does not); in logs without start lines a gap over CALL_GAP_S
        does. None before any trial."""
        spent, trials, seen, last = 0.0, 0, {}, None
        for e in self.timeline:
            if e.get("event") == "round":
                new = int(e["trials"]) - seen.get(e["task"], 0)
                seen[e["task"]] = int(e["trials"])
                if last is not None and new > 0 and 0 <= e["time"] - last <= CALL_GAP_S:
                    spent, trials = spent + e["time"] - last, trials + new
            last = e["time"]
        return (spent / trials, trials) if trials else None

    def trials(self, key: str) -> int:
        return max((t for t, _ in self.rounds.get(key, [])), default=0)

    def done_to(self, key: str) -> int:
        """The budget per task this task has been tuned to (its trials, or a finished budget's)."""
        return max(self.trials(key), self.finished.get(key, 0))

    def best_within(self, key: str, trials: int) -> float | None:
        best = [b for t, b in self.rounds.get(key, []) if t <= trials and b is not None]
        return min(best) if best else None


def remaining(tasks: list[Task], log: TuningLog, trials_per_task: int) -> dict[str, int]:
    """Trials each task still needs to reach `trials_per_task` (tasks already there are left out)."""
    return {t.key: trials_per_task - log.done_to(t.key) for t in tasks if log.done_to(t.key) < trials_per_task}


def round_size(trials: int, max_round: int = MAX_ROUND) -> int:
    return max(1, min(trials, max_round))


@dataclass(frozen=True)
class SearchSettings:
    """The MetaSchedule knobs a tuning call uses (its provenance records them). MetaSchedule's own defaults
    are population 512, 4 generations and one measurement of >= 100 ms of 3-call batches; here the search
    is leaner and a candidate's measurement shorter (benchmarks/tvm_trials_per_minute.py, one thread, nothing
    else running): on a 1x1-conv G1 task (Intel Xeon, 6 seeds) 62 -> 110 trials per minute, the forward time
    at equal trials the same within the seeds' spread (30.1 vs 31.2 ms median) and 7.7% faster at equal
    wall time; on a 3x3 depthwise conv (AMD EPYC Zen 5, 3 seeds) 43 -> 78 trials per minute and, at equal
    wall time, 0.126 -> 0.111 ms median. Neither equal-time gain is significant alone; both point the same
    way, and the search is what the time went to (22-41 s of 60-90 s per 64 trials). Both were measured
    before the cost model was shared, i.e. with a model that never left its random warm-up: with one that
    learns, more generations may pay again, which is still to be measured."""
    population: int = 256         # evolutionary search: schedules per generation (MetaSchedule: 512)
    genetic_iters: int = 2        # generations per round (MetaSchedule: 4)
    max_round: int = MAX_ROUND    # candidates built and measured per round
    cost_model: str = "xgb"       # "xgb" or "random"
    builder_workers: int | None = None  # processes building candidates (None: one per core)
    number: int = 1               # the runner's evaluator: calls per measurement (MetaSchedule: 3),
    repeat: int = 3               # measurements per candidate (MetaSchedule: 1),
    min_repeat_ms: int = 20       # and the least time one measurement lasts (MetaSchedule: 100)
    seed: int = -1                # the search's random state (-1: MetaSchedule picks one)
    # one cost model for every task of the target, kept beside its database (COST_MODEL_FILE) so that a
    # resumed or later tuning starts from what it learnt. MetaSchedule's own tune_tasks shares one model
    # over the tasks it tunes together; tasks tuned one at a time, each with a model of its own, never
    # leave XGBModel's 100 warm-up samples of random predictions (a task's call adds 16-64 candidates)
    share_cost_model: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


def build_candidate(mod, target, _params):
    """MetaSchedule builder function: the default build without its import of every tensor intrinsic
    (CUDA's alone take 30 s in each fresh builder process here, and the builder's processes are
    restarted for every round). A scheduled candidate carries its intrinsics' bodies already."""
    from tvm.driver import build
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

    return build(RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod), target=target)


def _callback(log: TuningLog, task: Task, on_round):
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback

    @derived_object
    class LogRound(PyMeasureCallback):
        def __init__(self):
            self.start = log.trials(task.key)
            self.trials = self.start
            self.best = log.best_within(task.key, self.start)

        def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results):
            for res in runner_results:
                secs = [float(s) for s in (res.run_secs or [])]
                if res.error_msg is None and secs and (self.best is None or sum(secs) / len(secs) < self.best):
                    self.best = sum(secs) / len(secs)
            self.trials += len(runner_results)
            log.append(event="round", task=task.key, trials=self.trials, best_s=self.best, time=time.time())
            on_round(task, self.trials - self.start, self.best)

    return LogRound()


def missing_dependency() -> str | None:
    """What tuning lacks here, if anything: MetaSchedule's cost model and its process pools."""
    for module in ("xgboost", "cloudpickle"):
        try:
            __import__(module)
        except ImportError:
            return f"MetaSchedule tuning needs {module}: pip install 'benchsuite[tvm]'"
    return None


def tune(tasks: list[Task], target, folder: Path, trials_per_task: int, *, threads: int, measure_on="local",
         export: Callable | None = None, on_round=lambda task, trials, best: None,
         should_stop=lambda: False, settings: SearchSettings = SearchSettings(), database=None) -> dict[str, int]:
    """Tune each task that lacks trials up to `trials_per_task`, one task at a time, into `folder`'s
    database. `measure_on` is "local" or a RemoteSpec (candidates measured on the board through its
    tracker); `export` links candidates here (a cross compiler) instead of on the board; `on_round`
    hears of every round (task, trials in this call, best seconds so far); `should_stop` is asked
    before each task; `database`: the folder's database when the caller has read it already (reading
    it takes a minute after an hour of tuning). Returns the trials given to each task in this call."""
    from tvm.s_tir import meta_schedule as ms

    why = missing_dependency()
    if why:
        raise RuntimeError(why)
    log = TuningLog(folder)
    need = remaining(tasks, log, trials_per_task)
    if not need:
        return {}
    log.append(event="call", budget=trials_per_task, tasks=len(need), time=time.time())
    os.environ["TVM_NUM_THREADS"] = str(threads)  # the runner's measuring processes inherit it
    builder = ms.builder.LocalBuilder(f_build=build_candidate, timeout_sec=BUILD_TIMEOUT_S,
                                      max_workers=settings.builder_workers,
                                      **({"f_export": export} if export else {}))
    evaluator = ms.runner.EvaluatorConfig(number=settings.number, repeat=settings.repeat,
                                          min_repeat_ms=settings.min_repeat_ms)
    if measure_on == "local":
        runner = ms.runner.LocalRunner(evaluator_config=evaluator)
    else:
        runner = ms.runner.RPCRunner(
            ms.runner.RPCConfig(measure_on.tracker_host, measure_on.tracker_port, measure_on.key,
                                session_timeout_sec=int(measure_on.session_timeout_s)),
            evaluator_config=evaluator, max_workers=1)
    database = database if database is not None else all_records(folder)
    cost_model = _shared_cost_model(folder, threads) if settings.share_cost_model and settings.cost_model == "xgb" \
        else settings.cost_model
    given = {}
    logger = _log_to(folder)
    for task in (t for t in tasks if t.key in need):
        if should_stop():
            break
        trials = need[task.key]
        if task.extracted.mod.attrs.get("tirx.is_scheduled", False):  # scheduled already: nothing to search
            log.append(event="finished", task=task.key, budget=trials_per_task, time=time.time())
            continue
        # the context built here rather than by MetaSchedule's helper, whose logging set-up fails on a logger
        # that already has an unnamed handler (met under pytest) and prints every trial to stdout
        search = ms.search_strategy.EvolutionarySearch(population_size=settings.population,
                                                       genetic_num_iters=settings.genetic_iters)
        contexts = [ms.TuneContext(mod=task.extracted.dispatched[0], target=task.extracted.target,
                                   space_generator="post-order-apply", search_strategy=search,
                                   task_name=task.name, logger=logger, num_threads=threads,
                                   rand_state=settings.seed).clone()]
        weights = [float(task.weight)]
        before = log.trials(task.key)
        ms.tune_tasks(tasks=contexts, task_weights=weights, work_dir=str(folder), max_trials_global=trials,
                      max_trials_per_task=trials, num_trials_per_iter=round_size(trials, settings.max_round),
                      builder=builder, runner=runner, database=database, task_scheduler="round-robin",
                      cost_model=cost_model,
                      measure_callbacks=[*ms.measure_callback.MeasureCallback.create("default"),
                                         _callback(log, task, on_round)])
        if not isinstance(cost_model, str):  # written whole, then renamed: a kill leaves the last one
            cost_model.save(str(Path(folder) / f"{COST_MODEL_FILE}.part"))
            os.replace(Path(folder) / f"{COST_MODEL_FILE}.part", Path(folder) / COST_MODEL_FILE)
        log.append(event="finished", task=task.key, budget=trials_per_task, time=time.time(),
                   settings=settings.to_dict())
        given[task.key] = log.trials(task.key) - before  # what it had: fewer than asked where its space ran out
    return given


def _shared_cost_model(folder: Path, threads: int):
    """The target's XGBoost cost model: the one saved beside its database, else a new one (as MetaSchedule
    makes it: trained on the tuning threads)."""
    from tvm.s_tir import meta_schedule as ms

    path = Path(folder) / COST_MODEL_FILE
    if path.is_file():
        model = ms.cost_model.XGBModel(num_tuning_cores=threads, tree_method="auto")
        try:
            model.load(str(path))
            return model
        except Exception as e:  # noqa: BLE001 - unreadable (another XGBoost, a damaged disk): learn anew
            _log_to(folder).warning(f"cost model {path} not loaded ({type(e).__name__}: {e}); starting a new one")
    return ms.cost_model.XGBModel(num_tuning_cores=threads, tree_method="auto")


def _log_to(folder: Path):
    """MetaSchedule's own log of the candidates it tries, in the database folder (metaschedule.log)."""
    import logging

    logger = logging.getLogger(f"benchsuite.tuning.{Path(folder).name}")
    if not logger.handlers:
        handler = logging.FileHandler(Path(folder) / "metaschedule.log")
        handler.setFormatter(logging.Formatter("%(asctime)s [%(levelname)s] %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def database_id(folder: Path) -> str:
    """A short hash of the database's records: two runs with the same id used the same schedules."""
    path = Path(folder) / RECORDS_FILE
    return hashlib.sha1(path.read_bytes()).hexdigest()[:12] if path.exists() else "empty"


def all_records(folder: Path):
    """The target's whole database, every candidate measured (what tuning reads and adds to)."""
    from tvm.s_tir import meta_schedule as ms

    return ms.database.JSONDatabase(work_dir=str(folder))


def best_records(folder: Path):
    """The database a run applies: the best record of each kernel (MetaSchedule's dump_pruned of the
    target's database), or None when nothing was tuned. The full database keeps every candidate ever
    measured (~6000 records, 100 MB after an hour of tuning) and takes a minute to read, once per case;
    the pruned one reads in under a second and answers every query a run makes the same way (a kernel's
    best record). It is kept beside the full one as pruned-<database id>/ and made again, once, when the
    records change; made in a temporary folder and renamed into place, so processes preparing cases at
    the same time never read half of one."""
    import shutil
    import tempfile

    from tvm.s_tir import meta_schedule as ms

    folder = Path(folder)
    if not (folder / RECORDS_FILE).exists():
        return None
    kept = folder / f"{PRUNED_PREFIX}{database_id(folder)}"
    if not kept.is_dir():
        part = Path(tempfile.mkdtemp(prefix=".pruned-", dir=folder))
        all_records(folder).dump_pruned(ms.database.JSONDatabase(work_dir=str(part)))
        try:
            part.rename(kept)
        except OSError:  # another process put it there first: the same records, keep theirs
            shutil.rmtree(part, ignore_errors=True)
        for old in folder.glob(f"{PRUNED_PREFIX}*"):
            if old != kept:
                shutil.rmtree(old, ignore_errors=True)
    return ms.database.JSONDatabase(work_dir=str(kept))


def provenance(tasks: list[Task], target, folder: Path, database=None) -> dict:
    """What the database holds for these tasks (`database`: best_records(folder), read once by the caller
    when given): found/missed, trials per task, the database's identity, and the state it leaves a case
    in: tuned (every task found), partial, or untuned."""
    found = []
    database = database if database is not None else best_records(folder)
    if database is not None:
        found = [t for t in tasks
                 if database.query_tuning_record(t.extracted.dispatched[0], target, t.name) is not None]
    keys = {t.key for t in found}
    missed = [t.name for t in tasks if t.key not in keys]
    log = TuningLog(folder)
    trials = min((log.done_to(t.key) for t in found), default=0)
    state = "untuned" if not found else "partial" if missed else "tuned"
    settings = [x for t in found for x in log.settings.get(t.key, [])]
    return {"tuning": state, "tasks": len(tasks), "tasks_tuned": len(found), "tasks_missed": missed,
            "trials_per_task": trials, "database": str(folder), "database_id": database_id(folder),
            "search": [json.loads(x) for x in sorted({json.dumps(x, sort_keys=True) for x in settings})]}


def last_doubling_gain(curve: list[tuple[int, float]]) -> float | None:
    """How much faster the estimate got over the last doubling of trials per task (0.1 = 10%), or None
    when the curve does not reach back that far: a tuning still improving by more than a verdict's
    margin could still change the verdict."""
    if len(curve) < 2:
        return None
    k, est = curve[-1]
    before = [s for n, s in curve if n <= k // 2]
    return before[-1] / est - 1 if before else None


def convergence(tasks: list[Task], folder: Path) -> list[tuple[int, float]]:
    """(trials per task, estimated forward seconds): the sum over tasks of the best kernel time found
    within that many trials, times each task's count, at every trial count where all tasks have one.
    A model of the forward time from MetaSchedule's own kernel measurements, not a timing of it."""
    log = TuningLog(folder)
    if not tasks or any(not log.rounds.get(t.key) for t in tasks):
        return []
    points = sorted({n for t in tasks for n, _ in log.rounds[t.key]})
    curve = []
    for n in points:
        best = [log.best_within(t.key, n) for t in tasks]
        if all(b is not None for b in best):
            curve.append((n, sum(b * t.weight for b, t in zip(best, tasks))))
    return curve


def relax_module(model, example):
    """(Relax module, its weights, seconds taken) from torch.export of the eval-mode model."""
    import torch
    from tvm import relax
    from tvm.relax.frontend.torch import from_exported_program

    model.eval()
    t0 = time.perf_counter()
    exported = torch.export.export(model, (example,))
    mod, params = relax.frontend.detach_params(from_exported_program(exported, keep_params_as_input=True))
    return mod, params, time.perf_counter() - t0
