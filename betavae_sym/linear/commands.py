"""``betavae-sym analytic``: the analytic beta sweep for a mixing matrix (Figure 3), or for a dataset's covariance.

``--dataset mixed-digits`` (with the dataset options of ``simulate``: ``--k``,
``--digit-classes``, ``--digit-indices``, ``--sigma-eta``, ``--data-seed``,
``--mnist``, ``--n``, ``--no-standardize``) builds the same
:class:`~betavae_sym.data.synthetic.DatasetSpec` a sweep would and solves the
linear beta-VAE for its data as fed to the network
(:func:`betavae_sym.experiments.theory.gaussian_data_of`: ``A A^T + sigma_eta^2 I``,
or standardized by its first n rows, ``S^-1 (A A^T + sigma_eta^2 I) S^-1``):
the theory a sweep's Figure 4 draws.

JSON document (``--json PATH|-``), stable::

    {"N": int, "k": int, "mixing": str,
     "data": {"noise_var": number | file name | null, "sigma_x": file name | null,
              "dataset": the DatasetSpec's JSON (--dataset) | null},
     "records": [{"beta", "elbo", "mie", "tie", "recon", "kl", "log_likelihood", "objective",
                  "tie_min", "tie_max", "optimum_unique",
                  "converged", "max_grad", "closed_form_gap"}, ...],
     "extrema": {"elbo_argmax", "tie_argmin", "mie_argmin",
                 "ambiguous": {} | {"tie_argmin": {"reason", "tie_min_argmin", "tie_max_argmin"}}}}

Metrics in nats, averaged over p(x) in closed form, constants included; TIE
for the best signed permutation of the units; ``tie_min``/``tie_max`` TIE over
the optimal set where it is not one point (``optimum_unique`` false: units
sharing an eigenvalue of Sigma_x), else both the closed form's TIE;
``closed_form_gap`` the largest relative difference between the numeric solver
and the closed form over the seven metrics (for TIE of a non-unique optimum,
the distance to ``[tie_min, tie_max]``); extrema refined by bounded scalar
optimization in beta, ``ambiguous`` naming those that depend on which member
of a non-unique optimum the solver found (a warning on standard error, exit 0).
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    analytic = subparsers.add_parser(
        "analytic", help="analytic beta sweep for a mixing matrix (Figure 3) or a dataset's covariance",
        description="The analytic beta-VAE at its optimum against beta, for x = A s + noise with --mixing, or for "
                    "the data a deep sweep feeds its networks with --dataset mixed-digits (the same dataset "
                    "options as simulate; e.g. 'analytic --dataset mixed-digits --betas 0.25:4:100' gives the "
                    "theory of Figure 4 for standardized mixed digits, n = 1000, seed 0).")
    source = analytic.add_mutually_exclusive_group(required=True)
    source.add_argument("--mixing", metavar="paper|PATH.npy|PATH.csv",
                        help="'paper' (A_ij = (1 + delta_ij)/2, size N x k) or a file holding A (N x k)")
    source.add_argument("--dataset", metavar="mixed-digits",
                        help="the covariance of a dataset as fed to the network: Sigma_x = A A^T + sigma_eta^2 I "
                             "(--no-standardize) or S^-1 (A A^T + sigma_eta^2 I) S^-1 with S the per-pixel s.d. of "
                             "its first --n rows (the sweep's standardization); A the digits")
    analytic.add_argument("--N", type=int, default=128, help="data dimension for --mixing paper (default 128)")
    analytic.add_argument("--k", type=int,
                          help="latent units for --mixing paper, digits of --dataset mixed-digits (default 2)")
    dataset = analytic.add_argument_group("dataset options (with --dataset; as for simulate)")
    dataset.add_argument("--n", type=int, help="the training rows whose standardization the data get (default 1000)")
    dataset.add_argument("--no-standardize", action="store_true", help="the raw pixels (default: standardized)")
    dataset.add_argument("--digit-classes", metavar="C,C,...", help="class of each digit (default 0,1,...)")
    dataset.add_argument("--digit-indices", metavar="I,I,...", help="MNIST indices of the digits instead of classes")
    dataset.add_argument("--sigma-eta", type=float, help="noise standard deviation (default 1)")
    dataset.add_argument("--data-seed", type=int, help="seed of the dataset (default 0)")
    dataset.add_argument("--mnist", metavar="DIR", help="folder with MNIST IDX files (default: the embedded digits)")
    analytic.add_argument("--betas", required=True, metavar="START:STOP:NUM|B,B,...",
                          help="NUM evenly spaced values from START to STOP, or a comma-separated list")
    data = analytic.add_mutually_exclusive_group()
    data.add_argument("--noise-var", default="1", metavar="V|PATH.npy|PATH.csv",
                      help="the data's noise variance: a number (Sigma_x = A A^T + V I, default 1 as in the paper) "
                           "or a file of N variances (Sigma_x = A A^T + diag(V), e.g. standardized pixels)")
    data.add_argument("--sigma-x", metavar="PATH.npy|PATH.csv",
                      help="the data covariance Sigma_x (N x N) itself, e.g. a dataset's as fed to a network; "
                           "--mixing then gives Cov(x, s) = A, which TIE's target p(s|x) needs")
    analytic.add_argument("--fix-decoder", action="store_true", help="fix the decoder at D = A, b_D = 0")
    analytic.add_argument("--sigma-y2", type=float, default=1.0, help="decoder variance (default 1)")
    analytic.add_argument("--seed", type=int, default=0, help="seed of the solver's random starts (default 0)")
    analytic.add_argument("--json", metavar="PATH", help="write the JSON document ('-' for standard output)")
    analytic.add_argument("--csv", metavar="PATH", help="write the records as CSV")
    analytic.add_argument("--plot", metavar="PATH",
                          help="write Figure 3 to PATH (.png or .svg; the other format beside it)")
    analytic.add_argument("--no-progress", action="store_true", help="no progress bar")
    analytic.set_defaults(handler=analytic_handler)


#: Largest condition number of Sigma_x accepted for a mixing file: float64 keeps about 16 digits, and past
#: 1e12 fewer than 4 are left for the noise directions; the solver then fails (measured with A A^T + I: the
#: paper's 6 x 2 matrix times 1e4 to 1e8 does not converge, times 1e12 or more makes a singular Hessian).
MAX_CONDITION = 1e12

#: Largest beta accepted: the numeric optimum's rounding error grows like beta x 1.5e-17 nats (the
#: ``closed_form_gap`` of the paper's 4 x 2 matrix: 1.5e-7 at beta = 1e10, 1.5e-2 at 1e15, 1.5e283 at 1e300,
#: each reported as converged).
BETA_LIMIT = 1e12


def _check_conditioning(data, spec: str) -> None:
    """Refuse (BadInput naming ``--mixing``) data whose ``Sigma_x = A A^T + Psi`` float64 cannot resolve.

    Bound on its condition number: ``(sigma_max(A)^2 + max Psi) / min Psi``; not applied to a given Sigma_x.
    """
    import numpy as np

    from betavae_sym.errors import BadInput

    if data.noise_var is None:
        return
    A, noise = data.A, np.atleast_1d(data.noise_var)
    scale = np.max(np.abs(A))
    largest = scale * np.linalg.norm(A / scale, 2)  # sigma_max(A), scaled: no overflow
    with np.errstate(over="ignore"):  # an overflow is a condition number above any bound
        bound = (largest / np.sqrt(noise.min())) ** 2 + noise.max() / noise.min()
    if not bound <= MAX_CONDITION:
        raise BadInput(f"'{spec}' has largest singular value {largest:.3g}, so Sigma_x = A A^T + noise has condition "
                       f"number about {bound:.3g}, above {MAX_CONDITION:.0e}: float64 cannot resolve its noise "
                       f"directions; rescale A", parameter="mixing")


def _check_memory(N: int, k: int, *, source: str | None = None) -> None:
    """Refuse an N x k problem whose solver would not fit in memory (BadInput naming ``--mixing`` when the
    matrix comes from the file ``source``, else ``--N`` or ``--k``, whichever the estimate grows with most).

    Estimate, measured with peak RSS: about 40 bytes per row of A for each column of A and of the reduced
    basis Q (N x n, n = min(N, 4k + 1)), and 400 bytes per squared parameter (the batched Hessians,
    p = 3kn + 2k + n parameters; measured 310-350 at k = 8 and 12).
    """
    from betavae_sym.validate import memory

    capped_N, capped_k = min(N, 10**20), min(k, 10**20)  # keeps the estimate a finite float
    n = min(capped_N, 4 * capped_k + 1)
    p = 3 * capped_k * n + 2 * capped_k + n
    rows, hessians = 40.0 * capped_N * (capped_k + n), 400.0 * p * p
    if source is not None:
        parameter, value = "mixing", source
    else:
        parameter, value = ("N", N) if rows > hessians else ("k", k)
    memory(rows + hessians, parameter, value, what=f" for an N = {N}, k = {k} problem")


def _outputs(args: argparse.Namespace) -> dict:
    """``{path: parameter}`` of every file the command would write (``--plot`` writes its PNG and SVG);
    BadInput, before anything is computed, unless each can be written and they are distinct."""
    from pathlib import Path

    from betavae_sym.errors import BadInput
    from betavae_sym.fileio import check_writable_file

    if args.plot is not None and Path(args.plot).suffix not in (".png", ".svg"):
        raise BadInput(f"--plot: '{args.plot}' must end in .png or .svg")
    targets = [(args.json, "json"), (args.csv, "csv")]
    if args.plot is not None:
        targets += [(str(Path(args.plot).with_suffix(suffix)), "plot") for suffix in (".png", ".svg")]
    outputs = {}
    for target, parameter in targets:
        if target in (None, "-"):
            continue
        path = Path(target)
        if path.resolve() in {p.resolve() for p in outputs}:
            other = next(p for q, p in outputs.items() if q.resolve() == path.resolve())
            raise BadInput(f"'{target}' is also where --{other} writes; give each output its own file",
                           parameter=parameter)
        check_writable_file(path, parameter)
        outputs[path] = parameter
    return outputs


def _csv_text(result) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(result.records[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(result.records)
    return buffer.getvalue()


def _table(result) -> str:
    rows = [f"{'beta':>8} {'elbo':>12} {'mie':>10} {'tie':>10} {'recon':>12} {'kl':>10} {'conv':>5} {'cf_gap':>8}"]
    records = result.records
    step = max(1, len(records) // 12)
    for r in records[::step] + ([records[-1]] if (len(records) - 1) % step else []):
        tie = f"{r['tie']:.4g}" + ("" if r["optimum_unique"] else "*")
        rows.append(f"{r['beta']:8.4g} {r['elbo']:12.6g} {r['mie']:10.4g} {tie:>10} {r['recon']:12.6g} "
                    f"{r['kl']:10.4g} {'yes' if r['converged'] else 'NO':>5} {r['closed_form_gap']:8.1e}")
    e = result.extrema
    ambiguous = " (ambiguous)" if "tie_argmin" in result.ambiguous else ""
    rows.append(f"extrema: ELBO max at beta = {e['elbo_argmax']:.6g}, TIE min at beta = {e['tie_argmin']:.6g}"
                f"{ambiguous}, MIE min at beta = {e['mie_argmin']:.6g}")
    if ambiguous:
        rows.append("* the optimum is not unique there: TIE of one member of the optimal set (tie_min, tie_max: "
                    "its range)")
    return "\n".join(rows) + "\n"


def _dataset_data(args: argparse.Namespace):
    """``(GaussianData, mixing name, data description)`` of ``--dataset``: the data as fed to the network."""
    from betavae_sym.data.commands import dataset_spec
    from betavae_sym.data.synthetic import DatasetSpec, build_dataset
    from betavae_sym.errors import BadInput
    from betavae_sym.experiments.theory import check_gaussian, describe_data, gaussian_data_of

    if args.sigma_x is not None or args.noise_var.strip() != "1":
        option = "--sigma-x" if args.sigma_x is not None else "--noise-var"
        raise BadInput(f"{option}: the dataset's covariance is its own (give --sigma-eta for its noise)")
    spec = dataset_spec(args, n=DatasetSpec.n if args.n is None else args.n, standardize=not args.no_standardize)
    check_gaussian(spec.dataset)  # before building it
    dataset = build_dataset(spec)
    return gaussian_data_of(dataset), describe_data(dataset), {"noise_var": None, "sigma_x": None,
                                                                "dataset": spec.to_json()}


def analytic_handler(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    from betavae_sym.argtypes import parse_betas
    from betavae_sym.errors import BadInput, CheckFailed
    from betavae_sym.fileio import atomic_write_text, ensure_writable_dir
    from betavae_sym.linear.gaussian_data import load_data
    from betavae_sym.linear.mixing import load_mixing
    from betavae_sym.linear.problem import data_problem
    from betavae_sym.validate import count, memory, positive_number

    betas = parse_betas(args.betas, allow_zero=False)
    if betas[-1] > BETA_LIMIT:
        raise BadInput(f"{betas[-1]:g} is above {BETA_LIMIT:g}, where the solver's rounding error (about beta x "
                       f"1.5e-17 nats) makes the numbers unreliable; use betas <= {BETA_LIMIT:g}", parameter="betas")
    memory(2000.0 * len(betas), "betas", args.betas, what=" for the sweep's records (about 2 kB per beta)")
    seed = count(args.seed, "seed", minimum=0)
    if args.dataset is not None:
        data, name, description = _dataset_data(args)
        A = data.A
    else:
        used = [flag for flag, value in (("--n", args.n), ("--no-standardize", args.no_standardize or None),
                                         ("--digit-classes", args.digit_classes), ("--digit-indices", args.digit_indices),
                                         ("--sigma-eta", args.sigma_eta), ("--data-seed", args.data_seed),
                                         ("--mnist", args.mnist)) if value is not None]
        if used:
            raise BadInput(f"{used[0]}: a dataset option; it needs --dataset (or leave it out with --mixing)")
        k = 2 if args.k is None else args.k
        if args.mixing == "paper" and 1 <= k <= args.N:
            _check_memory(args.N, k)  # before paper_mixing allocates A
        A, name = load_mixing(args.mixing, args.N, k)
        if args.mixing != "paper":
            _check_memory(*A.shape, source=args.mixing)
        data, description = load_data(A, noise_var=args.noise_var, sigma_x=args.sigma_x)
        description["dataset"] = None
    _check_conditioning(data, args.mixing or args.dataset)
    sigma_y2 = positive_number(args.sigma_y2, "sigma_y2")
    outputs = _outputs(args)

    from betavae_sym.linear.sweep import sweep_problem

    problem = data_problem(data, fix_decoder=A if args.fix_decoder else None, sigma_y2=sigma_y2, seed=seed)
    warnings = []
    result = sweep_problem(problem, betas, seed=seed, progress=not args.no_progress, mixing=name,
                           data=description, warn=warnings.append)
    for line in warnings + [entry["reason"] for entry in result.ambiguous.values()]:
        sys.stderr.write(f"betavae-sym analytic: warning: {line}\n")
    for path in outputs:
        ensure_writable_dir(path.parent if str(path.parent) else Path("."), f"--{outputs[path]}")
    if args.json is not None:
        text = json.dumps(result.to_dict(), indent=2) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            atomic_write_text(Path(args.json), text)
    if args.csv is not None:
        atomic_write_text(Path(args.csv), _csv_text(result))
    if args.plot is not None:
        from betavae_sym.linear.figure import save_figure3

        save_figure3(result, Path(args.plot))
    (sys.stderr if args.json == "-" else sys.stdout).write(_table(result))
    if warnings:
        raise CheckFailed(f"{len(warnings)} beta value(s) did not converge; see the warnings above")
    return 0
