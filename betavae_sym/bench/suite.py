"""The measurements of ``betavae-sym bench``: one record per measurement, one JSON document per run.

Every record (:func:`measurement`) has ``section``, ``name``, ``config`` (what
was measured, sizes and dtype), ``unit``, ``median``, ``min``, ``max``,
``runs`` (the number of timed runs), ``values`` (every run) and
``load_average_1min`` (when the measurement finished). A measurement that could
not be taken (an anchor missing, the cold derive left out of a smoke run) has
``runs = 0``, null statistics and a ``note``. Training records (``deep`` and
``sweep``) also carry ``examples_per_second``, for each anchor ``torch_`` /
``jax_examples_per_second`` and ``ratio_vs_torch`` / ``ratio_vs_jax`` (null when
not measured), ``best_peer``, ``best_peer_examples_per_second``,
``ratio_vs_best_peer`` and ``fraction_of_sgemm_peak`` (of the cores the run
uses; :mod:`betavae_sym.bench.training`); scale records carry ``series`` and
``x`` (the varied size).

Runs that are compared are interleaved repeat by repeat (numeric / closed form;
GEMM / ours / each anchor in its own process), so that a change of machine load
hits all of them alike; ratios are medians of the per-repeat ratios.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

import numpy as np

from betavae_sym.bench.records import Progress, blas_limit, fresh_process, measurement, median, timed
from betavae_sym.bench.training import deep_section, sweep_section
from betavae_sym.errors import BadInput, CheckFailed

#: The sections, in the order they run.
SECTIONS = ("analytic", "symbolic", "deep", "sweep", "scale")

#: Accepted ``--dtype`` values of the deep and scale training runs.
DTYPES = ("float32", "float64")

#: The deep sizes that ``--N``, ``--n``, ``--batch-size`` and ``--realizations`` set (flag -> field).
DEEP_SIZES = {"--N": "N", "--n": "n", "--batch-size": "batch_size", "--realizations": "realizations"}


@dataclass(frozen=True)
class BenchConfig:
    """What ``bench`` measures. Defaults: the full suite of issues 7 and 16; :meth:`smoke_config` for CI.

    Attributes
    ----------
    sections : which of :data:`SECTIONS` to run.
    repeats : timed runs per measurement (medians over them); warm-up runs are extra.
    derive_repeats : cold ``derive`` runs (each about 17 s on 2 idle cores); 0 leaves it out.
    analytic_sizes, analytic_k, points : the analytic sweeps (N values, k, betas in 0.05..3).
    analytic_cli : time the same sweep through the command line, beyond a one-beta run, at the first
        size (two fresh processes per repeat; left out of a smoke run).
    lambdify_size : (N, k) of the first lambdified call; (9, 2) is what the k = 2 sweeps compile
        (the analytic problem is reduced exactly to n = min(N, 4k + 1)).
    N, n, batch_size, realizations, dtype, epochs : the deep runs (input width, examples per epoch,
        batch, R of the stacked run, float dtype, epochs per timed run).
    torch, jax : train the anchor (PyTorch, JAX) when it is installed.
    threads : limit BLAS and our trainer's realization threads (threadpoolctl), and the anchors'
        threads, to this many in the deep and scale training runs; None: each library's default, as
        a user gets it. At most the cores available to the process.
    sweep_workers, sweep_tasks, sweep_n, sweep_epochs, sweep_samples : the sweep section: tasks
        (networks) on worker processes, examples per task, the two epoch counts whose difference is
        timed, latent samples of the (cancelling) scoring.
    eval_rows, task_preset : the evaluation record: rows scored, and the preset whose latent samples
        and task size it uses.
    scale_analytic_N, scale_analytic_k : analytic solve time against N (k = 2) and k (N = 128).
    scale_deep_N, scale_batch_sizes, scale_realizations : one epoch against N, batch size and R
        (the others at ``N``, ``batch_size``, R = 1).
    """

    sections: tuple[str, ...] = SECTIONS
    repeats: int = 3
    derive_repeats: int = 1
    derive_jobs: int = 2
    analytic_sizes: tuple[int, ...] = (128, 1600)
    analytic_k: int = 2
    points: int = 200
    analytic_cli: bool = True
    lambdify_size: tuple[int, int] = (9, 2)
    N: int = 1600
    n: int = 1000
    batch_size: int = 100
    realizations: int = 8
    dtype: str = "float32"
    epochs: int = 3
    torch: bool = True
    jax: bool = True
    threads: int | None = None
    sweep_workers: int = 2
    sweep_tasks: int = 4
    sweep_n: int = 1000
    sweep_epochs: tuple[int, int] = (2, 22)
    sweep_samples: int = 10
    eval_rows: int = 50
    task_preset: str = "decide"
    scale_analytic_N: tuple[int, ...] = (128, 400, 1600, 6400)
    scale_analytic_k: tuple[int, ...] = (1, 2, 4, 8)
    scale_analytic_k_N: int = 128
    scale_deep_N: tuple[int, ...] = (100, 400, 1600, 6400)
    scale_batch_sizes: tuple[int, ...] = (25, 50, 100, 200, 400)
    scale_realizations: tuple[int, ...] = (1, 2, 4, 8)
    smoke: bool = False

    @classmethod
    def smoke_config(cls, **overrides) -> "BenchConfig":
        """Tiny sizes, one repetition, single-threaded BLAS; no cold derive, no command-line analytic sweep, no
        anchors (each starts fresh processes): the CI run (seconds)."""
        settings = dict(repeats=1, derive_repeats=0, analytic_sizes=(16, 32), points=10, analytic_cli=False,
                        lambdify_size=(3, 1),
                        N=64, n=200, batch_size=50, realizations=2, epochs=1, torch=False, jax=False,
                        sweep_tasks=2, sweep_n=100, sweep_epochs=(1, 3), sweep_samples=2, eval_rows=10, task_preset="quick",
                        scale_analytic_N=(16, 64), scale_analytic_k=(1, 2), scale_analytic_k_N=16,
                        scale_deep_N=(32, 64), scale_batch_sizes=(25, 50), scale_realizations=(1, 2), threads=1,
                        smoke=True)
        settings.update(overrides)
        return cls(**settings)

    def __post_init__(self) -> None:
        from betavae_sym.experiments.executors import available_cores
        from betavae_sym.experiments.settings import PRESETS

        unknown = [s for s in self.sections if s not in SECTIONS]
        if unknown or not self.sections:
            raise BadInput(f"--only: unknown section '{','.join(unknown)}'; choose from {', '.join(SECTIONS)}")
        if self.dtype not in DTYPES:
            raise BadInput(f"--dtype: '{self.dtype}' is not one of {', '.join(DTYPES)}")
        for name in ("repeats", "derive_jobs", "analytic_k", "points", "N", "n", "batch_size", "realizations",
                     "epochs", "scale_analytic_k_N", "sweep_workers", "sweep_tasks", "sweep_n", "sweep_samples",
                     "eval_rows"):
            _positive(getattr(self, name), name)
        if self.threads is not None:
            _positive(self.threads, "threads")
            cores = available_cores()
            if self.threads > cores:
                raise BadInput(f"{self.threads} threads exceed the {cores} cores this process may use; "
                               f"give at most {cores} (more threads than cores only measure contention)",
                               parameter="threads")
        if not isinstance(self.derive_repeats, int) or self.derive_repeats < 0:
            raise BadInput(f"--derive-repeats: {self.derive_repeats!r} must be a non-negative integer")
        for name in ("analytic_sizes", "lambdify_size", "scale_analytic_N", "scale_analytic_k", "scale_deep_N",
                     "scale_batch_sizes", "scale_realizations", "sweep_epochs"):
            for value in getattr(self, name):
                _positive(value, name)
        if len(self.sweep_epochs) != 2 or self.sweep_epochs[0] >= self.sweep_epochs[1]:
            raise BadInput(f"sweep epochs: {self.sweep_epochs!r} must be two epoch counts, the first smaller")
        if self.task_preset not in PRESETS:
            raise BadInput(f"'{self.task_preset}' is not one of {', '.join(PRESETS)}", parameter="task_preset")
        if self.analytic_k > min(self.analytic_sizes):
            raise BadInput(f"analytic k = {self.analytic_k} exceeds N = {min(self.analytic_sizes)}")
        if self.lambdify_size[1] > self.lambdify_size[0]:
            raise BadInput(f"lambdify size: k = {self.lambdify_size[1]} exceeds N = {self.lambdify_size[0]}")
        if max(self.scale_analytic_k) > self.scale_analytic_k_N:
            raise BadInput(f"scale: k = {max(self.scale_analytic_k)} exceeds N = {self.scale_analytic_k_N}")
        batches = (self.batch_size, *self.scale_batch_sizes) if "scale" in self.sections else (self.batch_size,)
        if max(batches) > self.n:
            raise BadInput(f"--batch-size: {max(batches)} exceeds the {self.n} examples of an epoch; "
                           "use a smaller batch")
        if "sweep" in self.sections and self.batch_size > self.sweep_n:
            raise BadInput(f"--batch-size: {self.batch_size} exceeds the {self.sweep_n} examples of a sweep task")
        if self.N < 2:
            raise BadInput(f"--N: {self.N} must be at least 2 (k = 2 latent units)")
        _check_memory(self)


def deep_memory_bytes(config: BenchConfig) -> int:
    """About the most memory the deep and scale training runs hold at once, in bytes.

    The n x N inputs (and the trainer's contiguous copy), R x P parameters with
    their gradients and Adam's two moments, and the activations of a minibatch
    (about 8 x R x B x N values); N, B and R at their largest over the deep and
    scale runs of ``config``.
    """
    from betavae_sym.deep.model import Architecture

    wide = max(config.N, *config.scale_deep_N) if "scale" in config.sections else config.N
    batch = max(config.batch_size, *config.scale_batch_sizes) if "scale" in config.sections else config.batch_size
    stack = max(config.realizations, *config.scale_realizations) if "scale" in config.sections else config.realizations
    values = 2 * config.n * wide + 4 * stack * Architecture(N=wide).n_params() + 8 * stack * batch * wide
    return values * np.dtype(config.dtype).itemsize


def _machine_memory() -> int | None:
    """Physical memory in bytes (None where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if count < 1024 or unit == "EiB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{count:.0f} B"
        count /= 1024


def _check_memory(config: BenchConfig) -> None:
    """BadInput, before anything is allocated, when the training runs would not fit in this machine's memory."""
    if not {"deep", "scale"} & set(config.sections):
        return
    total = _machine_memory()
    need = deep_memory_bytes(config)
    if total is not None and need > total:
        sizes = ", ".join(f"{flag} {getattr(config, field)}" for flag, field in DEEP_SIZES.items())
        raise BadInput(f"{sizes}: the deep runs would need about {_bytes(need)} of memory, more than this "
                       f"machine's {_bytes(total)}; give smaller sizes")


def _positive(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise BadInput(f"--{name.replace('_', '-')}: {value!r} must be a positive integer")


# ---------------------------------------------------------------- analytic


def analytic_section(config: BenchConfig, progress: Progress) -> list[dict]:
    """A ``points``-point beta sweep (0.05..3), numeric solver vs closed form, at each N of ``analytic_sizes``.

    Numeric: :func:`betavae_sym.linear.sweep.sweep_problem` (multistart solves
    tracked along beta, metrics with aligned TIE, closed-form check, refined
    extrema). Closed form: :func:`betavae_sym.linear.solver.closed_form_parameters`
    and :func:`betavae_sym.linear.metrics.evaluate`. Both build the reduced
    problem (one thin QR) inside the timing; one untimed warm-up compiles the
    lambdified functions. ``max_closed_form_gap``: the largest relative gap
    ``|numeric - closed| / max(1, |closed|)`` over the metrics and betas of all runs.
    """
    from betavae_sym.linear.metrics import evaluate
    from betavae_sym.linear.mixing import paper_mixing
    from betavae_sym.linear.problem import make_problem
    from betavae_sym.linear.solver import closed_form_parameters
    from betavae_sym.linear.sweep import sweep_problem

    betas = np.linspace(0.05, 3.0, config.points)
    records = []
    for N in config.analytic_sizes:
        k = config.analytic_k
        A = paper_mixing(N, k)
        sweep_problem(make_problem(A), betas[:2])  # warm-up: compile
        numeric, closed, gap, converged = [], [], 0.0, True
        for _ in range(config.repeats):
            seconds, result = timed(lambda: sweep_problem(make_problem(A), betas))
            numeric.append(seconds)
            gap = max(gap, max(r["closed_form_gap"] for r in result.records))
            converged = converged and all(r["converged"] for r in result.records)
            progress.step(f"analytic N={N} numeric")

            def closed_form_sweep():
                problem = make_problem(A)
                return evaluate(problem, closed_form_parameters(problem, betas), betas)

            closed.append(timed(closed_form_sweep)[0])
            progress.step(f"analytic N={N} closed form")
        setting = {"N": N, "k": k, "points": config.points, "betas": [0.05, 3.0], "mixing": "paper",
                   "reduced_n": min(N, 4 * k + 1)}
        records.append(measurement("analytic", "sweep_numeric", {**setting, "solver": "numeric"}, numeric,
                                   all_converged=converged, max_closed_form_gap=gap))
        records.append(measurement("analytic", "sweep_closed_form", {**setting, "solver": "closed_form"}, closed,
                                   max_closed_form_gap=gap,
                                   speedup_vs_numeric=median([a / b for a, b in zip(numeric, closed)])))
    records.append(analytic_cli_record(config, progress))
    return records


def analytic_cli_record(config: BenchConfig, progress: Progress) -> dict:
    """What a ``points``-point sweep costs through the command line beyond a one-beta run (issue 16, item 5).

    Each repeat runs, each in a fresh interpreter and one after the other,
    ``python -m betavae_sym analytic --mixing paper --N N --betas 0.05:3:POINTS --json F --no-progress``
    and the same with ``--betas 1``; the value is the difference of their wall
    times (interpreter start, imports and compiling cancel). ``max_closed_form_gap``:
    the largest ``closed_form_gap`` in the sweep's JSON over all repeats.
    """
    N = config.analytic_sizes[0]
    grid = f"0.05:3:{config.points}"
    command = (f"betavae-sym analytic --mixing paper --N {N} --k {config.analytic_k} --betas {grid} --json F "
               "--no-progress")
    setting = {"command": command, "baseline": command.replace(grid, "1"), "N": N, "k": config.analytic_k,
               "points": config.points, "process": "fresh, one per run"}
    if not config.analytic_cli:
        return measurement("analytic", "cli_sweep_beyond_one_beta", setting, [],
                           note="left out of a smoke run: two fresh processes of a few seconds each per repeat; "
                                "bench --only analytic measures it")
    extra, walls, gap = [], {grid: [], "1": []}, 0.0
    with tempfile.TemporaryDirectory(prefix="betavae-bench-analytic-") as tmp:
        target = os.path.join(tmp, "sweep.json")
        for _ in range(config.repeats):
            for betas in (grid, "1"):
                seconds, _ = fresh_process(["-m", "betavae_sym", "analytic", "--mixing", "paper", "--N", str(N),
                                            "--k", str(config.analytic_k), "--betas", betas, "--json", target,
                                            "--no-progress"], "analytic (command line)")
                walls[betas].append(seconds)
                if betas == grid:
                    with open(target) as handle:
                        gap = max(gap, max(r["closed_form_gap"] for r in json.load(handle)["records"]))
                progress.step(f"analytic command line --betas {betas}")
            extra.append(walls[grid][-1] - walls["1"][-1])
    return measurement("analytic", "cli_sweep_beyond_one_beta", setting, extra, wall_seconds_sweep=median(walls[grid]), wall_seconds_one_beta=median(walls["1"]),
                       max_closed_form_gap=gap)


# ---------------------------------------------------------------- symbolic

_FIRST_CALL_SCRIPT = r"""
import json, sys, time
start = time.perf_counter()
import numpy as np
import sympy
import_s = time.perf_counter() - start
from betavae_sym.linear import compiled
N, k = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
A = 0.5 * (np.ones((N, k)) + np.eye(N, k))
arguments = (rng.standard_normal((k, N)), rng.standard_normal((k, 1)), 0.1 * rng.standard_normal((k, N)),
             rng.standard_normal((k, 1)), rng.standard_normal((N, k)), rng.standard_normal((N, 1)),
             rng.standard_normal((k, N)), A.T @ A + np.eye(k), A @ A.T + np.eye(N), 1.0, 1.0)
start = time.perf_counter()
values = compiled.metrics_function(N, k)(*arguments)
first_s = time.perf_counter() - start
start = time.perf_counter()
compiled.metrics_function(N, k)(*arguments)
cached_s = time.perf_counter() - start
finite = all(bool(np.all(np.isfinite(v))) for v in values.values())
print(json.dumps({"import_s": import_s, "first_s": first_s, "cached_s": cached_s, "finite": finite}))
"""


def symbolic_section(config: BenchConfig, progress: Progress) -> list[dict]:
    """Cold ``betavae-sym derive`` and the first lambdified call, each in a fresh interpreter.

    ``derive_cold``: wall time of ``python -m betavae_sym derive --out TMP --jobs J``
    (interpreter start, imports, every derivation and comparison, the files
    written). ``first_lambdified_call``: in a fresh interpreter, after importing
    NumPy and SymPy, :func:`betavae_sym.linear.compiled.metrics_function` at
    ``lambdify_size`` built (symbolic model, lambdify) and called once;
    ``cached_call`` the second call of the cached function.
    """
    records = []
    jobs = config.derive_jobs
    derive_config = {"command": f"betavae-sym derive --out TMP --jobs {jobs} --no-progress", "jobs": jobs}
    if config.derive_repeats == 0:
        records.append(measurement("symbolic", "derive_cold", derive_config, [],
                                   note="left out (smoke run or --derive-repeats 0); a cold derive takes "
                                        "about 17 s on 2 idle cores"))
    else:
        times = []
        for _ in range(config.derive_repeats):
            with tempfile.TemporaryDirectory(prefix="betavae-bench-derive-") as tmp:
                seconds, _ = fresh_process(["-m", "betavae_sym", "derive", "--out", os.path.join(tmp, "d"),
                                             "--jobs", str(jobs), "--no-progress"], "derive")
            times.append(seconds)
            progress.step("symbolic derive (cold)")
        records.append(measurement("symbolic", "derive_cold", derive_config, times))
    N, k = config.lambdify_size
    first, cached, imports, walls = [], [], [], []
    for _ in range(config.repeats):
        wall, out = fresh_process(["-c", _FIRST_CALL_SCRIPT, str(N), str(k)], "first lambdified call")
        result = json.loads(out.strip().splitlines()[-1])
        if not result["finite"]:
            raise CheckFailed(f"first lambdified call: metrics at (N, k) = ({N}, {k}) are not finite")
        first.append(result["first_s"])
        cached.append(result["cached_s"])
        imports.append(result["import_s"])
        walls.append(wall)
        progress.step("symbolic first lambdified call")
    call_config = {"function": "betavae_sym.linear.compiled.metrics_function", "N": N, "k": k}
    records.append(measurement("symbolic", "first_lambdified_call", call_config, first,
                               import_numpy_sympy_s=median(imports), process_wall_s=median(walls)))
    records.append(measurement("symbolic", "cached_call", call_config, cached))
    return records


# ---------------------------------------------------------------- scale


def _slope(xs, ys) -> float | None:
    """Least-squares slope of log y against log x (the exponent of the growth)."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    if len(xs) < 2 or np.any(xs <= 0) or np.any(ys <= 0) or np.ptp(np.log(xs)) == 0:
        return None
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def scale_section(config: BenchConfig, progress: Progress) -> list[dict]:
    """How the cost grows: analytic solve time against N and k; one training epoch against N, batch size and R.

    Analytic: :func:`betavae_sym.linear.solve` and :func:`betavae_sym.linear.closed_form`
    at beta = 1 for the paper's mixing matrix (building the reduced problem
    included; compiling excluded by a warm-up call), against N at k = 2 and
    against k at N = ``scale_analytic_k_N``. Deep: one epoch of ``n`` random
    examples (:func:`betavae_sym.deep.train.train`, the paper's architecture),
    against N (batch ``batch_size``, R = 1), the batch size (width ``N``, R = 1)
    and R (width ``N``, batch ``batch_size``). Each record has ``series`` and
    ``x``; ``slope`` on the first record of a series is the log-log exponent.
    """
    from betavae_sym.deep.model import Architecture
    from betavae_sym.deep.train import train
    from betavae_sym.linear import closed_form, solve
    from betavae_sym.linear.mixing import paper_mixing

    records = []

    def series(name: str, xs, run, config_of, unit="s"):
        rows = []
        for x in xs:
            run(x)  # warm-up: compile (analytic), buffers and BLAS threads (deep)
            values = []
            for _ in range(config.repeats):
                values.append(run(x))
                progress.step(f"scale {name} {x}")
            rows.append(measurement("scale", name, config_of(x), values, unit=unit, series=name, x=x))
        slope = _slope([r["x"] for r in rows], [r["median"] for r in rows])
        for row in rows:
            row["slope"] = slope
        records.extend(rows)

    def analytic(N, k, method):
        A = paper_mixing(N, k)
        return lambda: timed(method, A, 1.0)[0]

    kN = config.scale_analytic_k_N
    for method, label in ((solve, "numeric"), (closed_form, "closed_form")):
        series(f"analytic_{label}_vs_N", config.scale_analytic_N, lambda N, m=method: analytic(N, 2, m)(),
               lambda N, label=label: {"solver": label, "N": N, "k": 2, "beta": 1.0, "mixing": "paper"})
        series(f"analytic_{label}_vs_k", config.scale_analytic_k, lambda k, m=method: analytic(kN, k, m)(),
               lambda k, label=label: {"solver": label, "N": kN, "k": k, "beta": 1.0, "mixing": "paper"})

    dtype = np.dtype(config.dtype)
    rng = np.random.default_rng(0)
    data = {}

    def epoch(N, batch_size, R):
        if N not in data:
            data[N] = rng.standard_normal((config.n, N)).astype(dtype)
        with blas_limit(config.threads):
            result = train(data[N], 1.0, epochs=1, batch_size=batch_size, realizations=R, dtype=dtype,
                           architecture=Architecture(N=N), threads=config.threads)
        return result.seconds

    def deep_config(N, batch_size, R):
        return {"N": N, "batch_size": batch_size, "realizations": R, "n": config.n, "dtype": config.dtype,
                "threads": config.threads,
                "architecture": "paper (256, 200, 200 | 200, 200, 256), k = 2"}

    N, bs = config.N, config.batch_size
    series("epoch_vs_N", config.scale_deep_N, lambda x: epoch(x, bs, 1), lambda x: deep_config(x, bs, 1), "s/epoch")
    series("epoch_vs_batch_size", config.scale_batch_sizes, lambda x: epoch(N, x, 1),
           lambda x: deep_config(N, x, 1), "s/epoch")
    series("epoch_vs_realizations", config.scale_realizations, lambda x: epoch(N, bs, x),
           lambda x: deep_config(N, bs, x), "s/epoch")
    return records


# ---------------------------------------------------------------- the run


def machine_info() -> dict:
    """Cores, CPU model, memory, Python/NumPy/BLAS versions and the anchors' (torch, jax, jaxlib, optax)."""
    model = platform.processor() or None
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = None
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal"):
                    memory = round(int(line.split()[1]) / 2**20, 1)
                    break
    except OSError:
        pass
    blas = []
    try:
        from threadpoolctl import threadpool_info

        blas = [{"library": i.get("internal_api"), "version": i.get("version"), "threads": i.get("num_threads")}
                for i in threadpool_info() if i.get("user_api") == "blas"]
    except ImportError:
        pass
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"nproc": nproc, "cpu_count": os.cpu_count(), "cpu_model": model, "memory_gib": memory,
            "platform": platform.platform(), "python": platform.python_version(), "numpy": np.__version__,
            "blas": blas, **{name: _installed_version(name) for name in ("torch", "jax", "jaxlib", "optax")}}


def _installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, read without importing it (None when absent)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


_RUNNERS = {"analytic": analytic_section, "symbolic": symbolic_section, "deep": deep_section,
            "sweep": sweep_section, "scale": scale_section}


def run_bench(config: BenchConfig, *, progress: bool = False) -> dict:
    """Run the selected sections; the JSON document (``machine``, ``config``, ``measurements``, ``scale_slopes``)."""
    from betavae_sym import __version__

    started = time.time()
    load_start = list(os.getloadavg())
    bar = Progress(progress)
    measurements = []
    try:
        for section in SECTIONS:
            if section in config.sections:
                measurements.extend(_RUNNERS[section](config, bar))
    finally:
        bar.close()
    machine = {**machine_info(), "load_average_start": load_start, "load_average_end": list(os.getloadavg())}
    slopes = {m["series"]: m["slope"] for m in measurements if m["section"] == "scale"}
    notes = sorted({m["note"] for m in measurements if m.get("note")})
    return {"tool": "betavae-sym bench", "version": __version__,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "seconds": time.time() - started, "machine": machine, "config": _jsonable(asdict(config)),
            "sections": [s for s in SECTIONS if s in config.sections], "measurements": measurements,
            "scale_slopes": slopes, "notes": notes}


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


__all__ = ["SECTIONS", "DTYPES", "BenchConfig", "run_bench", "measurement", "machine_info", "deep_memory_bytes",
           "deep_section", "sweep_section"]
