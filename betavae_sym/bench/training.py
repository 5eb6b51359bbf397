"""The training sections of ``betavae-sym bench``: one network (``deep``) and sweep work (``sweep``), against anchors.

The anchors are PyTorch and JAX training the same network the same way
(:mod:`betavae_sym.bench.peer`), each in its own fresh Python process, as a
user runs them; neither is a dependency (left out, with a note, when missing).
Every comparison is interleaved repeat by repeat (ours, then each anchor), and
a ratio is the median of the per-repeat ratios. Warm-up is never timed: ours
trains once on a small slice first; an anchor process trains one network for
one epoch (PyTorch's kernels, JAX's compilation) before its timed part.

Floating-point work per example: the Dense layers' forward and backward GEMMs,
:meth:`Architecture.dense_flops_per_example` (about 6 x parameters);
``fraction_of_sgemm_peak`` is that work per second over the SGEMM rate
(``np.matmul``, n = 1024, best of 10) at the thread count of the run, measured
in the same repeat.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from betavae_sym.bench.anchors import FRAMEWORKS, installed, missing_note, peer_spec, run_peer, run_side_by_side
from betavae_sym.bench.records import (blas_limit, blas_threads, cpu_seconds, gemm_gflops, measurement, median, ratios,
                                       timed)
from betavae_sym.errors import CheckFailed

#: The dataset of the sweep section (N = 1600, the paper's network).
SWEEP_DATASET = "mixed-digits"
#: Held-out rows of the sweep section's tasks: few, so that scoring stays a small part of a task's wall time (its
#: cost depends on how far the network has trained, so it does not cancel between the two epoch counts).
SWEEP_HELDOUT = 20
#: The two ways an anchor uses the sweep's cores: one-thread processes side by side, or one process with threads.
WAYS = ("processes", "threads")


def step_gemm_seconds(architecture, batch_size: int = 100, dtype=np.float32, calls: int = 20) -> float:
    """Best-of-``calls`` time of the GEMMs alone of one training step (one realization), in seconds.

    The trainer's matrix products on its own shapes, one after the other with
    nothing in between: per Dense layer ``y = x W`` (B, n_in) @ (n_in, n_out),
    ``dW = x^T dy`` and, except for the first layer, ``dx = dy W^T``; arrays
    (1, B, n) as the trainer stacks them. ``batch_size`` / this is an upper
    bound of the trainer's examples per second at the same BLAS threading.
    """
    rng = np.random.default_rng(0)
    products = []
    for name, n_in, n_out in architecture.layers():
        x = rng.standard_normal((1, batch_size, n_in)).astype(dtype)
        W = rng.standard_normal((1, n_in, n_out)).astype(dtype)
        dy = rng.standard_normal((1, batch_size, n_out)).astype(dtype)
        products += [(x, W, np.empty((1, batch_size, n_out), dtype)),
                     (x.transpose(0, 2, 1), dy, np.empty((1, n_in, n_out), dtype))]
        if name != "enc1":
            products.append((dy, W.transpose(0, 2, 1), np.empty((1, batch_size, n_in), dtype)))
    best = np.inf
    for _ in range(calls + 1):  # the first call warms up
        start = time.perf_counter()
        for a, b, out in products:
            np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return best


# ---------------------------------------------------------------- anchors: which, and how they compare


def anchor_plan(config) -> tuple[list[str], dict[str, str]]:
    """The anchors this run trains, and for each one left out the note that says why."""
    run, left_out = [], {}
    for framework, name in FRAMEWORKS.items():
        if not getattr(config, framework):
            flag = f"--no-{framework}"
            left_out[framework] = f"{name} left out ({flag}, or a --smoke run without --anchors)"
        elif not installed(framework):
            left_out[framework] = missing_note(framework)
        elif config.dtype != "float32":
            left_out[framework] = f"{name} is compared in float32 only; this run is {config.dtype}"
        else:
            run.append(framework)
    return run, left_out


def anchor_threads(framework: str, threads: int | None) -> int | None:
    """The thread count to ask an anchor for: JAX takes only 1 or its default (XLA's own pool, all cores)."""
    return threads if framework == "torch" or threads == 1 else None


def compare(ours: list, anchors: dict[str, list]) -> dict:
    """``{fw}_examples_per_second``, ``ratio_vs_{fw}`` per anchor, and the best anchor's.

    ``ours`` and each anchor's list hold one throughput per repeat (None: not
    measured that repeat); ratios are medians of the per-repeat ratios; the best
    anchor is the one with the highest median throughput.
    """
    fields, best = {}, None
    for framework in FRAMEWORKS:
        pairs = [(a, b) for a, b in zip(ours, anchors.get(framework, [])) if a is not None and b is not None]
        fields[f"{framework}_examples_per_second"] = median([b for b in anchors.get(framework, []) if b is not None])
        fields[f"ratio_vs_{framework}"] = ratios([a for a, _ in pairs], [b for _, b in pairs])
        value = fields[f"{framework}_examples_per_second"]
        if value is not None and (best is None or value > fields[f"{best}_examples_per_second"]):
            best = framework
    fields["best_peer"] = best
    fields["best_peer_examples_per_second"] = fields[f"{best}_examples_per_second"] if best else None
    fields["ratio_vs_best_peer"] = fields[f"ratio_vs_{best}"] if best else None
    return fields


def _peak_fraction(throughput: list, gflops: list, flops: int) -> float | None:
    """Median over repeats of (dense GFLOP/s) / (SGEMM GFLOP/s of the same repeat)."""
    return median([e * flops / 1e9 / g for e, g in zip(throughput, gflops) if e is not None])


def _notes(left_out: dict[str, str]) -> str | None:
    return "; ".join(left_out.values()) or None


def _anchor_run(failures: list, function, *args) -> dict | None:
    """``function(*args)`` (an anchor's process or processes), or None when it failed; the failure kept.

    An anchor that fails is the anchor's problem, not a reason to lose the
    run: that repeat has no figure for it, and the record's note says why.
    """
    try:
        return function(*args)
    except CheckFailed as exc:
        failures.append(str(exc))
        return None


def _throughputs(runs: list) -> list:
    """Examples per second of each repeat's anchor run (None where it failed)."""
    return [r["examples"] / r["seconds"] if r else None for r in runs]


def _failure_note(note: str | None, failures: list, repeats: int) -> str | None:
    """The record's note with the anchor's failures, if any, added."""
    if not failures:
        return note
    failed = f"failed in {len(failures)} of {repeats} repeat(s), last: {failures[-1]}"
    return f"{note}; {failed}" if note else failed


# ---------------------------------------------------------------- deep: one network, one process


def thread_variants(config) -> list[tuple[str, int | None]]:
    """(name suffix, threads): the run's threads (None: the libraries' defaults) and, unless that is 1, one thread."""
    return [("", config.threads)] + ([("_1thread", 1)] if config.threads != 1 else [])


def deep_section(config, progress) -> list[dict]:
    """Training throughput of one network (and R stacked) in one process, ours against PyTorch's and JAX's.

    Each repeat runs, in this order, at the run's threads and then at one
    thread: the SGEMM rate and the step's GEMMs alone (:func:`step_gemm_seconds`);
    then our trainer (:func:`betavae_sym.deep.train.train`, the paper's
    architecture, Adam, ``epochs`` passes over ``n`` random examples of width
    ``N``, float32) with R = 1 and R stacked realizations (run's threads only;
    examples counted over all realizations) and R = 1 at one thread; then each
    anchor, at the run's threads and at one thread, each in a fresh process on
    the same data (n x N standard normals from ``default_rng(0)``).
    Records: ``sgemm``/``sgemm_1thread``, ``step_gemms``/``step_gemms_1thread``,
    ours ``train_R1``, ``train_stacked``, ``train_R1_1thread`` (with the anchors
    at the same threads: :func:`compare`), and ``train_torch``,
    ``train_torch_1thread``, ``train_jax``, ``train_jax_1thread``.
    """
    from betavae_sym.deep.model import Architecture
    from betavae_sym.deep.train import train

    dtype = np.dtype(config.dtype)
    architecture = Architecture(N=config.N)
    X = np.random.default_rng(0).standard_normal((config.n, config.N)).astype(dtype)
    flops = architecture.dense_flops_per_example()
    anchors, left_out = anchor_plan(config)
    variants = thread_variants(config)
    # ours: (record name, thread suffix, threads, R)
    ours = [("train_R1", "", config.threads, 1)]
    if config.realizations > 1:
        ours.append(("train_stacked", "", config.threads, config.realizations))
    ours += [(f"train_R1{suffix}", suffix, threads, 1) for suffix, threads in variants[1:]]
    warm = X[: min(config.n, 2 * config.batch_size)]
    for _, _, threads, R in ours:  # warm-up: BLAS threads, buffers
        with blas_limit(threads):
            train(warm, 1.0, epochs=1, batch_size=config.batch_size, realizations=R, dtype=dtype,
                  architecture=architecture, threads=threads)
    gemm = {suffix: [] for suffix, _ in variants}
    step = {suffix: [] for suffix, _ in variants}
    seconds = {name: [] for name, *_ in ours}
    throughput = {name: [] for name, *_ in ours}
    busy = {name: [] for name, *_ in ours}
    peer = {(framework, suffix): [] for framework in anchors for suffix, _ in variants}
    failures = {key: [] for key in peer}
    for repeat in range(config.repeats):
        for suffix, threads in variants:
            with blas_limit(threads):
                gemm[suffix].append(gemm_gflops(dtype))
                step[suffix].append(step_gemm_seconds(architecture, config.batch_size, dtype))
            progress.step(f"deep GEMM{suffix}")
        for name, _, threads, R in ours:
            before = cpu_seconds()
            with blas_limit(threads):
                result = train(X, 1.0, epochs=config.epochs, batch_size=config.batch_size, realizations=R,
                               seed=repeat, dtype=dtype, architecture=architecture, threads=threads)
            busy[name].append((cpu_seconds() - before) / result.seconds)
            seconds[name].append(result.seconds / config.epochs)
            throughput[name].append(result.examples_per_second)
            progress.step(f"deep ours {name}")
        for framework in anchors:
            for suffix, threads in variants:
                peer[framework, suffix].append(_anchor_run(failures[framework, suffix], run_peer, peer_spec(
                    framework, architecture, n=config.n, batch_size=config.batch_size, epochs=config.epochs,
                    threads=anchor_threads(framework, threads), seed=repeat)))
                progress.step(f"deep {framework}{suffix}")
    base = {"N": config.N, "k": architecture.k, "n": config.n, "batch_size": config.batch_size,
            "dtype": config.dtype, "epochs_per_run": config.epochs, "architecture": architecture.to_dict(),
            "n_params_per_realization": architecture.n_params(), "dense_flops_per_example": flops, "optimizer": "Adam"}
    records = []
    for suffix, threads in variants:
        with blas_limit(threads):
            used = blas_threads()
        records.append(measurement("deep", f"sgemm{suffix}" if dtype == np.float32 else f"dgemm{suffix}",
                                   {"n": 1024, "dtype": config.dtype, "calls": 10, "threads": threads,
                                    "blas_threads": used}, gemm[suffix], unit="GFLOP/s"))
        records.append(measurement("deep", f"step_gemms{suffix}", {**base, "realizations": 1, "calls": 20,
                                                                    "threads": threads, "blas_threads": used},
                                   step[suffix], unit="s/step",
                                   examples_per_second=config.batch_size / median(step[suffix])))
    anchor_eps = {key: _throughputs(runs) for key, runs in peer.items()}
    for name, suffix, threads, R in ours:
        mine = throughput[name]
        records.append(measurement(
            "deep", name, {**base, "realizations": R, "threads": threads}, seconds[name], unit="s/epoch",
            note=_notes(left_out), examples_per_second=median(mine), examples_per_second_min=min(mine),
            examples_per_second_max=max(mine),
            **compare(mine, {fw: anchor_eps.get((fw, suffix), []) for fw in FRAMEWORKS}),
            fraction_of_sgemm_peak=_peak_fraction(mine, gemm[suffix], flops),
            fraction_of_step_gemms=median([e * t / config.batch_size for e, t in zip(mine, step[suffix])]),
            cpu_seconds_per_second=median(busy[name])))
    for framework in FRAMEWORKS:
        for suffix, threads in variants:
            records.append(_anchor_record(
                "deep", f"train_{framework}{suffix}", framework, peer.get((framework, suffix), []),
                {**base, "realizations": 1, "threads": anchor_threads(framework, threads)}, gemm[suffix], flops,
                _failure_note(left_out.get(framework), failures.get((framework, suffix), []), config.repeats)))
    return records


def _anchor_record(section, name, framework, runs, config, gflops, flops, note) -> dict:
    """The record of one anchor configuration: seconds per epoch, examples per second, what ran.

    ``runs``: one result per repeat, None where the anchor failed (``gflops`` is per repeat too).
    """
    eps_by_repeat = _throughputs(runs)
    runs = [r for r in runs if r]
    eps = [e for e in eps_by_repeat if e is not None]
    first = runs[0] if runs else {}
    config = {**config, "framework": framework, "process": "fresh, its own", "version": first.get("version"),
              "optimizer": first.get("optimizer"), "warmup": "one network, one epoch, not timed"}
    per_epoch = [r["seconds"] / (r["networks"] * r["epochs"]) for r in runs]
    return measurement(section, name, config, per_epoch, unit="s/epoch", note=note, examples_per_second=median(eps),
                       examples_per_second_min=min(eps) if eps else None,
                       examples_per_second_max=max(eps) if eps else None,
                       fraction_of_sgemm_peak=_peak_fraction(eps_by_repeat, gflops, flops) if eps else None,
                       cpu_seconds_per_second=median([r["cpu_seconds"] / r["seconds"] for r in runs]))


# ---------------------------------------------------------------- sweep: many networks on the cores


def sweep_settings(config, epochs: int, n: int | None = None):
    """The :class:`~betavae_sym.experiments.settings.SweepSettings` of the sweep section's tasks (mixed digits,
    the paper's network, beta = 1), as ``simulate`` makes them."""
    from betavae_sym.experiments.settings import SweepSettings

    return SweepSettings.preset(None, dataset=SWEEP_DATASET, betas=[1.0], realizations=config.sweep_tasks,
                                n=n or config.sweep_n, epochs=epochs, batch_size=config.batch_size,
                                samples=config.sweep_samples, iwae_samples=config.sweep_samples,
                                heldout=SWEEP_HELDOUT)


def sweep_section(config, progress) -> list[dict]:
    """Sweep work, as users spend their hours: ``sweep_tasks`` networks on ``sweep_workers`` cores.

    Ours: :func:`betavae_sym.experiments.sweep.simulate` (the local executor,
    ``sweep_workers`` worker processes, each task one single-threaded network,
    a new store each time), once with ``sweep_epochs[0]`` and once with
    ``sweep_epochs[1]`` epochs per task; throughput = tasks x n x ``sweep_epochs[1]``
    over the tasks' own training seconds (what each worker's trainer times, as
    the anchors time their training loops), summed over the tasks and divided
    by the workers (``training_only_examples_per_second``, the same figure).
    Beside it, ``differenced_examples_per_second``: tasks x n x (difference of
    epochs) / (difference of wall times), with which starting the workers and
    building the store cancel but scoring does not quite (its cost falls as a
    network trains; hence :data:`SWEEP_HELDOUT` rows). Each anchor trains the same number of
    networks for the difference of epochs on the same rows (the dataset's
    standardized X, float32) in its two best ways to use the same cores:
    ``{fw}_processes``, ``sweep_workers`` one-thread processes side by side
    (timed together from the first start to the last end), and
    ``{fw}_threads``, one process with ``sweep_workers`` threads (JAX: its
    default); the better one (higher median) is the anchor's figure.
    ``evaluation``: :func:`betavae_sym.experiments.metrics.evaluate` of a
    trained network (one BLAS thread, as a task runs it) with the latent samples
    of the ``task_preset`` preset, seconds per 1,000 examples scored, against the
    training time of one task of that preset at our per-worker sweep throughput.
    """
    from betavae_sym.deep.train import train
    from betavae_sym.experiments.store import read_rows
    from betavae_sym.experiments.sweep import simulate
    from betavae_sym.experiments.settings import PRESETS
    from betavae_sym.experiments.tasks import architecture_of, sweep_data

    workers, tasks, n = config.sweep_workers, config.sweep_tasks, config.sweep_n
    short, long = config.sweep_epochs
    dataset = sweep_data(sweep_settings(config, short)).split.train
    architecture = architecture_of(sweep_settings(config, short).training, dataset.N)
    flops = architecture.dense_flops_per_example()
    anchors, left_out = anchor_plan(config)
    preset = PRESETS[config.task_preset]
    eval_dataset = sweep_data(sweep_settings(config, 1, n=config.eval_rows)).split.train
    with blas_limit(1):
        scored = train(eval_dataset, 1.0, epochs=1, realizations=[0], batch_size=min(config.batch_size,
                       config.eval_rows), architecture=architecture, threads=1).model
    gemm, ours, training_only, busy, evaluation = [], [], [], [], []
    walls, cpu = {short: [], long: []}, {short: [], long: []}
    peer = {(framework, how): [] for framework in anchors for how in WAYS}
    failures = {key: [] for key in peer}
    shares = [tasks // workers + (i < tasks % workers) for i in range(workers)]
    with tempfile.TemporaryDirectory(prefix="betavae-bench-sweep-") as tmp:
        data = os.path.join(tmp, "X.npy")
        np.save(data, np.asarray(dataset.X, dtype=np.float32))
        for repeat in range(config.repeats):
            with blas_limit(workers):
                gemm.append(gemm_gflops(np.float32))
            stores = {epochs: Path(tmp) / f"repeat{repeat}-epochs{epochs}.db" for epochs in (short, long)}
            for epochs, store in stores.items():
                before = cpu_seconds(children=True)
                walls[epochs].append(timed(simulate, sweep_settings(config, epochs), store,
                                           workers=workers, progress=False)[0])
                cpu[epochs].append(cpu_seconds(children=True) - before)  # the workers, ended by simulate
                progress.step(f"sweep ours {epochs} epochs")
            extra = walls[long][-1] - walls[short][-1]
            ours.append(tasks * n * (long - short) / extra if extra > 0 else None)
            busy.append((cpu[long][-1] - cpu[short][-1]) / extra if extra > 0 else None)
            train_seconds = sum(row["train_seconds"] for row in read_rows(stores[long])[1])
            training_only.append(tasks * n * long / (train_seconds / workers))
            for framework in anchors:
                specs = [peer_spec(framework, architecture, n=n, batch_size=config.batch_size, epochs=long - short,
                                   networks=share, threads=1, data=data, seed=100 * repeat + i)
                         for i, share in enumerate(shares) if share]
                peer[framework, "processes"].append(_anchor_run(failures[framework, "processes"], run_side_by_side,
                                                                specs))
                progress.step(f"sweep {framework} processes")
                peer[framework, "threads"].append(_anchor_run(failures[framework, "threads"], run_peer, peer_spec(
                    framework, architecture, n=n, batch_size=config.batch_size, epochs=long - short, networks=tasks,
                    threads=anchor_threads(framework, workers), data=data, seed=100 * repeat)))
                progress.step(f"sweep {framework} threads")
            with blas_limit(1):
                seconds = timed(_evaluate, scored, eval_dataset, preset, repeat)[0]
            evaluation.append(1000 * seconds / config.eval_rows)
            progress.step("sweep evaluation")
    setting = {"dataset": SWEEP_DATASET, "N": dataset.N, "n": n, "tasks": tasks, "workers": workers,
               "batch_size": config.batch_size, "epochs": list(config.sweep_epochs), "dtype": "float32",
               "architecture": architecture.to_dict(), "dense_flops_per_example": flops, "optimizer": "Adam"}
    records = [measurement("sweep", "sgemm", {"n": 1024, "dtype": "float32", "calls": 10, "threads": workers},
                           gemm, unit="GFLOP/s")]
    notes = {key: _failure_note(left_out.get(key[0]), failures.get(key, []), config.repeats)
             for key in [(fw, how) for fw in FRAMEWORKS for how in WAYS]}
    anchor_records, best, best_way = _sweep_anchor_records(peer, anchors, notes, setting, gemm, flops, workers,
                                                           long - short)
    records += anchor_records
    differenced = [e for e in ours if e is not None]
    skipped = len(ours) - len(differenced)
    note = "; ".join(filter(None, [_notes(left_out), f"{skipped} repeat(s) without a differenced figure: the longer "
                                   "run was not slower" if skipped else None])) or None
    records.append(measurement(
        "sweep", "simulate", {**setting, "function": "betavae_sym.experiments.sweep.simulate", "executor": "local",
                              "timing": "the tasks' own training seconds (as the anchors time their loops); "
                                        "wall clock with epochs differenced beside it"},
        training_only, unit="examples/s", note=note, examples_per_second=median(training_only),
        training_only_examples_per_second=median(training_only),
        differenced_examples_per_second=median(differenced) if differenced else None,
        wall_seconds={str(e): median(w) for e, w in walls.items()},
        cpu_seconds_per_second=median([b for b in busy if b is not None]), **compare(training_only, best),
        best_way=best_way, fraction_of_sgemm_peak=_peak_fraction(training_only, gemm, flops)))
    records.append(_evaluation_record(evaluation, config, median(training_only) / workers))
    return records


def _sweep_anchor_records(peer, anchors, notes, setting, gemm, flops, workers, epochs):
    """The records of each anchor's two ways (``{fw}_processes``, ``{fw}_threads``); each anchor's best way.

    ``peer[fw, how]``: one result per repeat (None where it failed); ``notes[fw, how]``: the record's note.
    Returns ``(records, best, best_way)``: ``best[fw]`` the per-repeat
    throughputs of the way with the higher median, ``best_way[fw]`` its name.
    """
    records, best, best_way = [], {}, {}
    for framework in FRAMEWORKS:
        by_way = {how: _throughputs(peer.get((framework, how), [])) for how in WAYS}
        busy_way = {how: [sum(p["cpu_seconds"] for p in r.get("processes", [r])) / r["seconds"]
                          for r in peer.get((framework, how), []) if r] for how in WAYS}
        for how in WAYS:
            runs = [r for r in peer.get((framework, how), []) if r]
            measured = [e for e in by_way[how] if e is not None]
            layout = ({"processes": workers, "threads_per_process": 1} if how == "processes" else
                      {"processes": 1, "threads_per_process": anchor_threads(framework, workers)})
            records.append(measurement(
                "sweep", f"{framework}_{how}", {**setting, **layout, "framework": framework, "epochs_timed": epochs,
                                                "process": "fresh, its own",
                                                "version": runs[0]["version"] if runs else None},
                measured, unit="examples/s", note=notes[framework, how], examples_per_second=median(measured),
                cpu_seconds_per_second=median(busy_way[how]),
                fraction_of_sgemm_peak=_peak_fraction(by_way[how], gemm, flops) if runs else None))
        medians = {how: median([e for e in by_way[how] if e is not None]) for how in WAYS}
        if framework in anchors and any(value is not None for value in medians.values()):
            best_way[framework] = max(WAYS, key=lambda how: medians[how] or 0.0)
            best[framework] = by_way[best_way[framework]]
    return records, best, best_way


def _evaluation_record(evaluation: list[float], config, per_worker: float | None) -> dict:
    """Scoring cost per 1,000 examples against the training time of one task of ``config.task_preset``.

    ``per_worker``: our sweep throughput per worker (examples per second), None when not measured.
    """
    from betavae_sym.experiments.settings import SweepSettings

    task = SweepSettings.preset(config.task_preset, dataset=SWEEP_DATASET)
    task_examples = task.dataset.n * task.training.epochs
    task_seconds = task_examples / per_worker if per_worker else None
    scored = task.metrics.heldout + min(task.dataset.n, task.metrics.heldout)  # held-out rows, training-row view
    per_1000 = median(evaluation)
    return measurement(
        "sweep", "evaluation", {"function": "betavae_sym.experiments.metrics.evaluate", "rows": config.eval_rows,
                                "samples": task.metrics.samples, "iwae_samples": task.metrics.iwae_samples,
                                "task_preset": config.task_preset, "blas_threads": 1},
        evaluation, unit="s per 1000 examples", task_examples=task_examples, task_training_seconds=task_seconds,
        scored_rows_per_task=scored,
        fraction_of_task_training=per_1000 * scored / 1000 / task_seconds if task_seconds else None,
        rows_within_20_percent=0.2 * task_seconds / per_1000 * 1000 if task_seconds else None)


def _evaluate(model, dataset, preset: dict, repeat: int) -> dict:
    from betavae_sym.experiments.metrics import evaluate

    return evaluate(model, dataset, 1.0, samples=preset["samples"], iwae_samples=preset["iwae_samples"],
                    seed=[repeat, 0, 2])
