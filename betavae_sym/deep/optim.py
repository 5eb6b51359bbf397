"""Adam (Kingma & Ba, 2014) over one flat parameter buffer, updated whole or range by range.

Update at step t (all element-wise)::

    m <- beta1 m + (1 - beta1) g
    v <- beta2 v + (1 - beta2) g^2
    theta <- theta - lr * m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)

computed as ``theta -= lr_t m / (sqrt(v) + eps_t)`` with ``lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)``
and ``eps_t = eps sqrt(1 - beta2^t)`` (the same number, algebraically), on rescaled
moments (see :meth:`Adam.start_step`), by the ``adam`` kernel of ``kernels``.

The parameters of all stacked realizations sit in one buffer. A training step
calls :meth:`Adam.start_step` once, then :meth:`Adam.update` on ranges of the
buffer as the backward pass finishes each layer (``model.BetaVAE.backward``),
while that layer's gradient is still in cache; every element is updated once
per step, and its update does not depend on the ranges.
"""

from __future__ import annotations

import math

import numpy as np

from betavae_sym.deep.kernels import select
from betavae_sym.errors import BadInput
from betavae_sym.validate import positive_number


class Adam:
    """Adam on ``params`` (flat, updated in place) with gradients in ``grads`` (flat, same shape).

    Parameters
    ----------
    params, grads : ndarray, (P,)
    lr : float
        Learning rate (paper: 1e-3).
    beta1, beta2, eps : float
        Kingma & Ba's defaults 0.9, 0.999, 1e-8.
    kernels : str
        ``"auto"``, ``"numpy"`` or ``"numba"`` (see ``kernels.select``); the
        results do not depend on it.

    An update may use ``grads`` as scratch space: afterwards its range no longer holds the gradient.
    ``m`` and ``v`` hold the rescaled moments ``m / (1 - beta1)`` and ``v / (1 - beta2)``.
    """

    def __init__(self, params: np.ndarray, grads: np.ndarray, lr: float = 1e-3, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8, kernels: str = "auto"):
        self.lr = positive_number(lr, "lr", hint="e.g. 1e-3")
        if not self.lr * (1.0 - beta1) / math.sqrt(1.0 - beta2) < float(np.finfo(params.dtype).max):
            raise BadInput(f"{lr!r} is too large for {params.dtype} parameters (Adam's steps would overflow); "
                           "use e.g. 1e-3", parameter="lr")
        self.params, self.grads = params, grads
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.kernels = select(kernels)
        self.m = np.zeros_like(params)
        self.v = np.zeros_like(params)
        self.t = 0
        self._constants = None  # (b1, b2, c, e) of the current step, in the buffer's dtype

    def subset(self, params: np.ndarray, grads: np.ndarray, index: np.ndarray) -> Adam:
        """This optimizer on other buffers ``params, grads``, its moments carried over as ``m[index], v[index]``."""
        smaller = Adam(params, grads, lr=self.lr, beta1=self.beta1, beta2=self.beta2, eps=self.eps,
                       kernels=self.kernels.name)
        smaller.m[...] = self.m[index]
        smaller.v[...] = self.v[index]
        smaller.t = self.t
        return smaller

    def start_step(self) -> None:
        """Begin step t + 1: every element is then updated once by :meth:`update`.

        Stores ``m' = m / (1 - beta1)`` and ``v' = v / (1 - beta2)`` so that each
        moment update is ``m' = beta1 m' + g``, ``v' = beta2 v' + g^2``; the
        constants are folded into the step: ``theta -= c m' / (sqrt(v') + e)``
        with ``c = lr_t (1 - beta1) / sqrt(1 - beta2)``, ``e = eps_t / sqrt(1 - beta2)``.
        """
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        correction2 = math.sqrt(1.0 - b2**self.t)
        lr_t = self.lr * correction2 / (1.0 - b1**self.t)
        eps_t = self.eps * correction2
        scalar = self.params.dtype.type
        self._constants = (scalar(b1), scalar(b2), scalar(lr_t * (1.0 - b1) / math.sqrt(1.0 - b2)),
                           scalar(eps_t / math.sqrt(1.0 - b2)))

    def update(self, start: int, stop: int) -> None:
        """Update the elements ``start:stop`` of the buffer from their gradients (after :meth:`start_step`)."""
        self.kernels.adam(self.params[start:stop], self.grads[start:stop], self.m[start:stop], self.v[start:stop],
                          *self._constants)

    def step(self) -> None:
        """One whole Adam step of ``params`` from the current ``grads``."""
        self.start_step()
        self.update(0, self.params.size)
