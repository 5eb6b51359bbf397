"""The settings of a deep beta sweep, as frozen dataclasses; presets; the settings hash.

A sweep trains the deep beta-VAE on one synthetic dataset for every beta of a
grid and every realization r = 0..R-1 (:mod:`betavae_sym.experiments.tasks`).
:class:`SweepSettings` holds everything it needs:

``dataset`` (:class:`~betavae_sym.data.synthetic.DatasetSpec`), ``training`` (:class:`TrainingSpec`), ``metrics`` (:class:`MetricsSpec`)
    What each task trains on, how, and how it is scored. Together they are the
    identity of a results store (:meth:`SweepSettings.identity`, JSON)::

        {"dataset":  {"dataset", "n", "standardize", "k", "digit_classes", "digit_indices",
                      "sigma_eta", "scale", "data_seed", "mnist", "sampling"},
         "training": {"epochs", "batch_size", "lr", "dtype", "encoder_hidden", "decoder_hidden", "latent"},
         "metrics":  {"samples", "iwae_samples", "heldout"}}

    and :func:`settings_hash` of that document names the store: a store made
    with other settings is refused instead of being mixed.
``betas``, ``realizations``
    The grid. Not part of the identity: a store grows when they do.

Every field is validated when a settings object is made (BadInput naming the
field, which is the option's Python name: the command line reports its flag).
From Python, a preset with overrides, by the options' names::

    >>> quick = SweepSettings.preset("quick", dataset="mixed-digits", epochs=30)
    >>> quick.training.epochs, quick.realizations, quick.betas[:3]
    (30, 3, (0.25, 0.5, 1.0))
    >>> quick.with_options(betas=[1, 2]).betas
    (1.0, 2.0)

Adding a setting: a field with a default, and its check in ``__post_init__``,
in the section it belongs to. It then joins the JSON form, the identity (a
store made without it has another hash and is refused, never mixed), the
options of :meth:`SweepSettings.preset` and :meth:`SweepSettings.with_options`,
and, given an option of ``simulate`` with the field's name as ``dest``, the
command line (``experiments/commands.py`` passes every option whose ``dest`` is
a setting). A field of ``dataset`` or ``training`` also changes the task ids
and seeds (:mod:`betavae_sym.experiments.tasks`); one of ``metrics`` does not.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

import numpy as np

from betavae_sym.data.synthetic import DATASETS, DatasetSpec
from betavae_sym.errors import BadInput
from betavae_sym.specs import Spec, check_keys
from betavae_sym.validate import choice, count, positive_number

#: Presets: the options that ``SweepSettings.preset`` (``simulate --preset``) fills in; explicit options win.
#: ``by_dataset`` (:data:`BY_DATASET`) gives the options that differ for one dataset.
#:
#: ``quick``: both datasets, simulate + summarize + every figure, in at most 5
#: minutes on 2 cores (measured: see the README). The paper's network and
#: optimizer, but 500 examples, 60 epochs (300 Adam steps), 3 realizations,
#: 100 latent samples for the metrics; the curves show the trends, not the
#: paper's converged values; 500 held-out rows (the positioned digit's exact
#: scoring costs about 7 s per 1000 rows).
#:
#: ``decide``: sized by the power analysis of the README to decide the deep
#: claims in about 30 minutes on 2 cores: 20,000 training rows and 10 epochs
#: (2,000 Adam steps; enough data that the held-out ELBO is not set by
#: memorization), the grid 0.25 ... 4 (neighbours of beta = 1 within a factor of
#: 2 on both sides, and the edges an optimum must beat), 2,000 held-out rows,
#: 12 realizations per beta on mixed digits (a task takes ~20 s) and 5 on the
#: positioned digit (~45 s: its exact scoring is the dearer part), whose claims
#: rest on larger differences.
#:
#: ``paper``: the paper's protocol ("Training Details"): 1000 examples, 1000
#: epochs, Adam 1e-3, tanh, 1000 latent samples for the reconstruction
#: ("Calculation of Objective Terms"). Realizations: the methods text says 300
#: per beta, Figure 4's caption 100; the figures are what we reproduce, so 100
#: (``--realizations 300`` for the other reading: 3x the cost). The paper does
#: not give its beta grid; we use 13 values log-spaced over two decades,
#: beta = 10^(-1 + j/6), j = 0..12 (0.1 ... 10), which puts beta = 1 (the ELBO's
#: predicted maximum, Prop. 3) on the grid with six values on either side.
#: A preset's key whose value maps a dataset to the options that differ for it.
BY_DATASET = "by_dataset"

PRESETS: dict[str, dict] = {
    "quick": {
        "betas": [0.25, 0.5, 1.0, 2.0, 4.0, 8.0],
        "realizations": 3,
        "n": 500,
        "epochs": 60,
        "batch_size": 100,
        "samples": 100,
        "iwae_samples": 100,
        "heldout": 500,
    },
    "decide": {
        "betas": [0.25, 0.5, 1.0, 2.0, 4.0],
        "realizations": 12,
        "n": 20000,
        "epochs": 10,
        "batch_size": 100,
        "samples": 100,
        "iwae_samples": 100,
        "by_dataset": {"positioned-digit": {"realizations": 5}},
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
    """The canonical JSON text of ``document``: sorted keys, no spaces, floats by their shortest repr."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)


