"""The deep beta-VAE of the paper ("Model Architecture"), R realizations stacked.

Encoder ``x: N -> 256 -> 200 -> 200`` (tanh), then two linear heads ``mu_z: k``
and ``logvar_z = log sigma_z^2: k`` (the exponential variance activation
``sigma_z^2 = exp(logvar_z)``). Decoder ``z: k -> 200 -> 200 -> 256`` (tanh) and
a linear output ``N``: the mean of p(x|z) = N(x; decoder(z), I_N) (sigma_y^2 = 1,
as in the analytic model). Sizes are configurable (:class:`Architecture`).

Convention (all quantities in nats, normalizing constants included). Per example::

    L_beta = E_q[log N(x; decoder(z), I_N)] - beta KL(N(mu, diag sigma^2) || N(0, I_k))      (Eq. 13)
    log N(x; m, I_N) = -N/2 log(2 pi) - |x - m|^2 / 2
    KL = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)                                  (Eq. 66)

Training minimizes ``-L_beta`` averaged over the minibatch, with one
reparameterized sample ``z = mu + sigma * eps``, ``eps ~ N(0, I_k)``, per example.

Initialization (TensorFlow's Dense default, which the paper used): weights
Glorot-uniform ``U(-a, a)``, ``a = sqrt(6 / (n_in + n_out))``; biases zero. The
weights of realization ``r`` are drawn, layer by layer in the order of
:meth:`Architecture.layers` (W of shape (n_in, n_out), float64, then cast),
from ``numpy.random.default_rng([seed, r, 0])``: they do not depend on how
many realizations are stacked.

Parameter names: ``enc1.W, enc1.b, ..., mu.W, mu.b, logvar.W, logvar.b,
dec1.W, ..., out.W, out.b``; ``W: (R, n_in, n_out)``, ``b: (R, 1, n_out)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from betavae_sym.deep.kernels import NUMPY, Kernels, select
from betavae_sym.deep.layers import Buffers, Dense, Reparameterization, Tanh
from betavae_sym.errors import BadInput
from betavae_sym.validate import count, memory, readable_bytes

LOG_2PI = math.log(2.0 * math.pi)
# A one-realization model with several threads splits the products of the layers this large: in the
# paper's network the 1600 x 256 and 256 x 1600 layers, 82 % of the step's flops. Handing a piece to
# another thread costs 13-20 us here, a sixth of a 200 x 200 product (80 us), and under load the piece
# waits for a busy core; the smaller products stay whole.
SPLIT_MIN_WEIGHTS = 2**16


@dataclass(frozen=True)
class Architecture:
    """Layer sizes of the beta-VAE (defaults: the paper's)."""

    N: int
    k: int = 2
    encoder_hidden: tuple[int, ...] = (256, 200, 200)
    decoder_hidden: tuple[int, ...] = (200, 200, 256)

    def __post_init__(self) -> None:
        count(self.N, "N")
        count(self.k, "k", maximum=self.N, hint="no more latent units than inputs (N)")
        for name in ("encoder_hidden", "decoder_hidden"):
            for size in getattr(self, name):
                count(size, name, hint="hidden layer sizes are integers >= 1")

    def layers(self) -> list[tuple[str, int, int]]:
        """``(name, n_in, n_out)`` of every Dense layer, in initialization order."""
        enc = [self.N, *self.encoder_hidden]
        dec = [self.k, *self.decoder_hidden, self.N]
        shapes = [(f"enc{i + 1}", enc[i], enc[i + 1]) for i in range(len(enc) - 1)]
        shapes += [("mu", enc[-1], self.k), ("logvar", enc[-1], self.k)]
        shapes += [(f"dec{i + 1}", dec[i], dec[i + 1]) for i in range(len(dec) - 2)]
        shapes += [("out", dec[-2], dec[-1])]
        return shapes

    def n_params(self) -> int:
        """Number of parameters of one realization."""
        return sum(n_in * n_out + n_out for _, n_in, n_out in self.layers())

    def dense_flops_per_example(self) -> int:
        """Floating-point operations of one training example in the Dense layers.

        Forward ``2 n_in n_out`` per layer, backward ``2 n_in n_out`` for dW and
        ``2 n_in n_out`` for dx (none for the first encoder layer): about 6 x params.
        """
        total = 0
        for name, n_in, n_out in self.layers():
            total += (4 if name == "enc1" else 6) * n_in * n_out
        return total

    def to_dict(self) -> dict:
        return {"N": self.N, "k": self.k, "encoder_hidden": list(self.encoder_hidden),
                "decoder_hidden": list(self.decoder_hidden)}

    def check_memory(self, R: int, dtype, buffers: int) -> None:
        """Refuse (BadInput) R realizations whose ``buffers`` flat arrays would not fit in memory.

        ``buffers`` arrays of ``R * n_params()`` numbers of ``dtype`` (a model
        has two: parameters and gradients; training adds Adam's two moments).
        Names the largest layer size when one realization does not fit, else ``realizations``.
        """
        per_realization = buffers * self.n_params() * np.dtype(dtype).itemsize
        sizes = {"N": self.N, "encoder_hidden": max(self.encoder_hidden, default=0),
                 "decoder_hidden": max(self.decoder_hidden, default=0)}
        largest = max(sizes, key=sizes.get)
        memory(per_realization, largest, getattr(self, largest), what=" for one network")
        memory(R * per_realization, "realizations", R,
               what=f" for the networks ({readable_bytes(per_realization)} each)")


class BetaVAE:
    """R stacked realizations of the beta-VAE, with hand-written backprop.

    Parameters
    ----------
    architecture : Architecture
    realization_ids : sequence of int
        The realization indices r (their count is R); realization r is
        initialized from ``default_rng([seed, r, 0])``.
    seed : int
    dtype : numpy dtype
        float32 for training, float64 for checks.
    threads : int
        Python threads (this one and ``threads - 1`` others, see :meth:`parallel`).
        The realizations are split into ``min(threads, R)`` contiguous shards,
        one per thread (each realization's numbers do not depend on it); one
        realization with several threads has its largest products computed in
        pieces, side by side (``Network``; the same numbers). Use with
        single-threaded BLAS (see ``train``): two cores then work on different
        realizations, or different pieces, instead of sharing each small GEMM.
    kernels : str
        Element-wise kernels (``kernels.select``: ``"auto"``, ``"numpy"``,
        ``"numba"``); the numbers do not depend on it.

    Attributes
    ----------
    params, grads : dict of str -> ndarray
        Same keys (``"enc1.W"``, ...); views into ``flat_params`` / ``flat_grads``.
    flat_params, flat_grads : ndarray, (R * n_params,)
    """

    def __init__(self, architecture: Architecture, realization_ids, seed: int = 0, dtype=np.float32,
                 threads: int = 1, kernels: str = "auto"):
        self.architecture = architecture
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise BadInput(f"{self.dtype} is not float32 or float64", parameter="dtype")
        if len(realization_ids) < 1:
            raise BadInput("need at least one realization", parameter="realizations")
        architecture.check_memory(len(realization_ids), self.dtype, buffers=2)
        self.realization_ids = [int(r) for r in realization_ids]
        self.seed = int(seed)
        R = self.R
        shapes = architecture.layers()
        self.flat_params = np.zeros(R * architecture.n_params(), dtype=self.dtype)
        self.flat_grads = np.zeros_like(self.flat_params)
        self.params = self.views(self.flat_params)
        self.grads = self.views(self.flat_grads)
        self._initialize(shapes)
        self.threads = max(1, int(threads))
        self.kernels = select(kernels)
        shards = min(self.threads, R)
        bounds = np.linspace(0, R, shards + 1).round().astype(int)
        self.shard_bounds = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
        pieces = self.threads // shards  # threads left to each shard (R < threads: more than one)
        self.shards = [Network(architecture, {key: value[a:b] for key, value in self.params.items()},
                               {key: value[a:b] for key, value in self.grads.items()}, self.kernels,
                               run=self.parallel, pieces=pieces if shards == 1 else 1)
                       for a, b in self.shard_bounds]
        self.shard_ranges = [self._flat_ranges(a, b) for a, b in self.shard_bounds]
        self.buffers = Buffers()
        self._pool = None

    @property
    def R(self) -> int:
        """Number of stacked realizations."""
        return len(self.realization_ids)

    def layout(self) -> dict[str, tuple[int, tuple[int, ...]]]:
        """Where each parameter sits in ``flat_params``: name -> (offset, shape).

        Layer by layer in the order of :meth:`Architecture.layers`, its ``W: (R,
        n_in, n_out)`` then its ``b: (R, 1, n_out)``, each C-ordered.
        """
        layout, offset = {}, 0
        for name, n_in, n_out in self.architecture.layers():
            for key, shape in (("W", (self.R, n_in, n_out)), ("b", (self.R, 1, n_out))):
                layout[f"{name}.{key}"] = (offset, shape)
                offset += math.prod(shape)
        return layout

    def views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Views of ``flat: (R * n_params,)`` laid out as ``flat_params``, by parameter name.

        ``W: (R, n_in, n_out)``, ``b: (R, 1, n_out)``.
        """
        return {key: flat[offset : offset + math.prod(shape)].reshape(shape)
                for key, (offset, shape) in self.layout().items()}

    def _flat_ranges(self, a: int, b: int) -> dict[str, list[tuple[int, int]]]:
        """Layer name -> the ranges of ``flat_params`` holding its W and b of realizations ``a:b`` (merged when adjacent)."""
        ranges: dict[str, list[tuple[int, int]]] = {}
        for key, (offset, shape) in self.layout().items():
            size = math.prod(shape[1:])  # per realization
            start, stop = offset + a * size, offset + b * size
            spans = ranges.setdefault(key.split(".")[0], [])
            if spans and spans[-1][1] == start:
                spans[-1] = (spans[-1][0], stop)
            else:
                spans.append((start, stop))
        return ranges

    def subset(self, positions: list[int]) -> BetaVAE:
        """A model of the realizations at ``positions`` (indices into ``realization_ids``).

        Their parameters and gradients are copied; same seed, dtype and threads.
        """
        smaller = BetaVAE(self.architecture, [self.realization_ids[i] for i in positions], seed=self.seed,
                          dtype=self.dtype, threads=self.threads, kernels=self.kernels.name)
        index = self.subset_index(positions)
        smaller.flat_params[...] = self.flat_params[index]
        smaller.flat_grads[...] = self.flat_grads[index]
        return smaller

    def subset_index(self, positions: list[int]) -> np.ndarray:
        """Indices into a flat buffer laid out as ``flat_params``.

        ``flat[index]`` is laid out as the flat buffers of ``subset(positions)``.
        """
        index = np.arange(self.flat_params.size)
        return np.concatenate([view[positions].ravel() for view in self.views(index).values()])

    def _initialize(self, shapes) -> None:
        for i, r in enumerate(self.realization_ids):
            rng = np.random.default_rng([self.seed, r, 0])
            for name, n_in, n_out in shapes:
                a = math.sqrt(6.0 / (n_in + n_out))
                self.params[f"{name}.W"][i] = rng.uniform(-a, a, size=(n_in, n_out))

    def set_params(self, params: dict[str, np.ndarray]) -> None:
        """Copy ``params`` (same keys and shapes as ``self.params``) into the model."""
        for key, value in params.items():
            if key not in self.params or self.params[key].shape != np.shape(value):
                raise BadInput(f"'{key}' of shape {np.shape(value)} does not fit this architecture", parameter="params")
            self.params[key][...] = value

    def _stacked(self, X: np.ndarray, width: int, what: str) -> np.ndarray:
        X = np.asarray(X, dtype=self.dtype)
        if X.ndim == 2:
            X = np.broadcast_to(X, (self.R, *X.shape))
        if X.ndim != 3 or X.shape[0] != self.R or X.shape[2] != width:
            raise BadInput(f"shape {X.shape}, expected (n, {width}) or ({self.R}, n, {width})", parameter=what)
        return X

    def parallel(self, calls: list) -> list:
        """Run the zero-argument ``calls``: the first in this thread, the others in this model's other threads."""
        if len(calls) > 1 and self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=max(1, self.threads - 1))
        others = [self._pool.submit(call) for call in calls[1:]]
        return [calls[0](), *(other.result() for other in others)]

    def close(self) -> None:
        """Stop this model's threads (they restart when needed)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _map(self, function, *stacked):
        """``function(shard, *slices)`` for every shard, the arrays sliced along realizations."""
        return self.parallel([lambda shard=shard, a=a, b=b: function(shard, *(array[a:b] for array in stacked))
                              for shard, (a, b) in zip(self.shards, self.shard_bounds)])

    def encode(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """q(z|x) of every realization: ``X: (n, N)`` or ``(R, n, N)`` -> ``mu, logvar: (R, n, k)``.

        ``logvar = log sigma_z^2``; X in the units the model was trained on.
        """
        parts = self._map(Network.encode, self._stacked(X, self.architecture.N, "X"))
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def decode(self, Z: np.ndarray) -> np.ndarray:
        """Mean of p(x|z) of every realization: ``Z: (n, k)`` or ``(R, n, k)`` -> ``(R, n, N)``."""
        return np.concatenate(self._map(Network.decode, self._stacked(Z, self.architecture.k, "Z")))

    def forward(self, x: np.ndarray, eps: np.ndarray, beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``-L_beta`` averaged over the minibatch; :meth:`backward` then gives its gradient.

        See :meth:`Network.forward`; ``x: (R, B, N)``, ``eps: (R, B, k)``,
        returns ``loss, reconstruction, kl``, each (R,). A realization whose
        numbers overflow gets a NaN or inf loss, without a warning: the caller checks.
        """
        beta = float(beta)  # a NumPy float64 scalar would make the float32 gradients float64

        def shard_forward(shard, xs, es):
            with np.errstate(over="ignore", invalid="ignore"):
                return shard.forward(xs, es, beta)

        parts = self._map(shard_forward, x, eps)
        if len(parts) == 1:
            return parts[0]
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))

    def backward(self, optimizer=None) -> None:
        """The gradient of the last :meth:`forward`'s loss into ``self.grads``; with ``optimizer``, also a step.

        ``optimizer`` (an ``optim.Adam`` on ``flat_params, flat_grads``) updates
        each layer's parameters as soon as the backward pass is done with them
        (:meth:`Network.backward`): one whole optimizer step, the gradients
        consumed (``grads`` then no longer holds them).
        """
        if optimizer is not None:
            optimizer.start_step()

        def shard_backward(shard, ranges):
            updated = None
            if optimizer is not None:
                def updated(name):
                    for start, stop in ranges[name]:
                        optimizer.update(start, stop)
            with np.errstate(over="ignore", invalid="ignore"):
                shard.backward(updated)

        self.parallel([lambda shard=shard, ranges=ranges: shard_backward(shard, ranges)
                       for shard, ranges in zip(self.shards, self.shard_ranges)])

    def loss_and_grad(self, x: np.ndarray, eps: np.ndarray, beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``-L_beta`` averaged over the minibatch (see :meth:`forward`), and its gradient into ``self.grads``."""
        result = self.forward(x, eps, beta)
        self.backward()
        return result


class Network:
    """The layers of the beta-VAE over a stack of realizations (one shard of a :class:`BetaVAE`).

    ``params`` and ``grads`` are dicts of views (R_shard leading axis) into the
    model's flat buffers. :meth:`forward` caches what :meth:`backward` needs.
    With ``pieces > 1``, the products of the layers with at least
    ``SPLIT_MIN_WEIGHTS`` weights are computed in that many pieces, run side by
    side by ``run(calls)`` (see ``Dense.split``).
    """

    def __init__(self, architecture: Architecture, params: dict, grads: dict, kernels: Kernels = NUMPY,
                 run=None, pieces: int = 1):
        self.architecture = architecture
        shapes = architecture.layers()
        dense = {name: Dense(name, params[f"{name}.W"], params[f"{name}.b"], grads[f"{name}.W"], grads[f"{name}.b"],
                             input_grad=(name != "enc1"))
                 for name, _, _ in shapes}
        if pieces > 1:
            for name, n_in, n_out in shapes:
                if n_in * n_out >= SPLIT_MIN_WEIGHTS:
                    dense[name].split(run, pieces)
        self.encoder = []
        for name, _, _ in shapes:
            if name.startswith("enc"):
                self.encoder += [dense[name], Tanh(kernels)]
        self.mu_head, self.logvar_head = dense["mu"], dense["logvar"]
        self.reparameterization = Reparameterization()
        self.decoder = []
        for name, _, _ in shapes:
            if name.startswith("dec"):
                self.decoder += [dense[name], Tanh(kernels)]
        self.decoder.append(dense["out"])
        self.cache: dict = {}

    def encode(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``X: (R_shard, n, N)`` -> copies of ``mu, logvar: (R_shard, n, k)``."""
        h = X
        for layer in self.encoder:
            h = layer.forward(h)
        return self.mu_head.forward(h).copy(), self.logvar_head.forward(h).copy()

    def decode(self, Z: np.ndarray) -> np.ndarray:
        """``Z: (R_shard, n, k)`` -> a copy of the decoder mean ``(R_shard, n, N)``."""
        y = Z
        for layer in self.decoder:
            y = layer.forward(y)
        return y.copy()

    def forward(self, x: np.ndarray, eps: np.ndarray, beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``-L_beta`` averaged over the minibatch, with what :meth:`backward` needs cached.

        Parameters
        ----------
        x : ndarray, (R, B, N)
            Minibatch of each realization (model dtype).
        eps : ndarray, (R, B, k)
            Reparameterization noise, z = mu + sigma * eps.
        beta : float

        Returns
        -------
        loss : ndarray, (R,)
            ``mean_B [ N/2 log(2 pi) + |x - decoder(z)|^2 / 2 + beta KL ]`` (nats per example).
        reconstruction : ndarray, (R,)
            ``mean_B log N(x; decoder(z), I_N)`` (one-sample estimate of E_q[log p(x|z)]).
        kl : ndarray, (R,)
            ``mean_B KL(q(z|x) || N(0, I))``, exact.
        """
        N = self.architecture.N
        h = x
        for layer in self.encoder:
            h = layer.forward(h)
        z, kl = self.reparameterization.forward(self.mu_head.forward(h), self.logvar_head.forward(h), eps)
        y = z
        for layer in self.decoder:
            y = layer.forward(y)
        # objective terms, per example
        diff = np.subtract(y, x, out=y)  # decoder(z) - x (the output buffer is not needed again)
        squared = np.einsum("rbn,rbn->rb", diff, diff)  # |x - decoder(z)|^2, (R, B)
        reconstruction = -0.5 * N * LOG_2PI - 0.5 * squared  # log N(x; decoder(z), I_N)
        loss = np.mean(beta * kl - reconstruction, axis=1, dtype=np.float64)
        self.cache.update(diff=diff, beta=beta)
        return loss, np.mean(reconstruction, axis=1, dtype=np.float64), np.mean(kl, axis=1, dtype=np.float64)

    def backward(self, updated=None) -> None:
        """The gradient of the last :meth:`forward`'s loss (summed over realizations) into ``grads``.

        ``updated(name)``, when given, is called as soon as the Dense layer
        ``name`` has its gradients and the backward pass no longer needs its
        parameters (the optimizer can update them then, while they are in cache).
        """
        diff, beta = self.cache["diff"], self.cache["beta"]
        dy = np.multiply(diff, 1.0 / diff.shape[1], out=diff)  # d(loss)/d(decoder(z)) = (decoder(z) - x) / B
        for layer in reversed(self.decoder):
            dy = self._backward(layer, dy, updated)
        dmu, dlogvar = self.reparameterization.backward(dy, beta)
        dh = self._backward(self.mu_head, dmu, updated)
        dh += self._backward(self.logvar_head, dlogvar, updated)
        for layer in reversed(self.encoder):
            dh = self._backward(layer, dh, updated)

    @staticmethod
    def _backward(layer, dy: np.ndarray, updated) -> np.ndarray | None:
        dx = layer.backward(dy)
        if updated is not None and isinstance(layer, Dense):
            updated(layer.name)
        return dx
