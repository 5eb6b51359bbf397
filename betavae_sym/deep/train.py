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
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from betavae_sym.deep.model import Architecture, BetaVAE
from betavae_sym.deep.optim import Adam
from betavae_sym.errors import BadInput, CheckFailed
from betavae_sym.fileio import atomic_write_files, check_writable_file
from betavae_sym.validate import count, memory, positive_number


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
            "NaN or inf; it is left out of the results (try a smaller learning rate)")


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
        >= 0.
    lr : float
        Adam learning rate.
    dtype : numpy dtype
        float32 (training) or float64 (checks).
    progress : bool
        Show a tqdm progress bar with the current loss on stderr.
    architecture : Architecture, optional
        Default: the paper's, with N = dataset width and k = 2.
    threads : int, optional
        Python threads, each with single-threaded BLAS: with R > 1, each
        trains a contiguous share of the realizations; with R = 1, they share
        the largest matrix products. Default: ``os.cpu_count()``. The numbers do
        not depend on it (BLAS computes each element alike; tested).
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
        Bad parameters (naming the parameter), data with NaN/inf, or a size
        that would not fit in memory.
    TrainingDiverged
        Every realization diverged (the message names each with its epoch);
        when only some do, they are listed in ``TrainResult.diverged``.
    """
    X_all = _training_data(dataset)
    n, N = X_all.shape
    epochs = count(epochs, "epochs")
    batch_size = count(batch_size, "batch_size")
    beta = positive_number(beta, "beta", allow_zero=True)
    seed = count(seed, "seed", minimum=0)
    lr = positive_number(lr, "lr", hint="e.g. 1e-3")
    architecture = architecture or Architecture(N=N)
    if architecture.N != N:
        raise BadInput(f"N = {architecture.N} but the data have {N} columns", parameter="architecture")
    R = count(realizations, "realizations") if isinstance(realizations, (int, np.integer)) else len(realizations)
    architecture.check_memory(R, dtype, buffers=4)  # parameters, gradients, Adam's two moments
    memory(3 * epochs * R * 8, "epochs", epochs, what=" for the per-epoch histories")
    ids = _realization_ids(realizations)
    threads = count(os.cpu_count() or 1 if threads is None else threads, "threads")
    stack = _Stack.start(architecture, ids, seed, dtype, threads, lr, kernels, n)
    X = np.ascontiguousarray(X_all, dtype=stack.model.dtype)
    history = np.zeros((3, epochs, len(ids)))  # -L_beta, reconstruction, KL: epoch averages, column per realization
    diverged: dict[int, int] = {}
    with _progress_bar(progress, epochs, f"beta={beta:g} R={len(ids)}") as bar:
        start = time.perf_counter()
        try:
            with _blas_limited(stack.model.threads > 1):
                for epoch in range(epochs):
                    _train_epoch(stack, X, beta, batch_size, history[:, epoch], diverged, epoch + 1)
                    bar(history[0, epoch, stack.columns].mean())
        finally:
            stack.model.close()
        seconds = time.perf_counter() - start
    _drop_nonfinite_parameters(stack, diverged, epochs, beta)
    config = {
        "beta": beta, "epochs": epochs, "realization_ids": stack.model.realization_ids, "batch_size": batch_size,
        "seed": seed, "lr": lr, "dtype": stack.model.dtype.name, "n": n, "architecture": architecture.to_dict(),
        "loss_convention": "-L_beta per example in nats: N/2 log(2 pi) + |x - decoder(z)|^2/2 + beta KL",
        "diverged": [{"realization": r, "epoch": e} for r, e in sorted(diverged.items())],
    }
    if hasattr(dataset, "describe"):
        config["dataset"] = dataset.describe()
    loss, reconstruction, kl = history[:, :, stack.columns]
    return TrainResult(model=stack.model, history=loss, reconstruction_history=reconstruction, kl_history=kl,
                       seconds=seconds, config=config, diverged=diverged)


def train_sweep_task(dataset, beta: float, *, epochs: int, seed: int = 0, batch_size: int = 100, lr: float = 1e-3,
                     dtype=np.float32, architecture: Architecture | None = None, kernels: str = "auto") -> TrainResult:
    """One network trained the way a sweep trains each of its tasks ("sweep mode").

    Realization 0 of ``seed`` (as ``experiments.tasks.run_task`` trains it),
    one Python thread and one BLAS thread: a sweep runs one such training per
    worker process, one process per core, so that N cores train N networks side
    by side with no thread waiting for another. The sweep's throughput on C
    cores is the sum of ``examples_per_second`` of C such processes run at once.
    Parameters as in :func:`train`.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        return train(dataset, beta, epochs=epochs, realizations=[0], batch_size=batch_size, seed=seed, lr=lr,
                     dtype=dtype, architecture=architecture, threads=1, kernels=kernels)


