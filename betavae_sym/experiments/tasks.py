"""Tasks of a sweep, their ids and seeds, the process's dataset, and running one task.

A sweep (:class:`~betavae_sym.experiments.settings.SweepSettings`) trains the
deep beta-VAE on one synthetic dataset for every beta of a grid and every
realization index r = 0..R-1. A *task* is one (dataset settings, training
settings, beta, r); it trains one network and returns its metrics. Its seed is
derived from those alone::

    task_seed = first 8 bytes (big-endian) of SHA-256(canonical JSON {"dataset", "training", "beta", "realization"})

with the ``dataset`` and ``training`` sections in their JSON form
(:meth:`~betavae_sym.specs.Spec.to_json`), and training runs
``train(dataset, beta, realizations=[0], seed=task_seed)`` (so the network's
weights come from ``default_rng([task_seed, 0, 0])`` and its minibatches and
noise from ``[task_seed, 0, 1]``), the metrics' latent samples from
``default_rng([task_seed, 0, 2])``. Each task runs with one BLAS thread and one
Python thread, so the same task gives the same numbers on any executor and in
any order. Canonical JSON: :func:`~betavae_sym.experiments.settings.canonical_json`.

The ``sampling`` field of the dataset settings names how the dataset draws its
samples (``data.synthetic.SAMPLING``): a store made by a version that drew them
otherwise holds other data for the same seed, and is refused as made with
other settings instead of being resumed.
"""

from __future__ import annotations

import io
import socket
import time
from dataclasses import dataclass

import numpy as np

from betavae_sym.data.synthetic import DatasetSpec, SyntheticDataset, build_dataset
from betavae_sym.experiments.settings import SweepSettings, TrainingSpec, sha256_hex


@dataclass(frozen=True)
class Task:
    """One network to train and evaluate.

    Attributes
    ----------
    settings : SweepSettings
        The sweep's settings; the task uses its dataset, training and metrics sections.
    beta : float
    realization : int
    save_params : bool
        Return the trained parameters too (for latent traversals).
    """

    settings: SweepSettings
    beta: float
    realization: int
    save_params: bool = False

    @property
    def identity(self) -> dict:
        return {"dataset": self.settings.dataset.to_json(), "training": self.settings.training.to_json(),
                "beta": float(self.beta), "realization": int(self.realization)}

    @property
    def task_id(self) -> str:
        """SHA-256 (hex) of the task's identity."""
        return sha256_hex(self.identity)

    @property
    def seed(self) -> int:
        """The task seed: the first 8 bytes of the task id, as an unsigned integer."""
        return int(self.task_id[:16], 16)


def make_tasks(settings: SweepSettings, save_params_realization: int | None = 0) -> list[Task]:
    """The tasks of a sweep, beta-major: (beta_0, r=0), (beta_0, r=1), ..."""
    return [Task(settings, beta, r, save_params=(r == save_params_realization))
            for beta in settings.betas for r in range(settings.realizations)]


class DatasetCache:
    """The dataset of one :class:`~betavae_sym.data.synthetic.DatasetSpec`, kept for the life of the process.

    A sweep uses one dataset; building it takes seconds (loading the embedded
    MNIST), so it is built once per process, or received from the parent
    (:meth:`put`) and not built at all. Asking for another spec replaces it.
    """

    def __init__(self) -> None:
        self._spec: DatasetSpec | None = None
        self._dataset: SyntheticDataset | None = None

    def get(self, spec: DatasetSpec) -> SyntheticDataset:
        """The dataset of ``spec``: the one held if it is that spec's, else built (deterministic) and held."""
        if spec != self._spec:
            self.put(spec, build_dataset(spec))
        return self._dataset

    def put(self, spec: DatasetSpec, dataset: SyntheticDataset) -> None:
        """Hold ``dataset``, built elsewhere from ``spec``."""
        self._spec, self._dataset = spec, dataset


#: This process's dataset (the parent's, or a worker's received from it).
DATASET_CACHE = DatasetCache()


