"""Check the hand-written gradients against central finite differences (float64).

The objective is ``f(theta) = sum_r loss_r`` with ``loss_r = -L_beta`` of
realization r averaged over its minibatch (see ``model.BetaVAE.loss_and_grad``);
realization r's loss depends only on its own parameters, so df/dtheta_r is
realization r's gradient. The reparameterization noise eps is drawn once and
frozen, so f is a deterministic smooth function of the parameters.

For every parameter entry i: ``fd_i = (f(theta + h e_i) - f(theta - h e_i)) / 2h``.
The relative error of a parameter array P (e.g. ``enc1.W``) is
``max_i |g_i - fd_i| / max(max_i |g_i|, max_i |fd_i|)`` (max-norm relative error;
0 when both are exactly 0). The check passes when the worst array is below the
threshold (default 1e-6).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from betavae_sym.deep.model import Architecture, BetaVAE
from betavae_sym.validate import count, memory, positive_number


@dataclass
class GradcheckResult:
    """Outcome of :func:`gradcheck`."""

    architecture: Architecture
    relative_errors: dict[str, float]
    worst_parameter: str
    worst_relative_error: float
    threshold: float
    entries_checked: int
    passed: bool
    config: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"passed": self.passed, "worst_relative_error": self.worst_relative_error,
                "worst_parameter": self.worst_parameter, "threshold": self.threshold,
                "entries_checked": self.entries_checked, "architecture": self.architecture.to_dict(),
                "relative_errors": self.relative_errors, **self.config}


def gradcheck(
    architecture: Architecture,
    *,
    realizations: int = 2,
    batch_size: int = 3,
    beta: float = 1.5,
    seed: int = 0,
    step: float = 1e-5,
    threshold: float = 1e-6,
    max_entries: int | None = None,
) -> GradcheckResult:
    """Compare every parameter's hand-written gradient with central differences.

    Parameters
    ----------
    architecture : Architecture
    realizations, batch_size : int
        R and B of the random minibatch ``x ~ N(0, 1)``, shape (R, B, N).
    beta : float
    seed : int
        Seeds the weights (as in training) and ``default_rng([seed, 2])`` for x and eps.
    step : float
        Finite-difference step h.
    threshold : float
    max_entries : int, optional
        Check at most this many randomly chosen entries per parameter array, at
        least 1 (default: all of them).

    Raises
    ------
    BadInput
        A parameter out of its range (naming it), or a network too large for memory.
    """
    realizations, batch_size = count(realizations, "realizations"), count(batch_size, "batch_size")
    beta = positive_number(beta, "beta", allow_zero=True)
    seed = count(seed, "seed", minimum=0)
    step, threshold = positive_number(step, "step"), positive_number(threshold, "threshold")
    if max_entries is not None:
        max_entries = count(max_entries, "max_entries")
    architecture.check_memory(realizations, np.float64, buffers=3)  # parameters, gradients, their copy
    widths = architecture.N + sum(n_out for _, _, n_out in architecture.layers())  # the data and every layer's output
    memory(3 * 8 * realizations * batch_size * widths, "batch_size", batch_size,
           what=" for the minibatch and the activations (and their gradients)")
    model = BetaVAE(architecture, range(realizations), seed=seed, dtype=np.float64)
    rng = np.random.default_rng([seed, 2])
    # random biases too, so that their gradients are checked away from zero
    for key, value in model.params.items():
        if key.endswith(".b"):
            value[...] = 0.3 * rng.standard_normal(value.shape)
    x = rng.standard_normal((realizations, batch_size, architecture.N))
    eps = rng.standard_normal((realizations, batch_size, architecture.k))

    def objective() -> float:
        loss, _, _ = model.loss_and_grad(x, eps, beta)
        return float(loss.sum())

    objective()
    analytic = {key: value.copy() for key, value in model.grads.items()}
    errors: dict[str, float] = {}
    checked = 0
    for key, param in model.params.items():
        flat = param.reshape(-1)  # a view into the flat buffer
        indices = np.arange(flat.size)
        if max_entries is not None and flat.size > max_entries:
            indices = rng.choice(flat.size, size=max_entries, replace=False)
        g = analytic[key].reshape(-1)[indices]
        fd = np.empty(indices.size)
        for j, i in enumerate(indices):
            saved = flat[i]
            flat[i] = saved + step
            f_plus = objective()
            flat[i] = saved - step
            f_minus = objective()
            flat[i] = saved
            fd[j] = (f_plus - f_minus) / (2 * step)
        scale = max(np.abs(g).max(initial=0.0), np.abs(fd).max(initial=0.0))
        errors[key] = float(np.abs(g - fd).max(initial=0.0) / scale) if scale > 0 else 0.0
        checked += indices.size
    worst = max(errors, key=errors.get)
    return GradcheckResult(
        architecture=architecture, relative_errors=errors, worst_parameter=worst,
        worst_relative_error=errors[worst], threshold=threshold, entries_checked=checked,
        passed=bool(errors[worst] < threshold),
        config={"realizations": realizations, "batch_size": batch_size, "beta": beta, "seed": seed, "step": step},
    )
