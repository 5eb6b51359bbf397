"""The measurements of ``betavae-sym bench``: one record per measurement, one JSON document per run.

Every record (:func:`measurement`) has ``section``, ``name``, ``config`` (what
was measured, sizes and dtype), ``unit``, ``median``, ``min``, ``max``,
``runs`` (the number of timed runs), ``values`` (every run) and
``load_average_1min`` (when the measurement finished). A measurement that could
not be taken (PyTorch missing, the cold derive left out of a smoke run) has
``runs = 0``, null statistics and a ``note``. Deep-training records also carry
``examples_per_second``, ``torch_examples_per_second`` (or null),
``ratio_vs_torch`` (or null), ``fraction_of_sgemm_peak`` and
``fraction_of_step_gemms`` (``step_gemms``: the step's GEMMs alone); scale records
carry ``series`` and ``x`` (the varied size).

Runs that are compared are interleaved repeat by repeat (numeric / closed form;
GEMM / ours R = 1 / ours R stacked / torch), so that a change of machine load
hits all of them alike; ratios are medians of the per-repeat ratios.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np

from betavae_sym.errors import BadInput, CheckFailed

#: The sections, in the order they run.
SECTIONS = ("analytic", "symbolic", "deep", "scale")

#: Accepted ``--dtype`` values of the deep and scale training runs.
DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class BenchConfig:
    """What ``bench`` measures. Defaults: the full suite of issue 7; :meth:`smoke` for CI.

    Attributes
    ----------
    sections : which of :data:`SECTIONS` to run.
    repeats : timed runs per measurement (medians over them); warm-up runs are extra.
    derive_repeats : cold ``derive`` runs (each about 100 s on 2 cores); 0 leaves it out.
    analytic_sizes, analytic_k, points : the analytic sweeps (N values, k, betas in 0.05..3).
    lambdify_size : (N, k) of the first lambdified call; (9, 2) is what the k = 2 sweeps compile
        (the analytic problem is reduced exactly to n = min(N, 4k + 1)).
    N, n, batch_size, realizations, dtype, epochs : the deep runs (input width, examples per epoch,
        batch, R of the stacked run, float dtype, epochs per timed run).
    torch : compare with PyTorch when it is installed.
    threads : limit BLAS, PyTorch and our trainer's realization threads to this many in the deep and
        scale training runs (threadpoolctl); None: each library's default, as a user gets it.
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
    lambdify_size: tuple[int, int] = (9, 2)
    N: int = 1600
    n: int = 1000
    batch_size: int = 100
    realizations: int = 8
    dtype: str = "float32"
    epochs: int = 1
    torch: bool = True
    threads: int | None = None
    scale_analytic_N: tuple[int, ...] = (128, 400, 1600, 6400)
    scale_analytic_k: tuple[int, ...] = (1, 2, 4, 8)
    scale_analytic_k_N: int = 128
    scale_deep_N: tuple[int, ...] = (100, 400, 1600, 6400)
    scale_batch_sizes: tuple[int, ...] = (25, 50, 100, 200, 400)
    scale_realizations: tuple[int, ...] = (1, 2, 4, 8)
    smoke: bool = False

    @classmethod
    def smoke_config(cls, **overrides) -> "BenchConfig":
        """Tiny sizes, one repetition, no cold derive, single-threaded BLAS: the CI run (seconds)."""
        settings = dict(repeats=1, derive_repeats=0, analytic_sizes=(16, 32), points=10, lambdify_size=(3, 1),
                        N=64, n=200, batch_size=50, realizations=2, scale_analytic_N=(16, 64), scale_analytic_k=(1, 2),
                        scale_analytic_k_N=16, scale_deep_N=(32, 64), scale_batch_sizes=(25, 50),
                        scale_realizations=(1, 2), threads=1, smoke=True)
        settings.update(overrides)
        return cls(**settings)

    def __post_init__(self) -> None:
        unknown = [s for s in self.sections if s not in SECTIONS]
        if unknown or not self.sections:
            raise BadInput(f"--only: unknown section '{','.join(unknown)}'; choose from {', '.join(SECTIONS)}")
        if self.dtype not in DTYPES:
            raise BadInput(f"--dtype: '{self.dtype}' is not one of {', '.join(DTYPES)}")
        for name in ("repeats", "derive_jobs", "analytic_k", "points", "N", "n", "batch_size", "realizations",
                     "epochs", "scale_analytic_k_N"):
            _positive(getattr(self, name), name)
        if self.threads is not None:
            _positive(self.threads, "threads")
        if not isinstance(self.derive_repeats, int) or self.derive_repeats < 0:
            raise BadInput(f"--derive-repeats: {self.derive_repeats!r} must be a non-negative integer")
        for name in ("analytic_sizes", "lambdify_size", "scale_analytic_N", "scale_analytic_k", "scale_deep_N",
                     "scale_batch_sizes", "scale_realizations"):
            for value in getattr(self, name):
                _positive(value, name)
        if self.analytic_k > min(self.analytic_sizes):
            raise BadInput(f"analytic k = {self.analytic_k} exceeds N = {min(self.analytic_sizes)}")
        if self.lambdify_size[1] > self.lambdify_size[0]:
            raise BadInput(f"lambdify size: k = {self.lambdify_size[1]} exceeds N = {self.lambdify_size[0]}")
        if max(self.scale_analytic_k) > self.scale_analytic_k_N:
            raise BadInput(f"scale: k = {max(self.scale_analytic_k)} exceeds N = {self.scale_analytic_k_N}")
        if self.batch_size > self.n or max(self.scale_batch_sizes) > self.n:
            raise BadInput(f"--batch-size: {max(self.batch_size, *self.scale_batch_sizes)} exceeds the "
                           f"{self.n} examples of an epoch; use a smaller batch")
        if self.N < 2:
            raise BadInput(f"--N: {self.N} must be at least 2 (k = 2 latent units)")


