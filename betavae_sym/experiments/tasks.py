"""Tasks of a sweep, their ids and seeds, the process's data, and running one task.

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

What a task is scored on (:class:`SweepData`, :func:`run_task`): the network
trains on rows ``0 .. n - 1`` of the dataset's seed and is scored on the
``heldout`` rows after them (``metrics.heldout``; the same generative process
and seed, standardized by the training rows' fit; no task trains on them),
and again on its first ``min(n, heldout)`` training rows (the paper's view;
the same latent draws, so the difference is not sampling noise). The record
(:data:`RECORD_METRICS`): the held-out metrics by the names of
:func:`~betavae_sym.experiments.metrics.evaluate`, the training-row ones
prefixed ``train_``, ``generalization_gap = train_elbo - elbo`` (nats per
example), and for mixed digits the exact linear optimum at the task's beta on
the same held-out rows, ``theory_*`` (:mod:`betavae_sym.experiments.theory`),
with ``reference_angle_deg`` the angle between the network's latent axes and
that optimum's. The positioned digit's rows carry its positions, for the
``p_*`` metrics.

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
from typing import TYPE_CHECKING

import numpy as np

from betavae_sym.data.synthetic import DataSplit, DatasetSpec, build_split
from betavae_sym.experiments.metrics import SCALAR_METRICS
from betavae_sym.experiments.settings import SweepSettings, TrainingSpec, sha256_hex

if TYPE_CHECKING:
    from betavae_sym.data.synthetic import SyntheticDataset
    from betavae_sym.experiments.theory import DatasetTheory

#: The theory's values stored per task (mixed digits), ``theory_<name>``.
THEORY_METRICS = tuple(f"theory_{name}" for name in ("elbo", "tie", "tie_rotation", "mie", "recon", "kl",
                                                     "rotation_angle_deg"))
#: The scalars of a task's record, in the order of summaries: held-out metrics, training-row metrics,
#: the generalization gap, the theory on the held-out rows (mixed digits only).
RECORD_METRICS = (*SCALAR_METRICS, *(f"train_{name}" for name in SCALAR_METRICS), "generalization_gap",
                  *THEORY_METRICS)


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


@dataclass(frozen=True, eq=False)
class SweepData:
    """What every task of a sweep trains and is scored on.

    Attributes
    ----------
    split : DataSplit
        The training rows and the held-out rows (:func:`~betavae_sym.data.synthetic.build_split`).
    heldout : int
        ``metrics.heldout``; the training-row view is the first ``min(n, heldout)`` training rows.
    theory : DatasetTheory or None
        The exact linear theory for the data as fed to the network (mixed digits), None for the positioned digit.
    """

    split: DataSplit
    heldout: int
    theory: DatasetTheory | None

    @classmethod
    def build(cls, dataset: DatasetSpec, heldout: int) -> SweepData:
        """Build the rows (seconds: the embedded MNIST) and, for mixed digits, the theory (an eigendecomposition)."""
        from betavae_sym.experiments.theory import DatasetTheory

        split = build_split(dataset, heldout)
        return cls(split=split, heldout=heldout,
                   theory=DatasetTheory.of(split.train) if dataset.dataset == "mixed-digits" else None)

    @property
    def train_view(self) -> SyntheticDataset:
        """The training rows the training-row metrics are computed on."""
        return self.split.train_view(self.heldout)


class SweepDataCache:
    """The :class:`SweepData` of one (dataset settings, held-out rows), kept for the life of the process.

    A sweep uses one; building it takes seconds, so it is built once per
    process, or received from the parent (:meth:`put`) and not built at all.
    Asking for other settings replaces it.
    """

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._data: SweepData | None = None

    def get(self, spec: DatasetSpec, heldout: int) -> SweepData:
        """The data of ``spec`` with ``heldout`` rows: the one held if it is theirs, else built (deterministic)."""
        if (spec, heldout) != self._key:
            self.put(spec, heldout, SweepData.build(spec, heldout))
        return self._data

    def put(self, spec: DatasetSpec, heldout: int, data: SweepData) -> None:
        """Hold ``data``, built elsewhere from ``spec`` and ``heldout``."""
        self._key, self._data = (spec, heldout), data


#: This process's sweep data (the parent's, or a worker's received from it).
SWEEP_DATA = SweepDataCache()


def sweep_data(settings: SweepSettings) -> SweepData:
    """The :class:`SweepData` of ``settings`` (this process's, built on first use)."""
    return SWEEP_DATA.get(settings.dataset, settings.metrics.heldout)


def preload_dataset(settings: SweepSettings, data: SweepData) -> None:
    """Give this process the data of ``settings``, built by the parent (a worker's initializer calls this).

    Building is deterministic, so the numbers are the same as if the worker had built it.
    """
    SWEEP_DATA.put(settings.dataset, settings.metrics.heldout, data)


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


def run_task(task: Task, data: SweepData | None = None) -> dict:
    """Train and evaluate one task; the result is what the store records (JSON-ready, plus ``params`` bytes).

    ``data``: the task's :class:`SweepData` if the caller has it (else this process's, :func:`sweep_data`).
    ``metrics`` is the record of the module docstring (:data:`RECORD_METRICS`, ``kl_units``, the
    held-out ``alignment``, ``rotation``, ``estimators``, ``decoded_points``, and ``undefined``: the reason
    of every null, training-row ones prefixed ``train_``).

    A diverged training gives ``status = "diverged"`` with the message and no
    metrics (a numerical failure is never reported as a number).
    """
    from threadpoolctl import threadpool_limits

    from betavae_sym import __version__
    from betavae_sym.deep.train import TrainingDiverged, train
    from betavae_sym.experiments.metrics import MetricsFailed

    training = task.settings.training
    result = {"task_id": task.task_id, "beta": task.beta, "realization": task.realization,
              "seed": str(task.seed), "version": __version__, "host": socket.gethostname(),
              "status": "done", "message": None, "metrics": None, "params": None,
              "train_seconds": None, "eval_seconds": None, "final_loss": None}
    with threadpool_limits(1, user_api="blas"):
        if data is None:
            data = sweep_data(task.settings)
        dataset = data.split.train
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
            metrics = score(trained.model, task, data)
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


def score(model, task: Task, data: SweepData) -> dict:
    """The metrics record of a trained one-realization ``model`` (module docstring; :func:`run_task`).

    Both views use the latent draws of ``default_rng([task_seed, 0, 2])``. MetricsFailed as ``evaluate``.
    """
    from betavae_sym.experiments.metrics import evaluate
    from betavae_sym.experiments.theory import theory_code, theory_on_rows

    options = dict(samples=task.settings.metrics.samples, iwae_samples=task.settings.metrics.iwae_samples,
                   seed=[task.seed, 0, 2])
    heldout, train_view = data.split.heldout, data.train_view
    theory, references, undefined = {}, {"heldout": None, "train": None}, {}
    if data.theory is not None and task.beta > 0:
        optimum = data.theory.optimum([task.beta])
        theory = {f"theory_{name}": value for name, value in theory_on_rows(optimum, heldout)[0].items()}
        references = {view: theory_code(optimum, rows.X)[0][0] for view, rows in (("heldout", heldout),
                                                                                 ("train", train_view))}
    elif data.theory is not None:
        theory = dict.fromkeys(THEORY_METRICS)
        undefined.update(dict.fromkeys(THEORY_METRICS, "the linear theory needs beta > 0"))
    metrics = evaluate(model, heldout, task.beta, reference_mean=references["heldout"],
                       positions=heldout.params.get("p"), **options)
    train = evaluate(model, train_view, task.beta, reference_mean=references["train"],
                     positions=train_view.params.get("p"), **options)
    undefined.update(metrics["undefined"])
    undefined.update({f"train_{name}": reason for name, reason in train["undefined"].items()})
    return {**metrics, **{f"train_{name}": train[name] for name in SCALAR_METRICS},
            "generalization_gap": train["elbo"] - metrics["elbo"], **theory, "undefined": undefined}


def load_params(training: TrainingSpec, blob: bytes, N: int, seed: int = 0):
    """A one-realization BetaVAE from a ``params`` blob written by :func:`run_task`."""
    from betavae_sym.deep.model import BetaVAE

    model = BetaVAE(architecture_of(training, N), [0], seed=seed, dtype=np.dtype(training.dtype))
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        model.set_params({key: data[key][None] for key in data.files})
    return model
