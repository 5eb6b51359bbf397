"""``betavae-sym simulate`` and ``betavae-sym summarize``."""

from __future__ import annotations

import argparse


def add_simulate_arguments(sim: argparse.ArgumentParser) -> None:
    """The options of ``simulate`` (also used by :func:`betavae_sym.experiments.sweep.preset_settings`)."""
    from betavae_sym.data.commands import add_dataset_options
    from betavae_sym.deep.commands import _hidden

    add_dataset_options(sim)
    sim.add_argument("--betas", metavar="LIST|START:STOP:NUM",
                     help="beta values: a comma-separated list, or NUM evenly spaced values from START to STOP")
    sim.add_argument("--realizations", type=int, help="random initializations per beta (paper: 100)")
    sim.add_argument("--epochs", type=int, help="training epochs (paper: 1000)")
    sim.add_argument("--preset", choices=("quick", "paper"),
                     help="fill in the sweep (quick: minutes on 2 cores; paper: the paper's protocol); "
                          "explicit options win")
    sim.add_argument("--store", required=True, metavar="PATH", help="SQLite results store (created if missing)")
    sim.add_argument("--executor", choices=("local", "dask"), default="local")
    sim.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                     help="Dask scheduler address (default with --executor dask: a LocalCluster)")
    sim.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    sim.add_argument("--connect-timeout", type=float, default=10.0, metavar="SECONDS",
                     help="give up on an unreachable --scheduler after this long (default 10)")
    sim.add_argument("--n", type=int, help="dataset size (paper and default: 1000)")
    sim.add_argument("--batch-size", type=int, help="minibatch size (default 100)")
    sim.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (paper: 1e-3)")
    sim.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    sim.add_argument("--no-standardize", action="store_true",
                     help="train on raw pixels (default: per-pixel standardization, as in the paper)")
    sim.add_argument("--encoder-hidden", type=_hidden, default=(256, 200, 200), metavar="H,H,...")
    sim.add_argument("--decoder-hidden", type=_hidden, default=(200, 200, 256), metavar="H,H,...")
    sim.add_argument("--samples", type=int, help="latent samples per example for the reconstruction (paper: 1000)")
    sim.add_argument("--iwae-samples", type=int, help="importance samples K of the log-likelihood (default: --samples)")
    sim.add_argument("--no-progress", action="store_true", help="no progress bar")


def register(subparsers) -> None:
    sim = subparsers.add_parser("simulate", help="deep beta sweep over realizations into a resumable SQLite store")
    add_simulate_arguments(sim)
    sim.set_defaults(handler=simulate_handler)

    summ = subparsers.add_parser("summarize", help="per-beta statistics of a results store; figures")
    summ.add_argument("--store", required=True, metavar="PATH", help="SQLite results store made by simulate")
    summ.add_argument("--json", metavar="PATH", help="write the summary as JSON ('-' for standard output)")
    summ.add_argument("--csv", metavar="PATH", help="write the per-beta statistics as CSV")
    summ.add_argument("--plot", metavar="DIR", help="write the figures (PNG and SVG) to this folder")
    summ.set_defaults(handler=summarize_handler)


def parse_betas(text: str | None) -> list[float]:
    """``"0.5,1,2"`` or ``"START:STOP:NUM"`` (NUM evenly spaced values, both ends included) -> floats."""
    import math

    import numpy as np

    from betavae_sym.errors import BadInput

    if text is None or not text.strip():
        raise BadInput("--betas: the beta list is empty; give e.g. 0.5,1,2 or 0.1:4:9 (or use --preset)")
    try:
        if ":" in text:
            start, stop, num = text.split(":")
            if int(num) < 1:
                raise ValueError
            betas = [float(b) for b in np.linspace(float(start), float(stop), int(num))]
        else:
            betas = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise BadInput(f"--betas: '{text}' is not a comma-separated list or START:STOP:NUM; "
                       "use e.g. 0.5,1,2 or 0.05:3:200") from None
    if not betas:
        raise BadInput("--betas: the beta list is empty; give e.g. 0.5,1,2 or 0.1:4:9")
    bad = [b for b in betas if not (math.isfinite(b) and b >= 0)]
    if bad:
        raise BadInput(f"--betas: {bad[0]!r} is not a finite number >= 0")
    return sorted(set(betas))


def _int_list_text(option: str, text: str | None) -> str | None:
    from betavae_sym.data.commands import _int_list

    values = _int_list(option, text)
    return None if values is None else ",".join(str(v) for v in values)


