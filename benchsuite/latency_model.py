"""Latency explained: a network's forward time predicted as the sum of its kernels' times.

The fit uses only the records of a kernel profiling run (workload `kernels`: one operation per model, on a
generic shape grid, benchsuite/models/kernels.py). A network is decomposed with the suite's own counter
(counting.py: every node of its graph, with shapes, multiply-adds and bytes moved) into the kernels the
runner runs; each kernel's time comes from a regression fitted on the profiled kernels of its kind, and the
network's prediction is their sum. Views (reshape, flatten, chunk, getitem) move no bytes and are no kernel.

Runners and their kernels: a runner that runs every module and function of the graph as its own kernel
(its class says `kernels_are_ops`: torch eager) has a network's counted layers as its kernels. A runner that
fuses and can show the graph it executes (`Runner.executed_ops`: onnxruntime folds BatchNorm into the
convolution before it, fuses activations and residual adds into it, and runs most ops in a blocked NCHWc
layout with conversions around the rest) has its fusion and layout rules detected (fusion_rules.py) and
its kernels are the counted layers less the fused ones plus the layout conversions. A runner that can do
neither (TVM and torch.compile fuse whole chains of their own choosing) is refused by name.

A profiled kernel of such a runner runs as a one-op model whose run also holds the runtime's overhead
and, in onnxruntime, layout conversions at its input and output that a network mostly does not pay. The
runner's node profiler (`kernel_node_time`, `layout_node_time`, `nodes_per_run` records) splits each
profiled run: the op node's time is the kernel's, the conversions' time gives `layout` kernels (one per
converted tensor, by its bytes), and what is left of the measured median is the executor's overhead,
fitted over the profile as a cost per run plus a cost per node (a median regression: one-op models run
one to five nodes), paid once per network and once per kernel. Ops fused into a convolution are not
free (a depthwise conv with BatchNorm and ReLU6 fused runs ~1.7x the conv alone here): the profile times
chains (a convolution `then` BatchNorm, an activation, a residual add) beside the same convolution alone,
and a fused chain costs its median extra node time per output element (`fused <chain>` kernels; a chain
never profiled costs the sum of its profiled single ops, and one with an op never profiled is refused).

Per kind of kernel the regression (KernelRegression, scikit-learn) is a non-negative linear cost (fixed,
per multiply-add, per byte, per output element) corrected by a ridge quadratic in the logarithms of the
shape: times over the grid span four orders of magnitude and grow smoothly with size, the linear cost
extrapolates as the hardware does, and the log-space correction bends it between grid points where a
tree would step. The
interval is the 5th to 95th percentile of the kind's cross-validated relative errors (each profiled kernel
predicted by a fit that did not see it), applied to every kernel of the network as if all errors were
fully correlated: an upper bound on the width, not a calibrated interval.

Two baselines are always given beside it: FLOPs only (time = a x multiply-adds, `a` the median seconds per
multiply-add of the profiled convolutions and linear layers) and a roofline (per kernel, the larger of
2 x multiply-adds over the run's measured compute ceiling and bytes over its measured bandwidth).

A predictor is saved beside the run it was fitted on (`predictor-<runner>-t<threads>.joblib`, with the
run's device, machine id and library versions); loading one built on another device, machine, library or
scikit-learn version, or by another format version, is refused with what differs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import BenchsuiteError

FORMAT = 4  # 2: the floor and the best kernel speed; 3: fusion rules, executor overhead; 4: fused chains' cost
KERNEL_FAMILY = "kernel"
FUSED = "fused "  # the kind of ops fused into a kernel: "fused conv_depthwise:batchnorm+relu6"
ACTIVATION_KIND = {"ReLU": "relu", "relu": "relu", "relu_": "relu", "ReLU6": "relu6", "relu6": "relu6",
                   "Hardswish": "hswish", "hardswish": "hswish", "Hardsigmoid": "hsigmoid",
                   "hardsigmoid": "hsigmoid", "SiLU": "swish", "silu": "swish", "Sigmoid": "sigmoid",
                   "sigmoid": "sigmoid", "clamp": "relu6"}
ELEMENTWISE_KIND = {"add": "add", "add_": "add", "sub": "add", "mul": "mul", "mul_": "mul", "truediv": "mul",
                    "div": "mul"}
LOW, HIGH = 5, 95  # the interval's percentiles of cross-validated relative error


@dataclass(frozen=True)
class Kernel:
    """One kernel as the runner runs it: its kind and the numbers the regression reads."""
    name: str
    kind: str
    madds: int
    mac_bytes: int
    out_elements: int
    cin: int = 0
    cout: int = 0
    k: int = 1
    stride: int = 1
    groups: int = 1

    def features(self) -> list[float]:
        return [float(self.madds), float(self.mac_bytes), float(self.out_elements), float(self.cin),
                float(self.cout), float(self.k), float(self.stride), float(self.groups)]


def _numel(shape) -> int:
    return int(np.prod(shape)) if shape else 0


def kernel_kind(layer) -> str | None:
    """The kind of kernel a counted layer runs as; None for a view (no kernel)."""
    t = layer.layer_type
    if t.startswith("conv"):
        a = layer.attrs
        if a["groups"] > 1:
            return "conv_depthwise" if a["groups"] == a["cin"] == a["cout"] else "conv_grouped"
        return "conv_pointwise" if a["k"] == 1 else "conv_full"
    if t == "activation":
        return ACTIVATION_KIND.get(layer.op, f"activation {layer.op}")
    if t == "elementwise":
        return ELEMENTWISE_KIND.get(layer.op, f"elementwise {layer.op}")
    if t == "pooling":
        if layer.op in ("AdaptiveAvgPool2d", "mean"):
            return "avgpool_global"
        return {"MaxPool2d": "maxpool", "AvgPool2d": "avgpool"}.get(layer.op, f"pooling {layer.op}")
    if t in ("view", "split"):
        return None
    return {"fully_connected": "linear", "batchnorm": "batchnorm", "concat": "concat",
            "shuffle": "shuffle"}.get(t, t)


def _shows_its_graph(runner) -> bool:
    from .runners.base import Runner

    return type(runner).executed_ops is not Runner.executed_ops


def refuse_fusing(runner: str) -> None:
    """Raise for a runner whose kernels can be neither its counted layers nor read from its graph."""
    from .runners import get_runner, runner_names

    r = get_runner(runner)
    if not (r.kernels_are_ops or _shows_its_graph(r)):
        ok = [n for n in runner_names() if get_runner(n).kernels_are_ops or _shows_its_graph(get_runner(n))]
        raise BenchsuiteError(f"no fusion rules for runner '{runner}': it fuses kernels of its own choosing and "
                              f"cannot show the graph it executes (predict supports: {', '.join(ok)})")


def layer_kernel(layer) -> Kernel | None:
    """The kernel a counted layer runs as when it runs alone; None for a view."""
    kind = kernel_kind(layer)
    if kind is None:
        return None
    a = layer.attrs
    out_elements = sum(_numel(s) for s in ([layer.out_shape] if layer.out_shape and
                                           isinstance(layer.out_shape[0], int) else layer.out_shape))
    cin = a.get("cin") or (layer.in_shapes[0][1] if layer.in_shapes and len(layer.in_shapes[0]) > 1 else 0)
    return Kernel(layer.name, kind, layer.madds, layer.mac_bytes, out_elements, cin=int(cin),
                  cout=int(a.get("cout", 0)), k=int(a.get("k", 1)), stride=int(a.get("stride", 1)),
                  groups=int(a.get("groups", 1)))


def layout_kernel(name: str, elements: int, moved_bytes: int) -> Kernel:
    """A layout conversion (fusion_rules.py): it reads and writes a tensor of `elements`."""
    return Kernel(name, "layout", 0, moved_bytes, elements)


def kernels_of(counts, runner: str | None = None, rules=None) -> list[Kernel]:
    """The kernels `runner` runs for a counted model, in graph order (None: every counted op, unfused); a
    runner that fuses needs its `rules` (fusion_rules.FusionRules, kept in its predictor)."""
    from .fusion_rules import network_kernels
    from .runners import get_runner

    if runner is not None:
        refuse_fusing(runner)
        if rules is None and not get_runner(runner).kernels_are_ops:
            raise BenchsuiteError(f"runner '{runner}' fuses kernels: its network's kernels need the fusion rules "
                                  "a predictor keeps (benchsuite profile, then predict from that run)")
    if rules is None:
        return [k for k in map(layer_kernel, counts.layers) if k is not None]
    kernels, chains = network_kernels(counts, rules, layer_kernel, layout_kernel)
    return kernels + [Kernel(f"fused({host.name})", f"{FUSED}{host.kind}:{'+'.join(chain)}", 0, 0,
                             host.out_elements) for host, chain in chains]


def model_kernels(model: str, resolution=None, batch_size: int = 1, dtype: str = "float32",
                  runner: str | None = None, rules=None, **knobs) -> list[Kernel]:
    from .counting import count_registered

    return kernels_of(count_registered(model, resolution, batch_size, dtype, **knobs), runner, rules)


# ---------------------------------------------------------------- the fit


@dataclass
class KindFit:
    kind: str
    n: int
    model: object
    low: float   # relative error percentiles (prediction / measured - 1), cross-validated
    high: float
    within_10: float  # share of its kernels predicted within +-10%, cross-validated


@dataclass
class Predictor:
    """What `predict` reads: one fit per kernel kind, the baselines' constants, and where it came from."""
    meta: dict
    fits: dict[str, KindFit]
    seconds_per_madd: float
    peak_flops: float | None
    bandwidth: float | None
    floor_s: float                # the cheapest profiled kernel's measured time: what any kernel costs
    best_seconds_per_madd: float  # the fastest profiled convolution or linear kernel's seconds per multiply-add
    rules: object = None          # fusion_rules.FusionRules of a runner that fuses; None: every op a kernel
    run_overhead_s: float = 0.0   # the runtime's cost per run beyond its kernels (node-profiled runners)
    node_overhead_s: float = 0.0  # and per kernel it runs
    fused_cost: dict = field(default_factory=dict)  # fused chain ("batchnorm+relu6") -> seconds per output element

    def _fused_seconds(self, k: Kernel) -> float | None:
        """Its host's kind's cost for the chain, else the chain's over every conv kind, else the sum of
        its single ops' (each the same way); None when an op was never profiled."""
        host, chain = k.kind[len(FUSED):].split(":")

        def cost(c: str) -> float | None:
            return self.fused_cost.get(f"{host}:{c}", self.fused_cost.get(c))

        if cost(chain) is not None:
            return cost(chain) * k.out_elements
        ops = [cost(op) for op in chain.split("+")]
        return None if None in ops else sum(ops) * k.out_elements

    def kernel_seconds(self, k: Kernel) -> float:
        """One kernel's predicted seconds by the fit of its kind (a fused chain: by its cost per element)."""
        if k.kind.startswith(FUSED):
            return self._fused_seconds(k)
        return float(np.exp(self.fits[k.kind].model.predict(np.array([k.features()]))[0]))

    def predict(self, kernels: list[Kernel]) -> dict:
        """The prediction for a network made of `kernels`: total, interval, the two baselines, per kernel."""
        missing = sorted({k.kind for k in kernels if not k.kind.startswith(FUSED)} - set(self.fits))
        missing += sorted({k.kind for k in kernels if k.kind.startswith(FUSED) and self._fused_seconds(k) is None})
        if missing:
            raise BenchsuiteError(f"no profiled kernel of kind {', '.join(repr(m) for m in missing)} in the run "
                                  f"this predictor was fitted on (profiled: {', '.join(sorted(self.fits))}); "
                                  "add it to the kernels workload and profile again")
        rows = []
        for k in kernels:
            t = self.kernel_seconds(k)
            fit = self.fits.get(k.kind)  # a fused chain's cost is a median: no interval of its own
            rows.append({"name": k.name, "kind": k.kind, "seconds": t, "low": t / (1 + fit.high) if fit else t,
                         "high": t / (1 + fit.low) if fit else t, "madds": k.madds, "mac_bytes": k.mac_bytes,
                         "roofline": self._roofline(k)})
        run = self.run_overhead_s + self.node_overhead_s * len(kernels)
        total = sum(r["seconds"] for r in rows) + run
        madds = sum(k.madds for k in kernels)
        roof = None if self.peak_flops is None or self.bandwidth is None else sum(r["roofline"] for r in rows)
        return {"seconds": total, "low": sum(r["low"] for r in rows) + run,
                "high": sum(r["high"] for r in rows) + run, "flops_only": self.seconds_per_madd * madds,
                "roofline": roof, "per_kernel": rows, "by_kind": _by_kind(rows), "run_overhead": self.run_overhead_s,
                "node_overhead": self.node_overhead_s * len(kernels)}

    def _roofline(self, k: Kernel) -> float | None:
        if self.peak_flops is None or self.bandwidth is None:
            return None
        return max(2 * k.madds / self.peak_flops, k.mac_bytes / self.bandwidth)


