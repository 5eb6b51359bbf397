"""``betavae-sym simulate`` and ``betavae-sym summarize``."""

from __future__ import annotations

import argparse


def add_simulate_arguments(sim: argparse.ArgumentParser) -> None:
    """The options of ``simulate``. A settings option left out is None here: the preset or the settings'
    defaults fill it in (``SweepSettings.preset``)."""
    from betavae_sym.data.commands import add_dataset_options
    from betavae_sym.deep.commands import _hidden

    add_dataset_options(sim)
    sim.add_argument("--betas", metavar="LIST|START:STOP:NUM",
                     help="beta values: a comma-separated list, or NUM evenly spaced values from START to STOP")
    sim.add_argument("--realizations", type=int, help="random initializations per beta (paper: 100)")
    sim.add_argument("--epochs", type=int, help="training epochs (paper: 1000)")
    sim.add_argument("--preset", choices=("decide", "quick", "paper"),
                     help="fill in the sweep (decide: sized to decide the deep claims, about 10 minutes per "
                          "dataset on 2 cores; quick: minutes; paper: the paper's protocol); explicit options win")
    sim.add_argument("--store", required=True, metavar="PATH", help="SQLite results store (created if missing)")
    sim.add_argument("--executor", choices=("local", "dask"), default="local")
    sim.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                     help="Dask scheduler address (default with --executor dask: a LocalCluster)")
    sim.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    sim.add_argument("--connect-timeout", type=float, default=10.0, metavar="SECONDS",
                     help="give up on an unreachable --scheduler after this long (default 10)")
    sim.add_argument("--n", type=int, help="dataset size (paper and default: 1000)")
    sim.add_argument("--batch-size", type=int, help="minibatch size (default 100)")
    sim.add_argument("--lr", type=float, help="Adam learning rate (paper and default: 1e-3)")
    sim.add_argument("--dtype", choices=("float32", "float64"), help="default float32")
    sim.add_argument("--no-standardize", action="store_true",
                     help="train on raw pixels (default: per-pixel standardization, as in the paper)")
    sim.add_argument("--encoder-hidden", type=_hidden, metavar="H,H,...", help="default 256,200,200")
    sim.add_argument("--decoder-hidden", type=_hidden, metavar="H,H,...", help="default 200,200,256")
    sim.add_argument("--samples", type=int, help="latent samples per example for the reconstruction (paper: 1000)")
    sim.add_argument("--iwae-samples", type=int, help="importance samples K of the log-likelihood (default: --samples)")
    sim.add_argument("--heldout", type=int, metavar="ROWS",
                     help="held-out rows every network is scored on: the ROWS rows after the training rows, same "
                          "seed, never trained on (default 2000); the training-row view scores the first "
                          "min(n, ROWS) training rows")
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


def sweep_settings(args: argparse.Namespace):
    """The :class:`~betavae_sym.experiments.settings.SweepSettings` that ``args`` ask for (preset filled in).

    The options' ``dest`` are the settings' option names; those left out (None) come from the preset or the defaults.
    """
    from betavae_sym.argtypes import given_options, parse_betas
    from betavae_sym.experiments.settings import SweepSettings

    given = given_options(args, SweepSettings.option_names())
    if "betas" in given:
        given["betas"] = parse_betas(given["betas"], allow_zero=True)
    if args.no_standardize:
        given["standardize"] = False
    return SweepSettings.preset(args.preset, **given)


def simulate_handler(args: argparse.Namespace) -> int:
    import sys

    from betavae_sym.experiments.sweep import simulate

    settings = sweep_settings(args)
    report = simulate(settings, args.store, executor=args.executor, workers=args.workers, scheduler=args.scheduler,
                      progress=not args.no_progress, connect_timeout=args.connect_timeout)
    sys.stdout.write(f"{args.dataset}: {report.total} tasks ({len(settings.betas)} beta x {settings.realizations} "
                     f"realizations); {report.already_done} already in {args.store}, {report.ran} run now "
                     f"({report.diverged} diverged)"
                     + (f", {report.by_others} by other processes" if report.by_others else "")
                     + f" in {report.seconds:.1f} s\n")
    return 0


def summarize_handler(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from betavae_sym.errors import BadInput
    from betavae_sym.experiments.sweep import summarize, summary_csv, summary_json, summary_table
    from betavae_sym.fileio import atomic_write_text, check_writable_file, ensure_writable_dir

    if args.json == "-" and args.csv == "-":
        raise BadInput("--json - and --csv -: only one of them can go to standard output")
    for option, target in (("--json", args.json), ("--csv", args.csv)):
        if target not in (None, "-"):
            check_writable_file(Path(target), option)
    if args.plot is not None:
        check_writable_file(Path(args.plot) / "figure.png", "--plot")
    summary = summarize(Path(args.store))  # validates the store before anything is written
    if args.plot is not None:  # and the saved parameters of the traversals
        from betavae_sym.experiments.figures import traversal_models, write_figures

        models = traversal_models(summary, Path(args.store))
    out = sys.stderr if "-" in (args.json, args.csv) else sys.stdout
    out.write(summary_table(summary))
    for option, target, text in (("--json", args.json, summary_json), ("--csv", args.csv, summary_csv)):
        if target == "-":
            sys.stdout.write(text(summary))
        elif target is not None:
            ensure_writable_dir(Path(target).parent if str(Path(target).parent) else Path("."), option)
            atomic_write_text(Path(target), text(summary))
    if args.plot is not None:
        ensure_writable_dir(Path(args.plot), "--plot")
        for path in write_figures(summary, Path(args.store), Path(args.plot), models=models):
            out.write(f"wrote {path}\n")
    return 0
