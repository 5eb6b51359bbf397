"""Sweep settings, presets, tasks and their seeds, and running one task.

A sweep trains the deep beta-VAE on one synthetic dataset for every beta of a
grid and every realization index r = 0..R-1. A *task* is one (dataset
settings, training settings, beta, r); it trains one network and returns its
metrics. Its seed is derived from those alone::

    task_seed = first 8 bytes (big-endian) of SHA-256(canonical JSON {"dataset", "training", "beta", "realization"})

and training runs ``train(dataset, beta, realizations=[0], seed=task_seed)``
(so the network's weights come from ``default_rng([task_seed, 0, 0])`` and its
minibatches and noise from ``[task_seed, 0, 1]``), the metrics' latent samples
from ``default_rng([task_seed, 0, 2])``. Each task runs with one BLAS thread
and one Python thread, so the same task gives the same numbers on any executor
and in any order. Canonical JSON: ``json.dumps(..., sort_keys=True,
separators=(",", ":"))``, floats by their shortest repr.

Settings (JSON, the identity of a results store; see :func:`settings_hash`)::

    {"dataset":  {"dataset", "n", "standardize", "k", "digit_classes", "digit_indices",
                  "sigma_eta", "scale", "data_seed", "mnist", "sampling"},
     "training": {"epochs", "batch_size", "lr", "dtype", "encoder_hidden", "decoder_hidden", "latent"},
     "metrics":  {"samples", "iwae_samples"}}

``sampling`` names how the dataset draws its samples (``data.synthetic.SAMPLING``): a
store made by a version that drew them otherwise holds other data for the same
seed, and is refused as made with other settings instead of being resumed.
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
import time
from dataclasses import dataclass

import numpy as np

#: Presets: settings that ``simulate --preset`` fills in (explicit options win).
#:
#: ``quick``: both datasets, simulate + summarize + every figure, in at most 5
#: minutes on 2 cores (measured: see the README). The paper's network and
#: optimizer, but 500 examples, 60 epochs (300 Adam steps), 3 realizations,
#: 100 latent samples for the metrics; the curves show the trends, not the
#: paper's converged values.
#:
#: ``paper``: the paper's protocol ("Training Details"): 1000 examples, 1000
#: epochs, Adam 1e-3, tanh, 1000 latent samples for the reconstruction
#: ("Calculation of Objective Terms"). Realizations: the methods text says 300
#: per beta, Figure 4's caption 100; the figures are what we reproduce, so 100
#: (``--realizations 300`` for the other reading: 3x the cost). The paper does
#: not give its beta grid; we use 13 values log-spaced over two decades,
#: beta = 10^(-1 + j/6), j = 0..12 (0.1 ... 10), which puts beta = 1 (the ELBO's
#: predicted maximum, Prop. 3) on the grid with six values on either side.
PRESETS: dict[str, dict] = {
    "quick": {
        "betas": [0.25, 0.5, 1.0, 2.0, 4.0, 8.0],
        "realizations": 3,
        "n": 500,
        "epochs": 60,
        "batch_size": 100,
        "samples": 100,
        "iwae_samples": 100,
    },
    "paper": {
        "betas": [float(b) for b in np.logspace(-1.0, 1.0, 13)],
        "realizations": 100,
        "n": 1000,
        "epochs": 1000,
        "batch_size": 100,
        "samples": 1000,
        "iwae_samples": 1000,
    },
}


def canonical_json(document) -> str:
    """The canonical JSON text of ``document`` (sorted keys, no spaces)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)


def sha256_hex(document) -> str:
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


def settings_hash(settings: dict) -> str:
    """SHA-256 (hex) of the canonical JSON of the settings."""
    return sha256_hex(settings)


@dataclass(frozen=True)
class Task:
    """One network to train and evaluate.

    Attributes
    ----------
    settings : dict
        The sweep settings (JSON-ready, see module docstring).
    beta : float
    realization : int
    save_params : bool
        Return the trained parameters too (for latent traversals).
    """

    settings: dict
    beta: float
    realization: int
    save_params: bool = False

    @property
    def identity(self) -> dict:
        return {"dataset": self.settings["dataset"], "training": self.settings["training"],
                "beta": float(self.beta), "realization": int(self.realization)}

    @property
    def task_id(self) -> str:
        """SHA-256 (hex) of the task's identity."""
        return sha256_hex(self.identity)

    @property
    def seed(self) -> int:
        """The task seed: the first 8 bytes of the task id, as an unsigned integer."""
        return int(self.task_id[:16], 16)