def _by_kind(rows) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in rows:
        out[r["kind"]] = out.get(r["kind"], 0.0) + r["seconds"]
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


NODE_METRICS = ("kernel_node_time", "layout_node_time", "nodes_per_run")


def _node_times(df) -> dict[str, tuple[float, float, float]]:
    """case_id -> (op seconds, layout seconds, nodes per run) of the runner's node profile, where it has one."""
    got: dict[str, dict] = {}
    for metric in NODE_METRICS:
        for _, r in df[(df.metric == metric) & (df.status == "ok")].iterrows():
            got.setdefault(r["case_id"], {})[metric] = float(r["value"])
    return {c: tuple(v[m] for m in NODE_METRICS) for c, v in got.items() if len(v) == len(NODE_METRICS)}


def kernel_table(df) -> list[tuple[Kernel, float]]:
    """(kernel, seconds) for every ok latency_forward record of a kernel model in `df`: its measured median,
    or, where the runner profiled its nodes, its op node's time plus `layout` kernels for the conversions
    at its input and output (their time, split by the two tensors' bytes)."""
    from .counting import DTYPE_BYTES, count_registered
    from .models import get_model_entry

    rows = df[(df.metric == "latency_forward") & (df.status == "ok")]
    params = [c for c in df.columns if c.startswith("params.")]
    nodes = _node_times(df)
    out = []
    for _, r in rows.iterrows():
        if get_model_entry(r["model"]).family != KERNEL_FAMILY:
            continue
        knobs = {c[len("params."):]: _plain(r[c]) for c in params if not _missing(r[c])}
        counts = count_registered(r["model"], f"{int(r['height'])}x{int(r['width'])}", int(r["batch_size"]),
                                  r["dtype"], **knobs)
        found = kernels_of(counts)
        if len(found) != 1:  # a fused chain: fused_chain_costs reads it
            continue
        (kernel,) = found
        t = float(r["value"])
        if r["case_id"] not in nodes:
            out.append((kernel, t))
            continue
        op, layout, _ = nodes[r["case_id"]]
        out.append((kernel, op))
        layer = counts.layers[-1] if counts.layers else None
        ends = [_numel(layer.in_shapes[0]) if layer is not None and layer.in_shapes else 0, kernel.out_elements]
        nbytes = DTYPE_BYTES[r["dtype"]]
        if layout > 0 and sum(ends):
            for end, numel in zip(("reorder_input", "reorder_output"), ends):
                if numel:
                    out.append((layout_kernel(f"{end}({kernel.name})", numel, 2 * numel * nbytes),
                                layout * numel / sum(ends)))
    return out