def _training_data(dataset) -> np.ndarray:
    X = np.asarray(getattr(dataset, "X", dataset))
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise BadInput(f"shape {X.shape}, expected (n, N) with n, N >= 1", parameter="dataset")
    if not np.issubdtype(X.dtype, np.number) or not np.all(np.isfinite(X)):
        raise BadInput("contains NaN or inf (or is not numeric); clean the data before training", parameter="dataset")
    return X


def _realization_ids(realizations) -> list[int]:
    """``R`` -> ``[0, ..., R-1]``; a list of distinct indices >= 0 as it is."""
    if isinstance(realizations, (int, np.integer)):
        return list(range(count(realizations, "realizations")))
    ids = [count(r, "realizations", minimum=0) for r in realizations]
    if not ids or len(set(ids)) != len(ids):
        raise BadInput(f"{realizations!r} must be a positive count or distinct indices >= 0", parameter="realizations")
    return ids


@dataclass
class _Stack:
    """The realizations still training and what follows them when some are dropped.

    ``rngs[i]`` draws realization i's minibatch order and noise; ``columns[i]``
    is its column in the histories; ``order: (R, n)`` the epoch's minibatch order.
    """

    model: BetaVAE
    optimizer: Adam
    rngs: list[np.random.Generator]
    columns: np.ndarray
    order: np.ndarray

    @classmethod
    def start(cls, architecture, ids, seed, dtype, threads, lr, kernels, n) -> _Stack:
        model = BetaVAE(architecture, ids, seed=seed, dtype=dtype, threads=threads, kernels=kernels)
        return cls(model=model, optimizer=Adam(model.flat_params, model.flat_grads, lr=lr, kernels=kernels),
                   rngs=[np.random.default_rng([seed, r, 1]) for r in ids], columns=np.arange(len(ids)),
                   order=np.empty((len(ids), n), dtype=np.intp))

    def shuffle(self) -> None:
        """Draw this epoch's minibatch order of every realization."""
        for i, rng in enumerate(self.rngs):
            self.order[i] = rng.permutation(self.order.shape[1])

    def minibatch(self, X: np.ndarray, lo: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """``x: (R, B, N)``, the rows ``order[:, lo:lo + batch_size]`` of X, and the noise ``eps: (R, B, k)``."""
        model = self.model
        index = self.order[:, lo : lo + batch_size]
        x = model.buffers.get("x", (*index.shape, X.shape[1]), model.dtype)
        np.take(X, index, axis=0, out=x)
        eps = model.buffers.get("eps", (*index.shape, model.architecture.k), model.dtype)
        for i, rng in enumerate(self.rngs):
            rng.standard_normal(out=eps[i], dtype=model.dtype)
        return x, eps

    def keep(self, positions: list[int]) -> None:
        """Go on with the realizations at ``positions`` only (parameters, gradients and Adam's state carried)."""
        self.model.close()
        model = self.model.subset(positions)
        self.optimizer = self.optimizer.subset(model.flat_params, model.flat_grads, self.model.subset_index(positions))
        self.model, self.rngs = model, [self.rngs[i] for i in positions]
        self.columns, self.order = self.columns[positions], self.order[positions]

    def drop(self, keep: list[int], diverged: dict[int, int], epoch: int, beta: float) -> None:
        """Record the realizations not in ``keep`` as diverged at ``epoch`` and go on without them.

        Raises :class:`TrainingDiverged` when none is left.
        """
        ids = self.model.realization_ids
        diverged.update((ids[i], epoch) for i in range(len(ids)) if i not in keep)
        if not keep:
            raise TrainingDiverged(_all_diverged(diverged, beta), diverged)
        self.keep(keep)


def _train_epoch(stack: _Stack, X: np.ndarray, beta: float, batch_size: int, history: np.ndarray,
                 diverged: dict[int, int], epoch: int) -> None:
    """One pass over X of every realization; adds the epoch averages to ``history: (3, R_all)``.

    A realization whose loss is not finite is dropped from ``stack`` before its
    update and recorded in ``diverged`` with ``epoch``.
    """
    n = X.shape[0]
    stack.shuffle()
    for lo in range(0, n, batch_size):
        x, eps = stack.minibatch(X, lo, batch_size)
        losses = stack.model.forward(x, eps, beta)
        finite = np.isfinite(losses[0])
        if not finite.all():
            stack.drop(np.flatnonzero(finite).tolist(), diverged, epoch, beta)
            x, eps = x[finite], eps[finite]
            losses = stack.model.forward(x, eps, beta)  # the same numbers, on the smaller stack
        stack.model.backward(stack.optimizer)  # gradients and the Adam step, layer by layer
        history[:, stack.columns] += np.array(losses) * (x.shape[1] / n)


def _drop_nonfinite_parameters(stack: _Stack, diverged: dict[int, int], epochs: int, beta: float) -> None:
    """Drop the realizations whose parameters are not all finite after training (diverged at the last epoch)."""
    model = stack.model
    finite = np.all([np.isfinite(value).reshape(model.R, -1).all(axis=1) for value in model.params.values()], axis=0)
    if not finite.all():
        stack.drop(np.flatnonzero(finite).tolist(), diverged, epochs, beta)


@contextmanager
def _blas_limited(single_threaded: bool):
    """One BLAS thread while Python threads share the work (restored afterwards)."""
    if not single_threaded:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        yield


@contextmanager
def _progress_bar(show: bool, epochs: int, description: str):
    """``update(loss)`` after each epoch: a tqdm bar on stderr when ``show``, else nothing."""
    if not show:
        yield lambda loss: None
        return
    from tqdm import tqdm

    with tqdm(total=epochs, desc=description, unit="epoch", dynamic_ncols=True) as bar:
        def update(loss: float) -> None:
            bar.set_postfix(loss=f"{loss:.4g}")
            bar.update(1)

        yield update


def _all_diverged(diverged: dict[int, int], beta: float) -> str:
    where = ", ".join(f"realization {r} at epoch {e}" for r, e in sorted(diverged.items()))
    return f"training diverged: loss or parameters NaN or inf in every realization ({where}; beta {beta:g}); " \
           "try a smaller learning rate"


def check_save_path(path: str | Path) -> Path:
    """``path`` if a model can be saved there: it ends in ``.npz``, and it and its ``.json`` sidecar can be written.

    Raises BadInput naming the parameter ``save``; creates nothing.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise BadInput(f"'{path}' does not end in .npz; give e.g. model.npz", parameter="save")
    check_writable_file(path, "save")
    check_writable_file(path.with_suffix(".json"), "save")
    return path


def save_result(path: str | Path, result: TrainResult, standardization=None) -> Path:
    """Save the parameters as .npz (no pickle) and the configuration as a JSON sidecar, both or neither.

    The .npz holds every parameter (``enc1.W``: (R, n_in, n_out), ...), ``history``
    (epochs, R), and, when given, ``standardization.mean`` / ``standardization.std``.
    The sidecar is ``path`` with the suffix ``.json``. Returns the sidecar path.
    """
    path = check_save_path(path)
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
    atomic_write_files({path: buffer.getvalue(), sidecar: (json.dumps(config, indent=2) + "\n").encode("utf-8")})
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
        raise BadInput(f"cannot load the model '{path}' ({exc}); give a .npz saved by 'betavae-sym train'",
                       parameter="path") from None
    arch = config["architecture"]
    architecture = Architecture(N=arch["N"], k=arch["k"], encoder_hidden=tuple(arch["encoder_hidden"]),
                                decoder_hidden=tuple(arch["decoder_hidden"]))
    model = BetaVAE(architecture, config["realization_ids"], seed=config["seed"], dtype=config["dtype"])
    model.set_params({key: value for key, value in arrays.items() if key in model.params})
    return model, config