def sha256_hex(document) -> str:
    """SHA-256 (hex) of the canonical JSON of ``document``."""
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


def settings_hash(identity: dict) -> str:
    """The hash that names a results store: SHA-256 (hex) of the canonical JSON of the settings' identity."""
    return sha256_hex(identity)


@dataclass(frozen=True)
class TrainingSpec(Spec):
    """How each network is trained: the ``training`` section of the sweep settings.

    Attributes
    ----------
    epochs : int
        Passes over the dataset (paper: 1000).
    batch_size : int
    lr : float
        Adam learning rate (paper: 1e-3).
    dtype : {"float32", "float64"}
    encoder_hidden, decoder_hidden : tuple of int
        Hidden layer sizes (the paper's: 256, 200, 200 and 200, 200, 256).
    latent : int
        Latent units (a sweep uses k, the number of sources).
    """

    epochs: int
    batch_size: int = 100
    lr: float = 1e-3
    dtype: str = "float32"
    encoder_hidden: tuple[int, ...] = (256, 200, 200)
    decoder_hidden: tuple[int, ...] = (200, 200, 256)
    latent: int = 2

    def __post_init__(self) -> None:
        self._normalize("epochs", count(self.epochs, "epochs"))
        self._normalize("batch_size", count(self.batch_size, "batch_size"))
        self._normalize("lr", positive_number(self.lr, "lr"))
        choice(self.dtype, "dtype", ("float32", "float64"))
        for name in ("encoder_hidden", "decoder_hidden"):
            sizes = getattr(self, name)
            if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
                raise BadInput(f"{sizes!r} is not a list of layer sizes, e.g. (256, 200, 200)", parameter=name)
            self._normalize(name, tuple(count(size, name) for size in sizes))
        self._normalize("latent", count(self.latent, "latent"))


@dataclass(frozen=True)
class MetricsSpec(Spec):
    """How each trained network is scored: the ``metrics`` section of the sweep settings.

    Attributes
    ----------
    samples : int
        Latent samples per example for the reconstruction term (paper: 1000).
    iwae_samples : int
        Importance samples K of the log-likelihood bound (default: ``samples``).
    heldout : int
        Held-out rows every network is scored on: rows ``n .. n + heldout - 1`` of the dataset's seed, which
        no task trains on (:func:`~betavae_sym.data.synthetic.build_split`). The training-row view (the
        paper's) scores the first ``min(n, heldout)`` training rows.
    """

    samples: int = 1000
    iwae_samples: int | None = None
    heldout: int = 2000

    def __post_init__(self) -> None:
        self._normalize("samples", count(self.samples, "samples"))
        self._normalize("iwae_samples", self.samples if self.iwae_samples is None
                        else count(self.iwae_samples, "iwae_samples"))
        self._normalize("heldout", count(self.heldout, "heldout"))


#: The sections of the settings and their specs; a flat option belongs to the section that has a field by its name.
SECTIONS: dict[str, type[Spec]] = {"dataset": DatasetSpec, "training": TrainingSpec, "metrics": MetricsSpec}
#: The grid: options of the sweep itself.
GRID = ("betas", "realizations")