def fused_chain_costs(df) -> dict[str, float]:
    """Fused chain -> seconds per output element, per conv kind ("conv_depthwise:batchnorm+relu6") and over
    all ("batchnorm+relu6"): over the node-profiled chain records (a kernel model's `then`), the median of
    the chain's op node time less the same convolution's alone, per output element, at least 0 (a runner
    without a node profile has none: it does not fuse). A depthwise conv's fused ops cost it more than a
    pointwise one's, whose output tile takes them almost free."""
    from .counting import count_registered

    nodes = _node_times(df)
    rows = df[(df.metric == "latency_forward") & (df.status == "ok") & df.case_id.isin(list(nodes))]
    if "params.then" not in rows:
        return {}
    rows = rows[rows.model.isin(set(rows.model[rows["params.then"].notna()]))]  # the models that take chains
    params = [c for c in rows.columns if c.startswith("params.") and c != "params.then"]

    def conv_of(r) -> Kernel:  # the convolution as counted: knobs left out take their defaults
        knobs = {c[len("params."):]: _plain(r[c]) for c in params if not _missing(r[c])}
        return kernels_of(count_registered(r["model"], f"{int(r['height'])}x{int(r['width'])}", 1, r["dtype"],
                                           **knobs))[0]

    convs = {r["case_id"]: conv_of(r) for _, r in rows.iterrows()}
    alone = {convs[r["case_id"]]: nodes[r["case_id"]][0] for _, r in rows.iterrows() if _missing(r["params.then"])}
    extra: dict[str, list[float]] = {}
    for _, r in rows.iterrows():
        conv = convs[r["case_id"]]
        if _missing(r["params.then"]) or conv not in alone:
            continue
        per = (nodes[r["case_id"]][0] - alone[conv]) / conv.out_elements
        for name in (r["params.then"], f"{conv.kind}:{r['params.then']}"):
            extra.setdefault(name, []).append(per)
    return {chain: max(0.0, float(np.median(v))) for chain, v in extra.items()}