def sweep_settings(args: argparse.Namespace) -> tuple[dict, list[float], int]:
    """The settings, betas and realizations that ``args`` ask for (preset filled in); BadInput on bad values."""
    from pathlib import Path

    from betavae_sym.data.synthetic import DATASETS, SAMPLING
    from betavae_sym.errors import BadInput
    from betavae_sym.experiments.tasks import PRESETS

    preset = PRESETS.get(args.preset, {})

    def pick(name, default=None):
        value = getattr(args, name)
        return value if value is not None else preset.get(name, default)

    if args.dataset not in DATASETS:
        raise BadInput(f"--dataset: unknown dataset '{args.dataset}'; choose one of {', '.join(DATASETS)}")
    betas = [float(b) for b in preset["betas"]] if args.betas is None and preset else parse_betas(args.betas)
    realizations, epochs = pick("realizations"), pick("epochs")
    if realizations is None or epochs is None:
        raise BadInput("--realizations and --epochs: give both, or a --preset")
    samples = pick("samples", 1000)
    values = {"--realizations": realizations, "--epochs": epochs, "--n": pick("n", 1000),
              "--batch-size": pick("batch_size", 100), "--samples": samples,
              "--iwae-samples": pick("iwae_samples", samples)}
    if args.workers is not None:
        values["--workers"] = args.workers
    for option, value in values.items():
        if value < 1:
            raise BadInput(f"{option}: {value} must be a positive integer")
    if not args.lr > 0:
        raise BadInput(f"--lr: {args.lr} must be positive")
    if args.dataset == "positioned-digit" and args.k != 2:
        raise BadInput(f"--k: positioned-digit has k = 2 sources (the position), got {args.k}")
    dataset = {"dataset": args.dataset, "n": values["--n"], "standardize": not args.no_standardize, "k": args.k,
               "digit_classes": _int_list_text("--digit-classes", args.digit_classes),
               "digit_indices": _int_list_text("--digit-indices", args.digit_indices),
               "sigma_eta": float(args.sigma_eta), "scale": float(args.scale), "data_seed": args.data_seed,
               "mnist": None if args.mnist is None else str(Path(args.mnist).resolve()),
               "sampling": SAMPLING}
    training = {"epochs": epochs, "batch_size": values["--batch-size"], "lr": float(args.lr), "dtype": args.dtype,
                "encoder_hidden": list(args.encoder_hidden), "decoder_hidden": list(args.decoder_hidden),
                "latent": args.k}
    metrics = {"samples": samples, "iwae_samples": values["--iwae-samples"]}
    return {"dataset": dataset, "training": training, "metrics": metrics}, betas, realizations


def check_writable_target(path, option: str) -> None:
    """BadInput unless ``path`` can be written as a file (see ``fileio.check_writable_file``); creates nothing."""
    from betavae_sym.fileio import check_writable_file

    check_writable_file(path, option)


def check_store_path(path) -> None:
    """BadInput unless ``path`` is a file (or can become one); creates nothing."""
    check_writable_target(path, "--store")


def simulate_handler(args: argparse.Namespace) -> int:
    import sys

    from betavae_sym.errors import BadInput
    from betavae_sym.experiments.sweep import simulate
    from betavae_sym.experiments.tasks import architecture_of, build_sweep_dataset

    if args.scheduler is not None and args.executor != "dask":
        raise BadInput("--scheduler: only with --executor dask")
    if not args.connect_timeout > 0:
        raise BadInput(f"--connect-timeout: {args.connect_timeout} must be positive")
    settings, betas, realizations = sweep_settings(args)
    check_store_path(args.store)
    # build the dataset once here: bad dataset options fail before any store or worker exists
    dataset = build_sweep_dataset(settings)
    architecture_of(settings, dataset.N)
    report = simulate(settings, betas, realizations, args.store, executor=args.executor, workers=args.workers,
                      scheduler=args.scheduler, progress=not args.no_progress, dataset=dataset,
                      connect_timeout=args.connect_timeout)
    sys.stdout.write(f"{args.dataset}: {report.total} tasks ({len(betas)} beta x {realizations} realizations); "
                     f"{report.already_done} already in {args.store}, {report.ran} run now "
                     f"({report.diverged} diverged) in {report.seconds:.1f} s\n")
    return 0


def summarize_handler(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from betavae_sym.errors import BadInput
    from betavae_sym.experiments.sweep import summarize, summary_csv, summary_json, summary_table
    from betavae_sym.fileio import atomic_write_text, ensure_writable_dir

    if args.json == "-" and args.csv == "-":
        raise BadInput("--json - and --csv -: only one of them can go to standard output")
    for option, target in (("--json", args.json), ("--csv", args.csv)):
        if target not in (None, "-"):
            check_writable_target(Path(target), option)
    if args.plot is not None:
        check_writable_target(Path(args.plot) / "figure.png", "--plot")
    summary = summarize(Path(args.store))  # validates the store before anything is written
    out = sys.stderr if "-" in (args.json, args.csv) else sys.stdout
    out.write(summary_table(summary))
    for option, target, text in (("--json", args.json, summary_json), ("--csv", args.csv, summary_csv)):
        if target == "-":
            sys.stdout.write(text(summary))
        elif target is not None:
            ensure_writable_dir(Path(target).parent if str(Path(target).parent) else Path("."), option)
            atomic_write_text(Path(target), text(summary))
    if args.plot is not None:
        from betavae_sym.experiments.figures import write_figures

        ensure_writable_dir(Path(args.plot), "--plot")
        for path in write_figures(summary, Path(args.store), Path(args.plot)):
            out.write(f"wrote {path}\n")
    return 0
