"""Adam (Kingma & Ba, 2014) over one flat parameter buffer.

Update at step t (all element-wise)::

    m <- beta1 m + (1 - beta1) g
    v <- beta2 v + (1 - beta2) g^2
    theta <- theta - lr * m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)

computed as ``theta -= lr_t m / (sqrt(v) + eps_t)`` with ``lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)``
and ``eps_t = eps sqrt(1 - beta2^t)`` (the same number, algebraically), on rescaled
moments (see :meth:`Adam.step`) so that one update is ten element-wise passes.

The parameters of all stacked realizations sit in one buffer: one sweep updates
them all. The sweep goes in chunks of 2^17 elements, which threads can share
(measured on the paper's network: smaller, cache-sized chunks were slower, the
Python overhead of the extra calls outweighing the cache reuse; larger ones no
faster).
"""

from __future__ import annotations

import math
import threading

import numpy as np

from betavae_sym.errors import BadInput


class Adam:
    """Adam on ``params`` (flat, updated in place) with gradients in ``grads`` (flat, same shape).

    Parameters
    ----------
    params, grads : ndarray, (P,)
    lr : float
        Learning rate (paper: 1e-3).
    beta1, beta2, eps : float
        Kingma & Ba's defaults 0.9, 0.999, 1e-8.
    chunk : int
        Elements per sweep chunk (a performance knob; results do not depend on it).

    ``step`` uses ``grads`` as scratch space: after a step it no longer holds the gradient.
    ``m`` and ``v`` hold the rescaled moments ``m / (1 - beta1)`` and ``v / (1 - beta2)``.
    """

    def __init__(self, params: np.ndarray, grads: np.ndarray, lr: float = 1e-3, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8, chunk: int = 1 << 17):
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise BadInput(f"--lr: learning rate {lr!r} must be a finite positive number, e.g. 1e-3")
        self.params, self.grads = params, grads
        self.lr, self.beta1, self.beta2, self.eps = float(lr), beta1, beta2, eps
        self.m = np.zeros_like(params)
        self.v = np.zeros_like(params)
        self.t = 0
        self.chunk = int(chunk)

    def subset(self, params: np.ndarray, grads: np.ndarray, index: np.ndarray) -> Adam:
        """This optimizer on other buffers ``params, grads``, its moments carried over as ``m[index], v[index]``."""
        smaller = Adam(params, grads, lr=self.lr, beta1=self.beta1, beta2=self.beta2, eps=self.eps, chunk=self.chunk)
        smaller.m[...] = self.m[index]
        smaller.v[...] = self.v[index]
        smaller.t = self.t
        return smaller

    def step(self, run=None, workers: int = 1) -> None:
        """One Adam update of ``params`` from the current ``grads``.

        Stores ``m' = m / (1 - beta1)`` and ``v' = v / (1 - beta2)`` so that each
        moment update is two passes (``m' = beta1 m' + g``, ``v' = beta2 v' + g^2``);
        the constants are folded into the step: ``theta -= c m' / (sqrt(v') + e)``
        with ``c = lr_t (1 - beta1) / sqrt(1 - beta2)``, ``e = eps_t / sqrt(1 - beta2)``.
        The gradient buffer is used as scratch (it is overwritten by the next backward).

        ``run``, when given, runs a list of ``workers`` zero-argument calls (in
        threads); they share the chunks of the sweep, each taking the next one
        left when it is free (a late or busy thread takes fewer).
        """
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        correction2 = math.sqrt(1.0 - b2**self.t)
        lr_t = self.lr * correction2 / (1.0 - b1**self.t)
        eps_t = self.eps * correction2
        c = lr_t * (1.0 - b1) / math.sqrt(1.0 - b2)
        e = eps_t / math.sqrt(1.0 - b2)

        starts = iter(range(0, self.params.size, self.chunk))
        lock = threading.Lock()

        def sweep() -> None:
            while True:
                with lock:
                    start = next(starts, None)
                if start is None:
                    return
                stop = min(start + self.chunk, self.params.size)
                p, g = self.params[start:stop], self.grads[start:stop]
                m, v = self.m[start:stop], self.v[start:stop]
                m *= b1
                m += g  # m' = b1 m' + g
                v *= b2
                np.multiply(g, g, out=g)
                v += g  # v' = b2 v' + g^2
                np.sqrt(v, out=g)
                g += e
                np.divide(m, g, out=g)
                g *= c
                p -= g  # theta -= c m' / (sqrt(v') + e)

        if run is None or workers < 2:
            sweep()
        else:
            run([sweep] * workers)