def executor_overhead(df) -> tuple[float, float]:
    """(seconds per run, seconds per node) of the executor beyond its nodes: the measured median less the
    profiled nodes' time, over the node-profiled kernel records, a median regression on the nodes per run,
    each part at least 0 ((0, 0) without a node profile). A median, not least squares: the gap is the
    difference of two sessions' times and its tail is long; least squares on one profile here said 4.0 us a
    node, on the next 0.6 us a node and 7.4 us a run, where the medians said 3.0-3.4 us a run and nothing a
    node in both."""
    from sklearn.linear_model import QuantileRegressor

    nodes = _node_times(df)
    rows = df[(df.metric == "latency_forward") & (df.status == "ok") & df.case_id.isin(list(nodes))]
    if len(rows) < 2:
        return 0.0, 0.0
    left = np.array([float(r["value"]) - sum(nodes[r["case_id"]][:2]) for _, r in rows.iterrows()])
    count = np.array([[nodes[c][2]] for c in rows.case_id])
    if len(np.unique(count)) < 2:
        return max(0.0, float(np.median(left))), 0.0
    fit = QuantileRegressor(quantile=0.5, alpha=0.0, solver="highs").fit(count, left)
    return max(0.0, float(fit.intercept_)), max(0.0, float(fit.coef_[0]))


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _plain(v):
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v.item() if hasattr(v, "item") else v