@dataclass(frozen=True)
class SweepSettings(Spec):
    """Everything a deep beta sweep needs (see the module docstring).

    Attributes
    ----------
    dataset : DatasetSpec
    training : TrainingSpec
    metrics : MetricsSpec
    betas : tuple of float
        The beta grid, sorted, without repeats; each finite and >= 0.
    realizations : int
        Networks per beta, r = 0..R-1.

    Make one with :meth:`preset` (a preset and options by name), change it with
    :meth:`with_options`; :meth:`to_json` / :meth:`from_json` write and read it.
    """

    dataset: DatasetSpec
    training: TrainingSpec
    metrics: MetricsSpec
    betas: tuple[float, ...]
    realizations: int

    def __post_init__(self) -> None:
        for name, spec in SECTIONS.items():
            if not isinstance(getattr(self, name), spec):
                raise BadInput(f"{getattr(self, name)!r} is not a {spec.__name__}", parameter=name)
        betas = self.betas
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__iter__"):
            raise BadInput(f"{betas!r} is not a list of numbers (command-line text: argtypes.parse_betas)",
                           parameter="betas")
        betas = tuple(sorted({positive_number(beta, "betas", allow_zero=True) for beta in betas}))
        if not betas:
            raise BadInput("the beta list is empty; give e.g. [0.5, 1, 2]", parameter="betas")
        self._normalize("betas", betas)
        self._normalize("realizations", count(self.realizations, "realizations"))

    @classmethod
    def preset(cls, name: str | None, **options) -> SweepSettings:
        """The settings of preset ``name`` (:data:`PRESETS`; None: no preset), ``options`` overriding it.

        ``options`` are the options of ``simulate`` by their Python names
        (:meth:`option_names`): ``dataset`` (required), the other fields of
        :class:`~betavae_sym.data.synthetic.DatasetSpec`, of :class:`TrainingSpec`
        and :class:`MetricsSpec`, ``betas`` (a list of numbers) and
        ``realizations``. Without a preset, ``betas``, ``realizations`` and
        ``epochs`` are required; ``latent`` defaults to ``k`` and ``iwae_samples``
        to ``samples``. BadInput on an unknown preset or option, a missing one, or a bad value.
        """
        if name is not None:
            choice(name, "preset", tuple(PRESETS))
        values = dict(PRESETS.get(name, {}))
        by_dataset = values.pop(BY_DATASET, {}).get(options.get("dataset"), {})
        return cls._from_options({**values, **by_dataset, **options})

    def with_options(self, **options) -> SweepSettings:
        """A copy with ``options`` (by name, as in :meth:`preset`) replaced, validated.

        ``latent`` follows a new ``k`` unless given; everything else keeps its value.
        """
        check_keys(options, self.option_names(), complete=False)
        current = self.options()
        if "k" in options:
            current.pop("latent")
        return self._from_options({**current, **options})

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """The names of the flat options: the fields of the three sections, then ``betas``, ``realizations``."""
        return tuple(field.name for spec in SECTIONS.values() for field in dataclasses.fields(spec)) + GRID

    def options(self) -> dict:
        """The flat options that make these settings again with :meth:`preset` (``preset(None, **options())``)."""
        flat = {field.name: getattr(getattr(self, section), field.name)
                for section, spec in SECTIONS.items() for field in dataclasses.fields(spec)}
        return {**flat, "betas": self.betas, "realizations": self.realizations}

    @classmethod
    def _from_options(cls, options: dict) -> SweepSettings:
        check_keys(options, cls.option_names(), complete=False)
        for required in ("dataset", "epochs", *GRID):
            if required not in options:
                raise BadInput("not given; give it, or choose a preset", parameter=required)
        options = {"latent": options.get("k", DatasetSpec.k), **options}
        sections = {section: spec(**{field.name: options[field.name] for field in dataclasses.fields(spec)
                                     if field.name in options})
                    for section, spec in SECTIONS.items()}
        return cls(**sections, betas=options["betas"], realizations=options["realizations"])

    def identity(self) -> dict:
        """The settings that a results store records and is known by: ``{"dataset", "training", "metrics"}``."""
        return {section: getattr(self, section).to_json() for section in SECTIONS}

    @property
    def settings_hash(self) -> str:
        """:func:`settings_hash` of :meth:`identity`: the name of the store these settings fill."""
        return settings_hash(self.identity())

    @classmethod
    def from_json(cls, document: dict) -> SweepSettings:
        """The settings of a :meth:`to_json` document (BadInput on unknown, missing or invalid values)."""
        check_keys(document, [*SECTIONS, *GRID])
        return cls(**{section: spec.from_json(document[section]) for section, spec in SECTIONS.items()},
                   betas=document["betas"], realizations=document["realizations"])


def preset_sweeps(name: str | None, datasets=DATASETS, **options) -> list[SweepSettings]:
    """One :class:`SweepSettings` per dataset: preset ``name`` with ``options`` overriding it (all checked first).

    >>> [s.dataset.dataset for s in preset_sweeps("quick", epochs=5)]
    ['mixed-digits', 'positioned-digit']
    """
    return [SweepSettings.preset(name, dataset=dataset, **options) for dataset in datasets]
