"""Train R realizations of the deep beta-VAE together (paper, "Training Details").

Adam (lr 1e-3) on minibatches, minimizing ``-L_beta`` averaged over the
minibatch with one reparameterized sample per example (see ``model``). Each
epoch visits every example once, in an order shuffled per realization; a last
partial minibatch is used as it is.

Seeding: realization r uses ``default_rng([seed, r, 0])`` for its initial
weights and ``default_rng([seed, r, 1])`` for its minibatch order (one
permutation per epoch) and its reparameterization noise (one draw of shape
(B, k) per step, after that epoch's permutation). Nothing depends on which or
how many other realizations are stacked with it: realization r trained alone
gives the same parameters as realization r in a stacked run.

Divergence is per realization: a realization whose loss becomes NaN or inf (or
whose parameters do, checked at the end) stops there. It is dropped from the
stack (the others go on, unchanged: they never see its numbers), recorded in
``TrainResult.diverged`` with its epoch, and none of its numbers are reported.
When every realization diverges, :class:`TrainingDiverged` is raised.
"""

from __future__ import annotations

import io
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from betavae_sym.deep.model import Architecture, BetaVAE
from betavae_sym.deep.optim import Adam
from betavae_sym.errors import BadInput, CheckFailed
from betavae_sym.validate import count, positive_number


class TrainingDiverged(CheckFailed):
    """Every realization diverged; the message names each with its epoch.

    Attributes
    ----------
    diverged : dict of int -> int
        Realization index -> epoch (1-based) at which it diverged.
    """

    def __init__(self, message: str, diverged: dict[int, int]):
        super().__init__(message)
        self.diverged = diverged


def divergence_line(realization: int, epoch: int, beta: float) -> str:
    """One line telling that ``realization`` diverged at ``epoch``."""
    return (f"realization {realization} diverged at epoch {epoch} (beta {beta:g}): its loss or parameters became "
            "NaN or inf; it is left out of the results (try a smaller --lr)")


@dataclass
class TrainResult:
    """The trained realizations and how training went.

    Attributes
    ----------
    model : BetaVAE
        R trained realizations (``model.realization_ids``).
    history : ndarray, (epochs, R)
        Per epoch and realization, ``-L_beta`` averaged over the epoch's examples (nats).
        R counts the realizations that finished (``model.realization_ids``).
    reconstruction_history, kl_history : ndarray, (epochs, R)
        The epoch averages of the one-sample ``log N(x; decoder(z), I)`` and of the exact KL.
    seconds : float
        Wall-clock training time.
    config : dict
        Everything needed to reproduce the run (JSON-ready); ``realization_ids``
        are those of ``model``, ``diverged`` lists ``{"realization", "epoch"}``
        of the others.
    diverged : dict of int -> int
        The realizations that diverged -> the epoch (1-based) at which they did;
        they are not in ``model`` nor in the histories.
    """

    model: BetaVAE
    history: np.ndarray
    reconstruction_history: np.ndarray
    kl_history: np.ndarray
    seconds: float
    config: dict = field(default_factory=dict)
    diverged: dict[int, int] = field(default_factory=dict)

    @property
    def examples_per_second(self) -> float:
        """Training throughput, counting the examples of each realization that finished."""
        return self.config["epochs"] * self.config["n"] * self.model.R / self.seconds if self.seconds > 0 else math.inf


def _training_data(dataset) -> np.ndarray:
    X = np.asarray(getattr(dataset, "X", dataset))
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise BadInput(f"data: shape {X.shape}, expected (n, N) with n, N >= 1")
    if not np.issubdtype(X.dtype, np.number) or not np.all(np.isfinite(X)):
        raise BadInput("data: contains NaN or inf (or is not numeric); clean the data before training")
    return X