def fit(table: list[tuple[Kernel, float]], meta: dict, peak_flops: float | None = None,
        bandwidth: float | None = None, min_kernels: int = 5, rules=None, overhead=(0.0, 0.0),
        fused_cost: dict | None = None) -> Predictor:
    """Fit one regression per kernel kind with at least `min_kernels` profiled kernels."""
    from sklearn.model_selection import KFold, cross_val_predict

    from .kernel_regression import KernelRegression

    by: dict[str, list[tuple[Kernel, float]]] = {}
    for k, t in table:
        by.setdefault(k.kind, []).append((k, t))
    fits = {}
    for kind, items in sorted(by.items()):
        if len(items) < min_kernels:
            continue
        x = np.array([k.features() for k, _ in items])
        y = np.log([t for _, t in items])
        cv = cross_val_predict(KernelRegression(), x, y, cv=KFold(min(5, len(items)), shuffle=True, random_state=0))
        rel = np.exp(cv - y) - 1
        model = KernelRegression().fit(x, y)
        fits[kind] = KindFit(kind, len(items), model, float(np.percentile(rel, LOW)),
                             float(np.percentile(rel, HIGH)), float(np.mean(np.abs(rel) <= 0.10)))
    if not fits:
        raise BenchsuiteError(f"no kernel kind has {min_kernels} or more profiled kernels: nothing to fit "
                              "(profile with the full `kernels` workload, not --quick)")
    per = [t / k.madds for k, t in table if k.madds and k.kind.startswith(("conv", "linear"))]
    if not per:
        raise BenchsuiteError("no profiled convolution or linear layer: the FLOPs-only baseline has nothing to fit")
    return Predictor(meta, fits, float(np.median(per)), peak_flops, bandwidth,
                     floor_s=float(min(t for _, t in table)), best_seconds_per_madd=float(min(per)), rules=rules,
                     run_overhead_s=overhead[0], node_overhead_s=overhead[1], fused_cost=fused_cost or {})


# ---------------------------------------------------------------- files


def predictor_path(run_dir: Path, runner: str, threads: int) -> Path:
    return Path(run_dir) / f"predictor-{runner}-t{threads}.joblib"


