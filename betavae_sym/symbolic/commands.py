"""``betavae-sym derive``: regenerate (or check) the derivation documents."""

from __future__ import annotations

from betavae_sym.argtypes import positive_int


def register(subparsers) -> None:
    derive = subparsers.add_parser(
        "derive",
        help="derive the analytic beta-VAE in SymPy; compare every printed equation; write derivations/",
        description=(
            "Derive the linear-Gaussian beta-VAE from first principles with SymPy, compare each printed "
            "equation of the paper with the derived one at (N, k) = (1,1), (2,1), (3,2), (4,3) and in general "
            "matrix form, and write one Markdown file per topic (objective, gradients, stationary point, "
            "posteriors, inference errors, propositions) plus an index, README.md."
        ),
    )
    derive.add_argument("--out", default="derivations", metavar="DIR",
                        help="folder of the Markdown files (default: ./derivations)")
    derive.add_argument("--check", action="store_true",
                        help="write nothing; compare a fresh derivation with the files in DIR and exit 1 "
                             "with a diff when they are stale")
    derive.add_argument("--jobs", type=positive_int, default=2, metavar="J",
                        help="topics derived in parallel processes (default 2)")
    derive.add_argument("--no-progress", action="store_true", help="no progress bar")
    derive.set_defaults(handler=derive_handler)


def derive_handler(args) -> int:
    import sys
    from pathlib import Path

    from betavae_sym.errors import BadInput, CheckFailed
    from betavae_sym.fileio import atomic_write_text, ensure_writable_dir
    from betavae_sym.symbolic.derive import render_all, stale_files

    out = Path(args.out)
    if args.check:
        if not out.is_dir():
            raise BadInput(f"--out: '{out}' is not a folder of derivations; run 'betavae-sym derive --out {out}' first")
        documents = render_all(jobs=args.jobs, progress=not args.no_progress)
        report = stale_files(out, documents)
        if report:
            sys.stderr.write(report)
            raise CheckFailed(f"{out}/ is stale; run 'betavae-sym derive --out {out}' and commit the result")
        sys.stderr.write(f"{out}/ is up to date ({len(documents)} files)\n")
        return 0
    ensure_writable_dir(out, "--out")
    documents = render_all(jobs=args.jobs, progress=not args.no_progress)
    for name, text in documents.items():
        atomic_write_text(out / name, text)
    sys.stderr.write(f"wrote {len(documents)} files to {out}/\n")
    return 0
