"""Layers stacked over R realizations, each with ``forward``, ``backward`` and a cache.

Every array carries a leading realization axis R: R independently initialized
networks are evaluated together with batched matrix products (``np.matmul`` on
(R, B, n_in) @ (R, n_in, n_out) calls one BLAS GEMM per realization), so
realization r never sees another's numbers.

Parameters and their gradients live in two dicts with the same keys
(``params["W"]``, ``grads["W"]``). They are views into the model's flat buffers
(see ``model.BetaVAE``): ``backward`` writes gradients in place with ``out=``,
and the optimizer updates the flat buffer in one sweep.

Outputs are written into per-layer buffers that are reused from call to call
(no allocation in the training loop): a layer's output stays valid until that
layer's next ``forward``.
"""

from __future__ import annotations

import numpy as np

from betavae_sym.deep.kernels import NUMPY, Kernels

ALL = slice(None)


class Buffers:
    """Reusable output arrays, one per name, reallocated only when the shape changes."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        array = self._arrays.get(name)
        if array is None or array.shape != shape or array.dtype != dtype:
            array = self._arrays[name] = np.empty(shape, dtype=dtype)
        return array


class Dense:
    """Affine layer ``y = x W + b``, stacked over realizations.

    Shapes: ``W: (R, n_in, n_out)``, ``b: (R, 1, n_out)``, ``x: (R, B, n_in)``,
    ``y: (R, B, n_out)``.

    Backward (for a scalar loss L, ``dy = dL/dy``)::

        dW = x^T dy,   db = sum_B dy,   dx = dy W^T

    ``input_grad=False`` skips ``dx`` (the first layer: the data need no gradient).
    ``name`` is the layer's name in the model (``"enc1"``, parameters ``enc1.W``, ``enc1.b``).
    After :meth:`split`, the products are computed in pieces by several threads.
    """

    def __init__(self, name: str, W: np.ndarray, b: np.ndarray, dW: np.ndarray, db: np.ndarray,
                 input_grad: bool = True):
        self.name = name
        self.params = {"W": W, "b": b}
        self.grads = {"W": dW, "b": db}
        self.input_grad = input_grad
        self.cache: dict[str, np.ndarray] = {}
        self.buffers = Buffers()
        self.run, self.pieces = None, 1

    def split(self, run, pieces: int) -> None:
        """Compute the products in ``pieces`` pieces, the calls run side by side by ``run(calls)``.

        ``y`` and ``dx`` by rows of the minibatch, ``dW`` by rows of W: each
        element is the same dot product as in the whole product, and BLAS
        computes it alike (tested on the paper's shapes: equal bit for bit).
        """
        self.run, self.pieces = run, pieces

    def _in_pieces(self, compute, sizes: tuple[int, ...]) -> None:
        """``compute(*slices)`` once per piece, run side by side: ``slices[j]`` is the piece's part of ``range(sizes[j])``."""
        bounds = [np.linspace(0, size, self.pieces + 1).round().astype(int).tolist() for size in sizes]
        self.run([lambda i=i: compute(*(slice(b[i], b[i + 1]) for b in bounds)) for i in range(self.pieces)])

    def forward(self, x: np.ndarray) -> np.ndarray:
        W = self.params["W"]
        y = self.buffers.get("y", x.shape[:-1] + W.shape[-1:], W.dtype)
        if self.run is None:
            self._affine(x, y, ALL)
        else:
            self._in_pieces(lambda rows: self._affine(x, y, rows), (x.shape[1],))
        self.cache["x"] = x
        return y

    def _affine(self, x: np.ndarray, y: np.ndarray, rows: slice) -> None:
        """Rows ``rows`` of the minibatch: ``y = x W + b``."""
        np.matmul(x[:, rows], self.params["W"], out=y[:, rows])  # y = x W
        y[:, rows] += self.params["b"]  # y = x W + b

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        x = self.cache["x"]
        dx = self.buffers.get("dx", x.shape, x.dtype) if self.input_grad else None
        if self.run is None:
            self._products(x, dy, dx, ALL, ALL)
        else:
            self._in_pieces(lambda inputs, rows: self._products(x, dy, dx, inputs, rows), (x.shape[2], x.shape[1]))
        np.add.reduce(dy, axis=1, keepdims=True, out=self.grads["b"])  # db = sum over the batch
        return dx

    def _products(self, x: np.ndarray, dy: np.ndarray, dx: np.ndarray | None, inputs: slice, rows: slice) -> None:
        """Rows ``inputs`` of ``dW = x^T dy``, and rows ``rows`` of the minibatch of ``dx = dy W^T``."""
        np.matmul(x[:, :, inputs].transpose(0, 2, 1), dy, out=self.grads["W"][:, inputs])  # dW = x^T dy
        if dx is not None:
            np.matmul(dy[:, rows], self.params["W"].transpose(0, 2, 1), out=dx[:, rows])  # dx = dy W^T


class Tanh:
    """``h = tanh(a)``, computed in place on ``a`` (the preceding Dense's output).

    Backward: ``da = dh (1 - h^2)``, computed in place on ``dh`` by the
    ``tanh_backward`` kernel of ``kernels`` (see ``kernels.py``).
    """

    def __init__(self, kernels: Kernels = NUMPY) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.cache: dict[str, np.ndarray] = {}
        self.kernels = kernels

    def forward(self, a: np.ndarray) -> np.ndarray:
        h = np.tanh(a, out=a)  # h = tanh(a)
        self.cache["h"] = h
        return h

    def backward(self, dh: np.ndarray) -> np.ndarray:
        self.kernels.tanh_backward(dh, self.cache["h"])  # da = dh (1 - h^2)
        return dh


class Reparameterization:
    """``z = mu + sigma eps`` with ``sigma = exp(logvar / 2)``, and the KL of q(z|x) to the prior (Eq. 66).

    Shapes: ``mu, logvar, eps, z: (R, B, k)``; ``kl: (R, B)``::

        KL = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)

    Backward of ``loss = mean_B [... + beta KL]`` given ``dz = dloss/dz``::

        dmu = dz + beta/B mu,   dlogvar = dz eps sigma / 2 + beta/B (sigma^2 - 1) / 2
    """

    def __init__(self) -> None:
        self.cache: dict[str, np.ndarray] = {}

    def forward(self, mu: np.ndarray, logvar: np.ndarray, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sigma = np.exp(0.5 * logvar)  # sigma = exp(logvar / 2)
        z = mu + sigma * eps
        var = sigma * sigma  # sigma^2 = exp(logvar)
        kl = 0.5 * np.sum(mu * mu + var - 1.0 - logvar, axis=2)  # Eq. 66
        self.cache.update(mu=mu, sigma=sigma, var=var, eps=eps)
        return z, kl

    def backward(self, dz: np.ndarray, beta: float) -> tuple[np.ndarray, np.ndarray]:
        mu, sigma, var, eps = (self.cache[key] for key in ("mu", "sigma", "var", "eps"))
        B = mu.shape[1]
        dmu = dz + (beta / B) * mu
        dlogvar = dz * eps * (0.5 * sigma) + (0.5 * beta / B) * (var - 1.0)
        return dmu, dlogvar