def _versions() -> dict:
    import sklearn

    from .env import library_versions

    return {"format": FORMAT, "scikit-learn": sklearn.__version__, "libraries": library_versions()}


def build(run_dir: Path, runner: str, threads: int = 1, dtype: str = "float32", cases=None, rules=None,
          save: bool = True) -> Predictor:
    """Fit a predictor on a profiling run's kernel records for one runner and thread count, and save it;
    `cases` (case ids) fits on those kernels only and `rules` reuses rules already read (a smaller
    profile's accuracy, benchmarks/latency_prediction.py)."""
    import joblib

    from .records import to_frame
    from .results.run import Run

    run = Run.load(run_dir)
    if run.meta is None:
        raise BenchsuiteError(f"{run_dir}: not a run folder (no readable run metadata)")
    every = to_frame(run.records)
    df = every[(every.runner == runner) & (every.threads == threads) & (every.dtype == dtype)]
    if df.empty:
        raise BenchsuiteError(f"{run_dir}: no records for runner {runner}, {threads} thread(s), {dtype}")
    if cases is not None:
        df = df[~df.metric.isin(("latency_forward", *NODE_METRICS)) | df.case_id.isin(cases)]
    table = kernel_table(df)
    rules = rules if rules is not None else _rules(run, runner, df, threads)
    ceil = df[(df.metric == "ceiling_flops") & (df.status == "ok")]
    bw = every[(every.metric == "ceiling_bandwidth") & (every.status == "ok") & (every.threads == threads)]
    env = run.environment
    meta = {"run_id": run.meta.run_id, "device": run.meta.device, "machine_id": env.get("machine_id"),
            "cpu_model": env.get("cpu_model"), "local": run.meta.raw.get("transport") == "this host",
            "runner": runner, "threads": threads, "dtype": dtype, "n_kernels": len(table), **_versions(),
            "libraries": env.get("libraries", {}),
            "fusion_rules": None if rules is None else rules.describe()}
    pred = fit(table, meta, float(ceil.value.max()) if len(ceil) else None,
               float(bw.value.max()) if len(bw) else None, rules=rules, overhead=executor_overhead(df),
               fused_cost=fused_chain_costs(df) if rules is not None else {})
    if save:
        joblib.dump(pred, predictor_path(run_dir, runner, threads))
    return pred


def _rules(run, runner: str, df, threads: int):
    """The fusion rules of a runner that fuses (None for one whose kernels are its ops), read from the graphs
    it executes here with the options the profile recorded; refused for a profile measured elsewhere."""
    from .fusion_rules import detect
    from .runners import get_runner, resolved_options

    refuse_fusing(runner)
    r = get_runner(runner)
    if r.kernels_are_ops:
        return None
    if run.meta.raw.get("transport") != "this host":
        raise BenchsuiteError(f"runner '{runner}' fuses kernels and its fusion rules are read from the graphs it "
                              "executes on this host, but this profile was measured on another machine; fit "
                              "its predictor on the machine itself (benchsuite predict --profile RUN there)")
    options = {}
    for key in r.options:
        col = df.get(f"config.{key}")
        vals = [] if col is None else [v for v in col.dropna().unique() if not isinstance(v, (list, dict))]
        if len(vals) == 1:
            options[key] = _plain(vals[0])
    return detect(runner, resolved_options(r, options), threads)


def for_run(run_dir: Path, runner: str, threads: int = 1, device: str | None = None,
            refit: bool = False) -> Predictor:
    """The run's saved predictor (fitted and saved first if it has none, or `refit`), refused as `load` says;
    a run measured on this host is checked against this host's machine and libraries."""
    from .env import environment

    path = predictor_path(run_dir, runner, threads)
    if refit or not path.is_file():
        build(run_dir, runner, threads)
    pred = load(path, device)
    if pred.meta.get("local"):
        pred = load(path, device, environment())
    return pred


