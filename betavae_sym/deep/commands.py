"""``betavae-sym train`` and ``betavae-sym deep gradcheck``."""

from __future__ import annotations

import argparse


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of sizes, e.g. 256,200,200") from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"'{text}': layer sizes must be positive")
    return sizes


def register(subparsers) -> None:
    from betavae_sym.data.commands import add_dataset_options

    train = subparsers.add_parser("train", help="train deep beta-VAE realizations on a synthetic dataset")
    add_dataset_options(train)
    train.add_argument("--beta", type=float, required=True, help="weight of the KL term")
    train.add_argument("--epochs", type=int, required=True, help="passes over the dataset (paper: 1000)")
    train.add_argument("--realizations", type=int, default=1, help="independently initialized networks, trained together")
    train.add_argument("--batch-size", type=int, default=100)
    train.add_argument("--seed", type=int, default=0, help="seed of the networks (realization r: [seed, r])")
    train.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (paper: 1e-3)")
    train.add_argument("--n", type=int, default=1000, help="dataset size (paper: 1000)")
    train.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    train.add_argument("--no-standardize", action="store_true",
                       help="train on raw pixels (default: per-pixel standardization, as in the paper)")
    train.add_argument("--encoder-hidden", type=_hidden, default=(256, 200, 200), metavar="H,H,...")
    train.add_argument("--decoder-hidden", type=_hidden, default=(200, 200, 256), metavar="H,H,...")
    train.add_argument("--latent", type=int, default=2, metavar="K", help="latent units (default 2)")
    train.add_argument("--save", metavar="PATH", help="save parameters (.npz) and configuration (.json sidecar)")
    train.add_argument("--json", metavar="PATH", help="write a JSON summary ('-' for standard output)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(handler=train_handler)

    deep = subparsers.add_parser("deep", help="checks of the deep beta-VAE")
    actions = deep.add_subparsers(dest="action", metavar="ACTION", parser_class=type(deep))
    actions.required = True
    check = actions.add_parser("gradcheck", help="hand-written gradients vs central finite differences (float64)")
    check.add_argument("--N", type=int, default=12, help="input size (default 12)")
    check.add_argument("--k", type=int, default=2, help="latent units (default 2)")
    check.add_argument("--encoder-hidden", type=_hidden, default=(9, 7, 6), metavar="H,H,...")
    check.add_argument("--decoder-hidden", type=_hidden, default=(6, 7, 9), metavar="H,H,...")
    check.add_argument("--realizations", type=int, default=2)
    check.add_argument("--batch-size", type=int, default=3)
    check.add_argument("--beta", type=float, default=1.5)
    check.add_argument("--seed", type=int, default=0)
    check.add_argument("--threshold", type=float, default=1e-6, help="largest accepted relative error (default 1e-6)")
    check.add_argument("--max-entries", type=int, help="check at most this many entries per parameter array")
    check.add_argument("--json", metavar="PATH", help="write the result as JSON ('-' for standard output)")
    check.set_defaults(handler=gradcheck_handler)


def _emit_json(target: str | None, document: dict) -> None:
    import json
    import sys
    from pathlib import Path

    from betavae_sym.fileio import atomic_write_text

    if target is None:
        return
    text = json.dumps(document, indent=2) + "\n"
    if target == "-":
        sys.stdout.write(text)
    else:
        atomic_write_text(Path(target), text)


def _check_json_target(target: str | None) -> None:
    from pathlib import Path

    from betavae_sym.fileio import check_writable_file

    if target not in (None, "-"):
        check_writable_file(Path(target), "json")


def gradcheck_handler(args: argparse.Namespace) -> int:
    import sys

    from betavae_sym.deep.gradcheck import gradcheck
    from betavae_sym.deep.model import Architecture
    from betavae_sym.errors import CheckFailed

    _check_json_target(args.json)
    architecture = Architecture(N=args.N, k=args.k, encoder_hidden=args.encoder_hidden,
                                decoder_hidden=args.decoder_hidden)
    result = gradcheck(architecture, realizations=args.realizations, batch_size=args.batch_size, beta=args.beta,
                       seed=args.seed, threshold=args.threshold, max_entries=args.max_entries)
    _emit_json(args.json, result.to_dict())
    out = sys.stderr if args.json == "-" else sys.stdout
    for key, error in result.relative_errors.items():
        out.write(f"{key:12s} {error:.2e}\n")
    out.write(f"worst relative error {result.worst_relative_error:.3e} ({result.worst_parameter}), "
              f"{result.entries_checked} entries, threshold {result.threshold:g}\n")
    if not result.passed:
        raise CheckFailed(f"gradient check failed: relative error {result.worst_relative_error:.3e} in "
                          f"{result.worst_parameter} is above {result.threshold:g}")
    return 0


def train_handler(args: argparse.Namespace) -> int:
    import sys

    import numpy as np

    from betavae_sym.data.commands import dataset_spec
    from betavae_sym.data.synthetic import build_dataset
    from betavae_sym.deep.model import Architecture
    from betavae_sym.deep.train import TrainingDiverged, check_save_path, save_result, train
    from betavae_sym.validate import count

    if args.save is not None:
        check_save_path(args.save)
    _check_json_target(args.json)
    n = count(args.n, "n")
    dataset = build_dataset(dataset_spec(args, n=n, standardize=not args.no_standardize))
    architecture = Architecture(N=dataset.N, k=count(args.latent, "latent", maximum=dataset.N),
                                encoder_hidden=args.encoder_hidden, decoder_hidden=args.decoder_hidden)
    try:
        result = train(dataset, args.beta, epochs=args.epochs, realizations=args.realizations,
                       batch_size=args.batch_size, seed=args.seed, lr=args.lr, dtype=np.dtype(args.dtype),
                       progress=not args.no_progress, architecture=architecture)
    except TrainingDiverged as exc:
        _warn_diverged(exc.diverged, args.beta)
        raise
    _warn_diverged(result.diverged, args.beta)
    final = result.history[-1]
    summary = {**result.config, "seconds": result.seconds, "examples_per_second": result.examples_per_second,
               "final_loss": final.tolist(), "final_reconstruction": result.reconstruction_history[-1].tolist(),
               "final_kl": result.kl_history[-1].tolist()}
    if args.save is not None:
        summary["sidecar"] = str(save_result(args.save, result, dataset.standardization))
        summary["saved"] = args.save
    _emit_json(args.json, summary)
    out = sys.stderr if args.json == "-" else sys.stdout
    left_out = f" ({len(result.diverged)} diverged, left out)" if result.diverged else ""
    out.write(f"{args.dataset}, beta {args.beta:g}, {result.model.R} realization(s){left_out}, {args.epochs} epochs: "
              f"final -L_beta per example {final.mean():.4f} nats (min {final.min():.4f}, max {final.max():.4f}); "
              f"{result.examples_per_second:.0f} examples/s\n")
    return 0


def _warn_diverged(diverged: dict[int, int], beta: float) -> None:
    """One line on standard error per diverged realization."""
    import sys

    from betavae_sym.deep.train import divergence_line

    for realization, epoch in sorted(diverged.items()):
        sys.stderr.write(f"betavae-sym train: warning: {divergence_line(realization, epoch, beta)}\n")