def train(
    dataset,
    beta: float,
    *,
    epochs: int,
    realizations: int | list[int] = 1,
    batch_size: int = 100,
    seed: int = 0,
    lr: float = 1e-3,
    dtype=np.float32,
    progress: bool = False,
    architecture: Architecture | None = None,
    threads: int | None = None,
    kernels: str = "auto",
) -> TrainResult:
    """Train R realizations of the beta-VAE on ``dataset.X``.

    Parameters
    ----------
    dataset : SyntheticDataset or ndarray (n, N)
        Training inputs ``X`` (the dataset's, standardized if it was).
    beta : float
        Weight of the KL term, beta >= 0.
    epochs : int
    realizations : int or list of int
        R (realizations 0..R-1) or the realization indices to train.
    batch_size : int
    seed : int
    lr : float
        Adam learning rate.
    dtype : numpy dtype
        float32 (training) or float64 (checks).
    progress : bool
        Show a tqdm progress bar with the current loss on stderr.
    architecture : Architecture, optional
        Default: the paper's, with N = dataset width and k = 2.
    threads : int, optional
        Python threads. With R > 1, each trains a contiguous share of the
        realizations with single-threaded BLAS; with R = 1, BLAS keeps its
        default threading. Default: ``min(R, os.cpu_count())``. The numbers do
        not depend on it (up to BLAS rounding).
    kernels : str
        The element-wise kernels (Adam, tanh's backward): ``"auto"`` (compiled
        with numba when it is installed), ``"numpy"`` or ``"numba"``; the
        numbers do not depend on it (see ``kernels``).

    Returns
    -------
    TrainResult

    Raises
    ------
    BadInput
        Bad parameters or data with NaN/inf.
    TrainingDiverged
        Every realization diverged (the message names each with its epoch);
        when only some do, they are listed in ``TrainResult.diverged``.
    """
    X_all = _training_data(dataset)
    n, N = X_all.shape
    epochs = count(epochs, "epochs")
    batch_size = count(batch_size, "batch_size")
    beta = positive_number(beta, "beta", allow_zero=True)
    ids = list(range(count(realizations, "realizations"))) if isinstance(realizations, (int, np.integer)) else [int(r) for r in realizations]
    if not ids or len(set(ids)) != len(ids) or min(ids) < 0:
        raise BadInput(f"{realizations!r} must be a positive count or distinct indices >= 0", parameter="realizations")
    architecture = architecture or Architecture(N=N)
    if architecture.N != N:
        raise BadInput(f"architecture: N = {architecture.N} but the data have {N} columns")
    if threads is None:
        cores = os.cpu_count() or 1
        threads = min(len(ids), cores)
    threads = count(threads, "threads")
    model = BetaVAE(architecture, ids, seed=seed, dtype=dtype, threads=threads, kernels=kernels)
    optimizer = Adam(model.flat_params, model.flat_grads, lr=lr, kernels=kernels)
    X = np.ascontiguousarray(X_all, dtype=model.dtype)
    k = architecture.k
    rngs = [np.random.default_rng([seed, r, 1]) for r in ids]
    history = np.zeros((epochs, len(ids)))
    rec_history = np.zeros((epochs, len(ids)))
    kl_history = np.zeros((epochs, len(ids)))
    columns = np.arange(len(ids))  # the history column of each realization in the model
    diverged: dict[int, int] = {}
    order = np.empty((len(ids), n), dtype=np.intp)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=epochs, desc=f"beta={beta:g} R={len(ids)}", unit="epoch", dynamic_ncols=True)
    blas_limits = None
    if len(model.shards) > 1:  # one BLAS thread per Python thread, restored below
        from threadpoolctl import threadpool_limits

        blas_limits = threadpool_limits(1, user_api="blas")
    start = time.perf_counter()
    try:
        for epoch in range(epochs):
            for i, rng in enumerate(rngs):
                order[i] = rng.permutation(n)
            for lo in range(0, n, batch_size):
                index = order[:, lo : lo + batch_size]  # (R, B)
                R, B = index.shape
                x = model.buffers.get("x", (R, B, N), model.dtype)
                np.take(X, index, axis=0, out=x)
                eps = model.buffers.get("eps", (R, B, k), model.dtype)
                for i, rng in enumerate(rngs):
                    rng.standard_normal(out=eps[i], dtype=model.dtype)
                loss, rec, kl = model.forward(x, eps, beta)
                finite = np.isfinite(loss)
                if not finite.all():  # drop the diverged realizations before their update
                    keep = np.flatnonzero(finite).tolist()
                    diverged.update((model.realization_ids[i], epoch + 1) for i in np.flatnonzero(~finite))
                    if not keep:
                        raise TrainingDiverged(_all_diverged(diverged, beta), diverged)
                    model, optimizer = _subset(model, optimizer, keep)
                    rngs, columns, order = [rngs[i] for i in keep], columns[keep], order[keep]
                    x, eps = x[keep], eps[keep]
                    loss, rec, kl = model.forward(x, eps, beta)  # the same numbers, on the smaller stack
                model.backward(optimizer)  # gradients and the Adam step, layer by layer
                history[epoch, columns] += loss * (B / n)
                rec_history[epoch, columns] += rec * (B / n)
                kl_history[epoch, columns] += kl * (B / n)
            if bar is not None:
                bar.set_postfix(loss=f"{history[epoch, columns].mean():.4g}")
                bar.update(1)
    finally:
        if blas_limits is not None:
            blas_limits.restore_original_limits()
        model.close()
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start
    finite = np.all([np.isfinite(value).reshape(model.R, -1).all(axis=1) for value in model.params.values()], axis=0)
    if not finite.all():
        diverged.update((model.realization_ids[i], epochs) for i in np.flatnonzero(~finite))
        if not finite.any():
            raise TrainingDiverged(_all_diverged(diverged, beta), diverged)
        keep = np.flatnonzero(finite).tolist()
        model, columns = model.subset(keep), columns[keep]
    config = {
        "beta": float(beta), "epochs": epochs, "realization_ids": model.realization_ids, "batch_size": batch_size,
        "seed": seed, "lr": float(lr), "dtype": model.dtype.name, "n": n, "architecture": architecture.to_dict(),
        "loss_convention": "-L_beta per example in nats: N/2 log(2 pi) + |x - decoder(z)|^2/2 + beta KL",
        "diverged": [{"realization": r, "epoch": e} for r, e in sorted(diverged.items())],
    }
    if hasattr(dataset, "describe"):
        config["dataset"] = dataset.describe()
    return TrainResult(model=model, history=history[:, columns], reconstruction_history=rec_history[:, columns],
                       kl_history=kl_history[:, columns], seconds=seconds, config=config, diverged=diverged)