def load(path: Path, device: str | None = None, environment: dict | None = None) -> Predictor:
    """A saved predictor, refused when it was built by another format or scikit-learn version, for another
    device, or (given this device's `environment`) on another machine or library versions."""
    import joblib
    import sklearn

    path = Path(path)
    if not path.is_file():
        raise BenchsuiteError(f"no predictor at {path}")
    pred = joblib.load(path)
    m = pred.meta
    problems = []
    if m.get("format") != FORMAT:
        problems.append(f"format {m.get('format')} (this benchsuite reads {FORMAT})")
    if m.get("scikit-learn") != sklearn.__version__:
        problems.append(f"scikit-learn {m.get('scikit-learn')} (installed: {sklearn.__version__})")
    if device is not None and m.get("device") != device:
        problems.append(f"device {m.get('device')} (asked for {device})")
    if environment is not None:
        if environment.get("machine_id") != m.get("machine_id"):
            problems.append(f"machine {m.get('cpu_model')} (this one: {environment.get('cpu_model')})")
        libs, now = m.get("libraries", {}), environment.get("libraries", {})
        diff = sorted(k for k in set(libs) | set(now) if libs.get(k) != now.get(k))
        problems += [f"{k} {libs.get(k)} (now {now.get(k)})" for k in diff]
    if problems:
        raise BenchsuiteError(f"predictor {path} was built for another setting: " + "; ".join(problems)
                              + ". Profile this device again (benchsuite profile) and predict from that run")
    return pred


# ---------------------------------------------------------------- for the latency_explained study


def predictor_beside(run_dir: Path, runner: str, threads: int, machine_id) -> Path | None:
    """The newest predictor saved for `runner` and `threads` in a run folder beside `run_dir` (the same
    results folder) whose run was measured on machine `machine_id`."""
    from .results.run import read_meta

    found = []
    for path in Path(run_dir).parent.glob(f"*/{predictor_path(Path(), runner, threads).name}"):
        try:
            meta = read_meta(path.parent)
        except (OSError, ValueError, KeyError):
            continue
        if meta.environment.get("machine_id") == machine_id:
            found.append((meta.run_id, path))
    return max(found)[1] if found else None


class Explainer:
    """What the latency_explained study asks of a measured forward-latency record: its prediction, the two
    baselines and the guideline costs (guideline_costs.py), from the newest predictor saved beside its run
    on the same machine (made by `benchsuite profile` or `predict`). Refusals raise BenchsuiteError with
    what is missing: no profile of this machine, a fusing runner, a kind never profiled, other libraries."""

    def __init__(self, runs):
        self.runs = {r.name: r for r in runs if r.path is not None and r.meta is not None}
        self._predictors: dict[tuple, Predictor | str] = {}

    def _predictor(self, run_id: str, runner: str, threads: int) -> Predictor | str:
        run = self.runs.get(run_id)
        if run is None:
            return f"run {run_id} has no folder to look for a kernel profile beside"
        try:
            refuse_fusing(runner)
        except BenchsuiteError as e:
            return str(e)
        path = predictor_beside(run.path, runner, threads, run.environment.get("machine_id"))
        if path is None:
            return (f"no kernel profile of this machine for {runner} at {threads} thread(s) beside run {run_id} "
                    f"(make one: benchsuite profile --device {run.meta.device} --runner {runner}, into the same "
                    "results folder)")
        try:
            return load(path, environment=run.environment)
        except BenchsuiteError as e:
            return str(e)
        except ImportError as e:
            return f"the kernel profile's predictor needs scikit-learn ({e}): pip install 'benchsuite[predict]'"

    def __call__(self, record: dict) -> dict:
        from .guideline_costs import explain

        key = (record["run_id"], record["runner"], int(record["threads"]))
        if key not in self._predictors:
            self._predictors[key] = self._predictor(*key)
        pred = self._predictors[key]
        if isinstance(pred, str):
            raise BenchsuiteError(pred)
        if record["dtype"] != pred.meta.get("dtype", "float32"):
            raise BenchsuiteError(f"the kernel profile was fitted on {pred.meta.get('dtype')}, not {record['dtype']}")
        kernels = model_kernels(record["model"], f"{record['height']}x{record['width']}", int(record["batch_size"]),
                                record["dtype"], record["runner"], pred.rules, **(record.get("params") or {}))
        p = pred.predict(kernels)
        return {"predicted": p["seconds"], "low": p["low"], "high": p["high"], "flops_only": p["flops_only"],
                "roofline": p["roofline"], "n_kernels": len(kernels), "profile": pred.meta["run_id"],
                "parts": explain(pred, kernels, float(record["value"]), p)}