def make_tasks(settings: dict, betas, realizations: int, save_params_realization: int | None = 0) -> list[Task]:
    """Tasks of a sweep, beta-major: (beta_0, r=0), (beta_0, r=1), ..."""
    return [Task(settings, float(beta), r, save_params=(r == save_params_realization))
            for beta in betas for r in range(realizations)]


#: Datasets built or received by this process, by the canonical JSON of their settings.
_DATASETS: dict[str, object] = {}


def build_sweep_dataset(settings: dict):
    """The dataset of the settings (built once per process, deterministic; see :func:`preload_dataset`)."""
    import argparse

    from betavae_sym.data.commands import build_dataset

    key = canonical_json(settings["dataset"])
    if key not in _DATASETS:
        options = settings["dataset"]
        _DATASETS.clear()
        _DATASETS[key] = build_dataset(argparse.Namespace(**options), n=options["n"],
                                       standardize=options["standardize"])
    return _DATASETS[key]


def preload_dataset(settings: dict, dataset) -> None:
    """Give this process the dataset of ``settings`` (built elsewhere by :func:`build_sweep_dataset`).

    Workers receive the parent's dataset once instead of rebuilding it (loading
    the embedded MNIST takes seconds); building is deterministic, so the numbers are the same.
    """
    _DATASETS.clear()
    _DATASETS[canonical_json(settings["dataset"])] = dataset


def architecture_of(settings: dict, N: int):
    from betavae_sym.deep.model import Architecture

    training = settings["training"]
    return Architecture(N=N, k=training["latent"], encoder_hidden=tuple(training["encoder_hidden"]),
                        decoder_hidden=tuple(training["decoder_hidden"]))


def run_task(task: Task, dataset=None) -> dict:
    """Train and evaluate one task; the result is what the store records (JSON-ready, plus ``params`` bytes).

    ``dataset``: the task's dataset if the caller has it (else built, once per process).

    A diverged training gives ``status = "diverged"`` with the message and no
    metrics (a numerical failure is never reported as a number).
    """
    from threadpoolctl import threadpool_limits

    from betavae_sym import __version__
    from betavae_sym.deep.train import TrainingDiverged, train
    from betavae_sym.experiments.metrics import MetricsFailed, evaluate

    training, metrics_settings = task.settings["training"], task.settings["metrics"]
    result = {"task_id": task.task_id, "beta": task.beta, "realization": task.realization,
              "seed": str(task.seed), "version": __version__, "host": socket.gethostname(),
              "status": "done", "message": None, "metrics": None, "params": None,
              "train_seconds": None, "eval_seconds": None, "final_loss": None}
    with threadpool_limits(1, user_api="blas"):
        if dataset is not None:
            preload_dataset(task.settings, dataset)
        dataset = build_sweep_dataset(task.settings)
        architecture = architecture_of(task.settings, dataset.N)
        try:
            trained = train(dataset, task.beta, epochs=training["epochs"], realizations=[0],
                            batch_size=training["batch_size"], seed=task.seed, lr=training["lr"],
                            dtype=np.dtype(training["dtype"]), architecture=architecture, threads=1)
        except TrainingDiverged as exc:  # the task's network is realization 0 of its own seed
            result.update(status="diverged", message=f"training diverged at epoch {exc.diverged[0]}: loss or "
                                                     "parameters NaN or inf; try a smaller --lr")
            return result
        start = time.perf_counter()
        try:
            metrics = evaluate(trained.model, dataset, task.beta, samples=metrics_settings["samples"],
                               iwae_samples=metrics_settings["iwae_samples"], seed=[task.seed, 0, 2])
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


def load_params(settings: dict, blob: bytes, N: int, seed: int = 0):
    """A one-realization BetaVAE from a ``params`` blob written by :func:`run_task`."""
    from betavae_sym.deep.model import BetaVAE

    model = BetaVAE(architecture_of(settings, N), [0], seed=seed, dtype=np.dtype(settings["training"]["dtype"]))
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        model.set_params({key: data[key][None] for key in data.files})
    return model