def _subset(model: BetaVAE, optimizer: Adam, keep: list[int]) -> tuple[BetaVAE, Adam]:
    """The model and its optimizer reduced to the realizations at positions ``keep`` (state and gradients carried)."""
    model.close()
    smaller = model.subset(keep)
    return smaller, optimizer.subset(smaller.flat_params, smaller.flat_grads, model.subset_index(keep))


def _all_diverged(diverged: dict[int, int], beta: float) -> str:
    where = ", ".join(f"realization {r} at epoch {e}" for r, e in sorted(diverged.items()))
    return f"training diverged: loss or parameters NaN or inf in every realization ({where}; beta {beta:g}); " \
           "try a smaller --lr"


def save_result(path: str | Path, result: TrainResult, standardization=None) -> Path:
    """Save the parameters as .npz (no pickle) and the configuration as a JSON sidecar.

    The .npz holds every parameter (``enc1.W``: (R, n_in, n_out), ...), ``history``
    (epochs, R), and, when given, ``standardization.mean`` / ``standardization.std``.
    The sidecar is ``path`` with the suffix ``.json``. Returns the sidecar path.
    """
    from betavae_sym.fileio import atomic_write_bytes, atomic_write_text

    path = Path(path)
    arrays = {key: np.asarray(value) for key, value in result.model.params.items()}
    arrays["history"] = result.history
    arrays["reconstruction_history"] = result.reconstruction_history
    arrays["kl_history"] = result.kl_history
    if standardization is not None:
        arrays["standardization.mean"] = standardization.mean
        arrays["standardization.std"] = standardization.std
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    sidecar = path.with_suffix(".json")
    config = {**result.config, "seconds": result.seconds, "final_loss": result.history[-1].tolist()}
    atomic_write_bytes(path, buffer.getvalue())
    atomic_write_text(sidecar, json.dumps(config, indent=2) + "\n")
    return sidecar


def load_model(path: str | Path) -> tuple[BetaVAE, dict]:
    """Load a model saved by :func:`save_result`: ``(BetaVAE, config)``."""
    path = Path(path)
    sidecar = path.with_suffix(".json")
    try:
        config = json.loads(sidecar.read_text())
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path}: cannot load the model ({exc}); give a .npz saved by 'betavae-sym train'") from None
    arch = config["architecture"]
    architecture = Architecture(N=arch["N"], k=arch["k"], encoder_hidden=tuple(arch["encoder_hidden"]),
                                decoder_hidden=tuple(arch["decoder_hidden"]))
    model = BetaVAE(architecture, config["realization_ids"], seed=config["seed"], dtype=config["dtype"])
    model.set_params({key: value for key, value in arrays.items() if key in model.params})
    return model, config
