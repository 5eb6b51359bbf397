"""``betavae-sym bench``: the performance suite (see :mod:`betavae_sym.bench`)."""

from __future__ import annotations

import argparse

_SIZE_OPTIONS = ("N", "batch_size", "realizations", "repeats", "derive_repeats", "epochs", "n", "threads")


def register(subparsers) -> None:
    bench = subparsers.add_parser(
        "bench", help="performance suite: analytic, symbolic, deep training and scaling, measured side by side",
        description=(
            "Measure the package's speed in one run: (analytic) a 200-point beta sweep with the numeric solver and "
            "the closed form at N = 128 and 1600, and the same sweep through the command line beyond a one-beta run; "
            "(symbolic) a cold 'derive' and the first lambdified call, each in a fresh process; (deep) training "
            "throughput of one network (R = 1, R stacked, one thread) against PyTorch and JAX, each in its own fresh "
            "process when installed, and the SGEMM rate; (sweep) 4 networks on 2 worker processes as 'simulate' "
            "runs them against each anchor's best use of the same cores, and the cost of scoring a network; "
            "(scale) analytic solve time against N and k, one training epoch against N, batch size and R, with a "
            "log-log plot. Compared runs are interleaved; every figure is a median over --repeats runs with its min "
            "and max."),
    )
    bench.add_argument("--only", metavar="SECTION[,SECTION]",
                       help="run only these sections: analytic, symbolic, deep, sweep, scale (default: all)")
    bench.add_argument("--json", metavar="PATH", help="write the measurements as JSON ('-' for standard output)")
    bench.add_argument("--plot", metavar="DIR", help="write the scale section's log-log plot, bench_scale.png/.svg")
    bench.add_argument("--N", type=int, help="deep: input width (default 1600, the paper's)")
    bench.add_argument("--batch-size", type=int, help="deep: batch size (default 100)")
    bench.add_argument("--realizations", type=int, help="deep: R of the stacked run (default 8)")
    bench.add_argument("--dtype", help="deep and scale training: float32 (default) or float64")
    bench.add_argument("--n", type=int, help="deep and scale training: examples per epoch (default 1000)")
    bench.add_argument("--epochs", type=int, help="deep: epochs per timed run (default 3)")
    bench.add_argument("--threads", type=int,
                       help="deep and scale training: limit BLAS, the anchors' and realization threads to T, at most "
                            "the cores (default: the libraries' defaults; the deep section adds one-thread runs)")
    bench.add_argument("--repeats", type=int, help="timed runs per measurement (default 3; smoke 1)")
    bench.add_argument("--derive-repeats", type=int,
                       help="cold derive runs, about 17 s each on 2 idle cores (default 1; smoke 0 = left out)")
    bench.add_argument("--smoke", action="store_true",
                       help="tiny sizes, one repetition, no cold derive: checks that the command works (seconds)")
    bench.add_argument("--no-torch", action="store_true", help="leave PyTorch out even when it is installed")
    bench.add_argument("--no-jax", action="store_true", help="leave JAX out even when it is installed")
    bench.add_argument("--anchors", action="store_true",
                       help="with --smoke: train the installed anchors too (each in fresh processes: adds tens of "
                            "seconds)")
    bench.add_argument("--task-preset", metavar="PRESET",
                       help="sweep: the preset whose task the evaluation cost is set against "
                            "(default decide, the deciding preset)")
    bench.add_argument("--no-progress", action="store_true", help="no progress bar")
    bench.set_defaults(handler=bench_handler)