def _positive(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise BadInput(f"--{name.replace('_', '-')}: {value!r} must be a positive integer")


# ---------------------------------------------------------------- records


def measurement(section: str, name: str, config: dict, values, unit: str = "s", note: str | None = None,
                **extra) -> dict:
    """One record: ``config``, ``median``/``min``/``max`` of ``values``, ``runs``, ``unit`` and ``extra`` fields."""
    values = [float(v) for v in values]
    record = {"section": section, "name": name, "config": config, "unit": unit,
              "median": statistics.median(values) if values else None,
              "min": min(values) if values else None, "max": max(values) if values else None,
              "runs": len(values), "values": values, "load_average_1min": os.getloadavg()[0]}
    if note is not None:
        record["note"] = note
    record.update(extra)
    return record


def _median(values) -> float | None:
    return statistics.median(values) if values else None


def _timed(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


class _Progress:
    """One tqdm bar on stderr, one tick per timed run."""

    def __init__(self, enabled: bool):
        from tqdm import tqdm

        self.bar = tqdm(desc="bench", unit="run", file=sys.stderr, disable=not enabled, dynamic_ncols=True)

    def step(self, what: str) -> None:
        self.bar.set_description(f"bench {what}")
        self.bar.update()

    def close(self) -> None:
        self.bar.close()


# ---------------------------------------------------------------- analytic


def analytic_section(config: BenchConfig, progress: _Progress) -> list[dict]:
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
            seconds, result = _timed(lambda: sweep_problem(make_problem(A), betas))
            numeric.append(seconds)
            gap = max(gap, max(r["closed_form_gap"] for r in result.records))
            converged = converged and all(r["converged"] for r in result.records)
            progress.step(f"analytic N={N} numeric")

            def closed_form_sweep():
                problem = make_problem(A)
                return evaluate(problem, closed_form_parameters(problem, betas), betas)

            closed.append(_timed(closed_form_sweep)[0])
            progress.step(f"analytic N={N} closed form")
        setting = {"N": N, "k": k, "points": config.points, "betas": [0.05, 3.0], "mixing": "paper",
                   "reduced_n": min(N, 4 * k + 1)}
        records.append(measurement("analytic", "sweep_numeric", {**setting, "solver": "numeric"}, numeric,
                                   all_converged=converged, max_closed_form_gap=gap))
        records.append(measurement("analytic", "sweep_closed_form", {**setting, "solver": "closed_form"}, closed,
                                   max_closed_form_gap=gap,
                                   speedup_vs_numeric=_median([a / b for a, b in zip(numeric, closed)])))
    return records


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


def _fresh_process(arguments: list[str], what: str) -> tuple[float, str]:
    """Run ``python arguments`` in a new interpreter; (wall seconds, stdout); CheckFailed if it fails."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *arguments], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise CheckFailed(f"{what} failed in a fresh process (exit {done.returncode}): {last}")
    return seconds, done.stdout


def symbolic_section(config: BenchConfig, progress: _Progress) -> list[dict]:
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
                                        "about 100 s on 2 cores"))
    else:
        times = []
        for _ in range(config.derive_repeats):
            with tempfile.TemporaryDirectory(prefix="betavae-bench-derive-") as tmp:
                seconds, _ = _fresh_process(["-m", "betavae_sym", "derive", "--out", os.path.join(tmp, "d"),
                                             "--jobs", str(jobs), "--no-progress"], "derive")
            times.append(seconds)
            progress.step("symbolic derive (cold)")
        records.append(measurement("symbolic", "derive_cold", derive_config, times))
    N, k = config.lambdify_size
    first, cached, imports, walls = [], [], [], []
    for _ in range(config.repeats):
        wall, out = _fresh_process(["-c", _FIRST_CALL_SCRIPT, str(N), str(k)], "first lambdified call")
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
                               import_numpy_sympy_s=_median(imports), process_wall_s=_median(walls)))
    records.append(measurement("symbolic", "cached_call", call_config, cached))
    return records


# ---------------------------------------------------------------- deep


@contextmanager
def _thread_limit(threads: int | None):
    """Limit BLAS (threadpoolctl) and PyTorch to ``threads`` threads inside the block; no limit for None."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    try:
        import torch
    except ImportError:
        torch = None
    before = torch.get_num_threads() if torch is not None else None
    try:
        if torch is not None:
            torch.set_num_threads(threads)
        with threadpool_limits(threads):
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(before)


def _blas_threads() -> int | None:
    from threadpoolctl import threadpool_info

    counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
    return max(counts) if counts else None


def gemm_gflops(dtype, n: int = 1024, calls: int = 10) -> float:
    """Best-of-``calls`` GEMM rate in GFLOP/s in ``dtype`` (:func:`betavae_sym.deep.bench.sgemm_gflops`)."""
    from betavae_sym.deep.bench import sgemm_gflops

    return sgemm_gflops(n, calls, dtype)


def _torch_status(config: BenchConfig) -> tuple[bool, str | None, dict]:
    """(use torch, note when not, its versions and threads)."""
    if not config.torch:
        return False, "PyTorch comparison switched off (--no-torch)", {}
    try:
        import torch
    except ImportError:
        return False, "PyTorch is not installed (it is not a dependency); pip install torch to compare", {}
    if config.dtype != "float32":
        return False, f"PyTorch comparison runs in float32 only; this run is {config.dtype}", {}
    return True, None, {"torch_version": torch.__version__, "torch_threads": torch.get_num_threads()}


def deep_section(config: BenchConfig, progress: _Progress) -> list[dict]:
    """Training throughput (examples per second), ours R = 1 and R stacked, vs PyTorch and the GEMM peak.

    Each repeat runs, in this order: the GEMM rate; our trainer
    (:func:`betavae_sym.deep.train.train`, the paper's architecture, Adam,
    ``epochs`` passes over ``n`` random examples of width ``N``) with R = 1, then
    with R stacked realizations (examples counted over all realizations); then
    PyTorch on the same network (:func:`betavae_sym.deep.bench.torch_examples_per_second`).
    ``ratio_vs_torch``: median over repeats of ours / torch (torch trains one
    network). ``fraction_of_sgemm_peak``: median over repeats of the Dense
    layers' GFLOP/s (:meth:`Architecture.dense_flops_per_example`) over that
    repeat's GEMM rate (SGEMM for float32, DGEMM for float64).
    ``step_gemms``: the GEMMs of one training step alone on the layers' shapes
    (:func:`betavae_sym.deep.bench.step_gemm_seconds`), whose examples per
    second bound the trainer's; ``fraction_of_step_gemms``: ours over that bound
    (for R stacked it can exceed 1: its threads each run single-threaded GEMMs).
    """
    from betavae_sym.deep.model import Architecture

    dtype = np.dtype(config.dtype)
    architecture = Architecture(N=config.N)
    X = np.random.default_rng(0).standard_normal((config.n, config.N)).astype(dtype)
    flops = architecture.dense_flops_per_example()
    use_torch, torch_note, torch_info = _torch_status(config)
    stacks = [1] if config.realizations == 1 else [1, config.realizations]
    with _thread_limit(config.threads):
        return _deep_runs(config, progress, dtype, architecture, X, flops, use_torch, torch_note, torch_info, stacks)


def _deep_runs(config, progress, dtype, architecture, X, flops, use_torch, torch_note, torch_info, stacks):
    from betavae_sym.deep.bench import step_gemm_seconds, torch_examples_per_second
    from betavae_sym.deep.train import train

    if use_torch:
        import torch

        torch_info = {**torch_info, "torch_threads": torch.get_num_threads()}
    # warm-up: BLAS threads, buffers, torch kernels
    warm = X[: min(config.n, 2 * config.batch_size)]
    for R in stacks:
        train(warm, 1.0, epochs=1, batch_size=config.batch_size, realizations=R, dtype=dtype, architecture=architecture,
              threads=config.threads)
    if use_torch:
        torch_examples_per_second(warm, architecture, 1, config.batch_size)
    gemm, step_gemms, seconds, throughput, torch_eps = [], [], {R: [] for R in stacks}, {R: [] for R in stacks}, []
    for repeat in range(config.repeats):
        gemm.append(gemm_gflops(dtype))
        step_gemms.append(step_gemm_seconds(architecture, config.batch_size, dtype))
        progress.step("deep GEMM")
        for R in stacks:
            result = train(X, 1.0, epochs=config.epochs, batch_size=config.batch_size, realizations=R, seed=repeat,
                           dtype=dtype, architecture=architecture, threads=config.threads)
            seconds[R].append(result.seconds / config.epochs)
            throughput[R].append(result.examples_per_second)
            progress.step(f"deep ours R={R}")
        if use_torch:
            torch_eps.append(torch_examples_per_second(X, architecture, config.epochs, config.batch_size, seed=repeat))
            progress.step("deep torch")
    base = {"N": config.N, "k": architecture.k, "n": config.n, "batch_size": config.batch_size,
            "dtype": config.dtype, "epochs_per_run": config.epochs, "architecture": architecture.to_dict(),
            "n_params_per_realization": architecture.n_params(), "dense_flops_per_example": flops, "optimizer": "Adam",
            "threads": config.threads, "blas_threads": _blas_threads()}
    gemm_name = "sgemm" if dtype == np.float32 else "dgemm"
    records = [measurement("deep", gemm_name, {"n": 1024, "dtype": config.dtype, "calls": 10}, gemm, unit="GFLOP/s"),
               measurement("deep", "step_gemms", {**base, "realizations": 1, "calls": 20}, step_gemms, unit="s/step",
                           examples_per_second=config.batch_size / _median(step_gemms))]
    torch_median = _median(torch_eps)
    for R in stacks:
        ratios = [a / b for a, b in zip(throughput[R], torch_eps)]
        fractions = [e * flops / 1e9 / g for e, g in zip(throughput[R], gemm)]
        of_step_gemms = [e * t / config.batch_size for e, t in zip(throughput[R], step_gemms)]
        records.append(measurement(
            "deep", "train_R1" if R == 1 else "train_stacked", {**base, "realizations": R}, seconds[R],
            unit="s/epoch", note=torch_note, examples_per_second=_median(throughput[R]),
            examples_per_second_min=min(throughput[R]), examples_per_second_max=max(throughput[R]),
            torch_examples_per_second=torch_median, ratio_vs_torch=_median(ratios),
            fraction_of_sgemm_peak=_median(fractions), fraction_of_step_gemms=_median(of_step_gemms)))
    torch_seconds = [config.n / e for e in torch_eps]
    records.append(measurement("deep", "train_torch", {**base, "realizations": 1, **torch_info}, torch_seconds,
                               unit="s/epoch", note=torch_note, examples_per_second=torch_median))
    return records


# ---------------------------------------------------------------- scale


def _slope(xs, ys) -> float | None:
    """Least-squares slope of log y against log x (the exponent of the growth)."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    if len(xs) < 2 or np.any(xs <= 0) or np.any(ys <= 0) or np.ptp(np.log(xs)) == 0:
        return None
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def scale_section(config: BenchConfig, progress: _Progress) -> list[dict]:
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
        return lambda: _timed(method, A, 1.0)[0]

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
        with _thread_limit(config.threads):
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
    """Cores, CPU model, memory, load average, Python/NumPy/BLAS/torch versions."""
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
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"nproc": nproc, "cpu_count": os.cpu_count(), "cpu_model": model, "memory_gib": memory,
            "platform": platform.platform(), "python": platform.python_version(), "numpy": np.__version__,
            "blas": blas, "torch": torch_version}


_RUNNERS = {"analytic": analytic_section, "symbolic": symbolic_section, "deep": deep_section, "scale": scale_section}


def run_bench(config: BenchConfig, *, progress: bool = False) -> dict:
    """Run the selected sections; the JSON document (``machine``, ``config``, ``measurements``, ``scale_slopes``)."""
    from betavae_sym import __version__

    started = time.time()
    load_start = list(os.getloadavg())
    bar = _Progress(progress)
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


__all__ = ["SECTIONS", "DTYPES", "BenchConfig", "run_bench", "measurement", "machine_info", "gemm_gflops"]