def preload_dataset(settings: SweepSettings, dataset: SyntheticDataset) -> None:
    """Give this process the dataset of ``settings``, built by the parent (a worker's initializer calls this).

    Building is deterministic, so the numbers are the same as if the worker had built it.
    """
    DATASET_CACHE.put(settings.dataset, dataset)


def architecture_of(training: TrainingSpec, N: int):
    """The network of ``training`` for inputs of size ``N`` (BadInput when the sizes do not fit, or when
    training one network, its parameters, gradients and Adam's two moments, would not fit in memory)."""
    from betavae_sym.deep.model import Architecture
    from betavae_sym.validate import memory

    architecture = Architecture(N=N, k=training.latent, encoder_hidden=training.encoder_hidden,
                                decoder_hidden=training.decoder_hidden)
    widest = max(("encoder_hidden", "decoder_hidden"), key=lambda name: max(getattr(training, name), default=0))
    memory(4 * architecture.n_params() * np.dtype(training.dtype).itemsize, widest, getattr(training, widest),
           what=" for one network")
    return architecture


def run_task(task: Task, dataset: SyntheticDataset | None = None) -> dict:
    """Train and evaluate one task; the result is what the store records (JSON-ready, plus ``params`` bytes).

    ``dataset``: the task's dataset if the caller has it (else this process's, :data:`DATASET_CACHE`).

    A diverged training gives ``status = "diverged"`` with the message and no
    metrics (a numerical failure is never reported as a number).
    """
    from threadpoolctl import threadpool_limits

    from betavae_sym import __version__
    from betavae_sym.deep.train import TrainingDiverged, train
    from betavae_sym.experiments.metrics import MetricsFailed, evaluate

    training, metrics_settings = task.settings.training, task.settings.metrics
    result = {"task_id": task.task_id, "beta": task.beta, "realization": task.realization,
              "seed": str(task.seed), "version": __version__, "host": socket.gethostname(),
              "status": "done", "message": None, "metrics": None, "params": None,
              "train_seconds": None, "eval_seconds": None, "final_loss": None}
    with threadpool_limits(1, user_api="blas"):
        if dataset is None:
            dataset = DATASET_CACHE.get(task.settings.dataset)
        architecture = architecture_of(training, dataset.N)
        try:
            trained = train(dataset, task.beta, epochs=training.epochs, realizations=[0],
                            batch_size=training.batch_size, seed=task.seed, lr=training.lr,
                            dtype=np.dtype(training.dtype), architecture=architecture, threads=1)
        except TrainingDiverged as exc:  # the task's network is realization 0 of its own seed
            result.update(status="diverged", message=f"training diverged at epoch {exc.diverged[0]}: loss or "
                                                     "parameters NaN or inf; try a smaller --lr")
            return result
        start = time.perf_counter()
        try:
            metrics = evaluate(trained.model, dataset, task.beta, samples=metrics_settings.samples,
                               iwae_samples=metrics_settings.iwae_samples, seed=[task.seed, 0, 2])
        except MetricsFailed as exc:  # a network whose code or output is not finite: no metric is a number
            result.update(status="diverged", message=f"evaluation failed (beta = {task.beta:g}, realization "
                                                     f"{task.realization}): {exc}")
            return result
        result.update(metrics=metrics, train_seconds=trained.seconds, eval_seconds=time.perf_counter() - start,
                      final_loss=float(trained.history[-1, 0]))
    if task.save_params:
        buffer = io.BytesIO()
        np.savez(buffer, **{key: value[0] for key, value in trained.model.params.items()})
        result["params"] = buffer.getvalue()
    return result


def load_params(training: TrainingSpec, blob: bytes, N: int, seed: int = 0):
    """A one-realization BetaVAE from a ``params`` blob written by :func:`run_task`."""
    from betavae_sym.deep.model import BetaVAE

    model = BetaVAE(architecture_of(training, N), [0], seed=seed, dtype=np.dtype(training.dtype))
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        model.set_params({key: data[key][None] for key in data.files})
    return model