def config_from_args(args: argparse.Namespace):
    """The :class:`BenchConfig` the options ask for (BadInput on a bad value)."""
    from betavae_sym.bench.suite import SECTIONS, BenchConfig
    from betavae_sym.errors import BadInput

    overrides = {name: getattr(args, name) for name in _SIZE_OPTIONS if getattr(args, name) is not None}
    if args.dtype is not None:
        overrides["dtype"] = args.dtype
    if args.anchors:
        if not args.smoke:
            raise BadInput("--anchors: the anchors run in every full run; --anchors adds them to a --smoke run")
        overrides.update(torch=True, jax=True)
    if args.no_torch:
        overrides["torch"] = False
    if args.no_jax:
        overrides["jax"] = False
    if args.task_preset is not None:
        overrides["task_preset"] = args.task_preset
    if args.only is not None:
        sections = tuple(part.strip() for part in args.only.split(",") if part.strip())
        unknown = [s for s in sections if s not in SECTIONS]
        if unknown or not sections:
            raise BadInput(f"--only: unknown section '{args.only if not unknown else ','.join(unknown)}'; "
                           f"choose from {', '.join(SECTIONS)} (comma-separated)")
        overrides["sections"] = sections
    for name in _SIZE_OPTIONS:
        value = overrides.get(name)
        if value is not None and value < (0 if name == "derive_repeats" else 1):
            kind = "a non-negative" if name == "derive_repeats" else "a positive"
            raise BadInput(f"--{name.replace('_', '-')}: {value} must be {kind} integer")
    return BenchConfig.smoke_config(**overrides) if args.smoke else BenchConfig(**overrides)


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run, for the JSON document and the README table."""
    parts = ["betavae-sym", "bench"]
    for name in ("only", *_SIZE_OPTIONS, "dtype", "task_preset"):
        value = getattr(args, name)
        if value is not None:
            parts += [f"--{name.replace('_', '-')}", str(value)]
    for flag in ("smoke", "anchors", "no_torch", "no_jax"):
        if getattr(args, flag):
            parts.append(f"--{flag.replace('_', '-')}")
    for name in ("json", "plot"):
        if getattr(args, name) is not None:
            parts += [f"--{name}", getattr(args, name)]
    return " ".join(parts)


def _format(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def table(document: dict) -> str:
    """A plain-text table of the measurements (median [min, max] x runs, and the section's extras)."""
    lines = []
    for m in document["measurements"]:
        config = m["config"]
        what = ", ".join(f"{key}={config[key]}" for key in ("N", "k", "batch_size", "realizations", "threads",
                                                             "tasks", "workers", "rows")
                         if config.get(key) is not None)
        extras = []
        for key, label in (("examples_per_second", "ex/s"), ("torch_examples_per_second", "torch ex/s"),
                           ("ratio_vs_torch", "x torch"), ("jax_examples_per_second", "jax ex/s"),
                           ("ratio_vs_jax", "x jax"), ("ratio_vs_best_peer", "x the best anchor"),
                           ("fraction_of_sgemm_peak", "of GEMM peak"),
                           ("fraction_of_step_gemms", "of the step's GEMMs alone"),
                           ("fraction_of_task_training", "of a task's training"),
                           ("max_closed_form_gap", "max gap"), ("speedup_vs_numeric", "x faster than numeric")):
            if m.get(key) is not None:
                extras.append(f"{_format(m[key])} {label}")
        stats = ("not measured" if m["runs"] == 0 else
                 f"{_format(m['median'])} {m['unit']} [{_format(m['min'])}, {_format(m['max'])}] x{m['runs']}")
        lines.append(f"{m['section']:9s} {m['name']:26s} {what:44s} {stats}" + ("; " + "; ".join(extras)
                                                                                   if extras else ""))
    for note in document.get("notes", []):
        lines.append(f"note: {note}")
    machine = document["machine"]
    lines.append(f"machine: {machine['cpu_model']}, {machine['nproc']} cores, load average "
                 f"{machine['load_average_start'][0]:.2f} -> {machine['load_average_end'][0]:.2f}; "
                 f"{document['seconds']:.0f} s")
    return "\n".join(lines) + "\n"


def bench_handler(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    from betavae_sym.bench.suite import run_bench
    from betavae_sym.errors import BadInput
    from betavae_sym.fileio import atomic_write_text, ensure_writable_dir

    config = config_from_args(args)
    if args.plot is not None:
        if "scale" not in config.sections:
            raise BadInput("--plot: the plot shows the scale section; add scale to --only or drop --plot")
        ensure_writable_dir(Path(args.plot), "--plot")
    if args.json not in (None, "-"):
        if Path(args.json).is_dir():
            raise BadInput(f"--json: '{args.json}' is a folder; give a file name, e.g. bench.json")
        ensure_writable_dir(Path(args.json).parent, "--json")
    document = run_bench(config, progress=not args.no_progress)
    document["command"] = command_line(args)
    if args.plot is not None:
        from betavae_sym.bench.plot import save_scale_plot

        document["plots"] = [str(path) for path in save_scale_plot(document, Path(args.plot))]
    if args.json is not None:
        text = json.dumps(document, indent=2) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            atomic_write_text(Path(args.json), text)
    (sys.stderr if args.json == "-" else sys.stdout).write(table(document))
    return 0
