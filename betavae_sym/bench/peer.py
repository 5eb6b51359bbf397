"""The anchors of ``betavae-sym bench``: the paper's beta-VAE trained by PyTorch or JAX, as a user would run it.

A standalone script (it imports nothing from betavae_sym, so it runs in a fresh
Python process with only NumPy and the framework loaded)::

    python peer.py '{"framework": "torch", "layers": [["enc1", 1600, 256], ...], "n": 1000, ...}'

It trains ``networks`` networks one after the other, ``epochs`` epochs each,
on the same data as our trainer (``data``: an ``.npy`` file, or n x N standard
normals from ``numpy.random.default_rng(0)`` in float32), and prints one JSON
line (:func:`train_peer`). The network and the loop are ours
(``betavae_sym.deep``): encoder Dense + tanh layers, two linear heads
``mu`` and ``logvar`` (log sigma^2), decoder Dense + tanh layers and a linear
output; Glorot-uniform weights and zero biases; per step one minibatch of the
epoch's shuffled order, one reparameterized sample ``z = mu + exp(logvar / 2) eps``
per example, the loss ``-L_beta`` per example averaged over the minibatch::

    N/2 log(2 pi) + |x - decoder(z)|^2 / 2 + beta/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)

and Adam (lr 1e-3, betas 0.9 / 0.999, eps 1e-8), all in float32.

PyTorch: ``torch.nn.Linear`` layers in ``torch.nn.Sequential``, autograd,
``torch.optim.Adam``; ``torch.set_num_threads(threads)`` when ``threads`` is
given. JAX: the whole step (gather, noise, loss, gradient, Adam) under one
``jax.jit``, with ``optax.adam`` when optax is installed, otherwise a plain
jitted Adam with the same update (named in the output); one thread by
``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``
set before JAX loads.

Warm-up, not timed: one network trained for one epoch (PyTorch's kernels, JAX's
compilation). With ``barrier`` the script then prints ``{"ready": true}`` and
waits for a line on standard input, so that several processes start their timed
part together. Timed: the training loops only (each network's initialization is
outside), summed over the networks; ``start`` and ``end`` (``time.time()``) bound
the whole timed part, so processes side by side can be timed as one.
"""

from __future__ import annotations

import json
import math
import os
import resource
import sys
import time

import numpy as np

ADAM = {"lr": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-8}
FRAMEWORKS = ("torch", "jax")


def glorot_params(layers, seed: int) -> dict:
    """``{name: (W (n_in, n_out), b (n_out,))}``, Glorot-uniform weights and zero biases, float32."""
    rng = np.random.default_rng(seed)
    params = {}
    for name, n_in, n_out in layers:
        a = math.sqrt(6.0 / (n_in + n_out))
        params[name] = (rng.uniform(-a, a, size=(n_in, n_out)).astype(np.float32), np.zeros(n_out, np.float32))
    return params


def _groups(layers) -> tuple[list[str], list[str]]:
    """Names of the encoder layers and the decoder layers (the last one linear), in order."""
    encoder = [name for name, _, _ in layers if name.startswith("enc")]
    decoder = [name for name, _, _ in layers if name.startswith("dec") or name == "out"]
    return encoder, decoder


# ---------------------------------------------------------------- PyTorch


class TorchPeer:
    """The network in ``torch.nn`` modules and one training step with ``torch.optim.Adam``."""

    def __init__(self, layers, params: dict, beta: float):
        import torch

        self.torch = torch
        encoder_names, decoder_names = _groups(layers)

        def linear(name):
            W, b = params[name]
            module = torch.nn.Linear(W.shape[0], W.shape[1])
            with torch.no_grad():
                module.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
                module.bias.copy_(torch.from_numpy(b))
            return module

        def stack(names, last_tanh):
            modules = []
            for i, name in enumerate(names):
                modules.append(linear(name))
                if last_tanh or i < len(names) - 1:
                    modules.append(torch.nn.Tanh())
            return torch.nn.Sequential(*modules)

        self.encoder = stack(encoder_names, last_tanh=True)
        self.mu_head, self.logvar_head = linear("mu"), linear("logvar")
        self.decoder = stack(decoder_names, last_tanh=False)
        self.modules = torch.nn.ModuleList([self.encoder, self.mu_head, self.logvar_head, self.decoder])
        self.optimizer = torch.optim.Adam(self.modules.parameters(), lr=ADAM["lr"], betas=(ADAM["b1"], ADAM["b2"]),
                                          eps=ADAM["eps"])
        self.beta = float(beta)
        self.half_log_2pi = 0.5 * layers[-1][2] * math.log(2 * math.pi)

    def loss(self, x, eps):
        h = self.encoder(x)
        mu, logvar = self.mu_head(h), self.logvar_head(h)
        sigma = self.torch.exp(0.5 * logvar)
        y = self.decoder(mu + sigma * eps)
        rec = self.half_log_2pi + 0.5 * ((y - x) ** 2).sum(1)
        kl = 0.5 * (mu * mu + sigma * sigma - 1.0 - logvar).sum(1)
        return (rec + self.beta * kl).mean()

    def step(self, x, eps=None) -> float:
        eps = self.torch.randn(x.shape[0], self.mu_head.out_features) if eps is None else eps
        loss = self.loss(x, eps)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss

    def gradients(self, x: np.ndarray, eps: np.ndarray) -> tuple[float, dict]:
        """Loss and ``{name: (dW (n_in, n_out), db)}`` at the current parameters (no update)."""
        torch = self.torch
        loss = self.loss(torch.from_numpy(x), torch.from_numpy(eps))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grads = {}
        for name, module in self._named_linears():
            grads[name] = (module.weight.grad.numpy().T.copy(), module.bias.grad.numpy().copy())
        return loss.item(), grads

    def _named_linears(self):
        linears = [m for m in self.encoder if isinstance(m, self.torch.nn.Linear)]
        names = [f"enc{i + 1}" for i in range(len(linears))]
        pairs = list(zip(names, linears)) + [("mu", self.mu_head), ("logvar", self.logvar_head)]
        decoder = [m for m in self.decoder if isinstance(m, self.torch.nn.Linear)]
        pairs += [(f"dec{i + 1}", m) for i, m in enumerate(decoder[:-1])] + [("out", decoder[-1])]
        return pairs


def torch_trainer(layers, X: np.ndarray, beta: float, batch_size: int):
    """``(make(seed) -> network, epoch(network, rng) -> last loss)`` for PyTorch."""
    import torch

    data = torch.from_numpy(X)
    n = X.shape[0]

    def make(seed):
        torch.manual_seed(seed)
        return TorchPeer(layers, glorot_params(layers, seed), beta)

    def epoch(network, rng):
        order = torch.from_numpy(rng.permutation(n))
        loss = None
        for lo in range(0, n, batch_size):
            loss = network.step(data[order[lo : lo + batch_size]])
        return loss.item()

    return make, epoch


# ---------------------------------------------------------------- JAX


def jax_loss(layers, beta: float):
    """``loss(params, x, eps)``: the minibatch mean of -L_beta, params ``{name: (W, b)}`` (jax.numpy)."""
    import jax.numpy as jnp

    encoder_names, decoder_names = _groups(layers)
    half_log_2pi = 0.5 * layers[-1][2] * math.log(2 * math.pi)

    def loss(params, x, eps):
        h = x
        for name in encoder_names:
            W, b = params[name]
            h = jnp.tanh(h @ W + b)
        mu = h @ params["mu"][0] + params["mu"][1]
        logvar = h @ params["logvar"][0] + params["logvar"][1]
        sigma = jnp.exp(0.5 * logvar)
        y = mu + sigma * eps
        for name in decoder_names[:-1]:
            W, b = params[name]
            y = jnp.tanh(y @ W + b)
        y = y @ params[decoder_names[-1]][0] + params[decoder_names[-1]][1]
        rec = half_log_2pi + 0.5 * jnp.sum((y - x) ** 2, axis=1)
        kl = 0.5 * jnp.sum(mu * mu + sigma * sigma - 1.0 - logvar, axis=1)
        return jnp.mean(rec + beta * kl)

    return loss


def jax_optimizer():
    """``(init(params) -> state, update(grads, state, params) -> (params, state), name)``: optax.adam or plain Adam."""
    import jax
    import jax.numpy as jnp

    try:
        import optax
    except ImportError:
        optax = None
    if optax is not None:
        adam = optax.adam(ADAM["lr"], b1=ADAM["b1"], b2=ADAM["b2"], eps=ADAM["eps"])

        def update(grads, state, params):
            updates, state = adam.update(grads, state, params)
            return optax.apply_updates(params, updates), state

        return adam.init, update, f"optax.adam (optax {optax.__version__})"

    def init(params):  # the same update as optax.adam and torch.optim.Adam
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        return (jnp.zeros((), jnp.int32), zeros, zeros)

    def update(grads, state, params):
        count, m, v = state
        count = count + 1
        m = jax.tree_util.tree_map(lambda m, g: ADAM["b1"] * m + (1 - ADAM["b1"]) * g, m, grads)
        v = jax.tree_util.tree_map(lambda v, g: ADAM["b2"] * v + (1 - ADAM["b2"]) * g * g, v, grads)
        c1, c2 = 1 - ADAM["b1"] ** count, 1 - ADAM["b2"] ** count
        params = jax.tree_util.tree_map(
            lambda p, m, v: p - ADAM["lr"] * (m / c1) / (jnp.sqrt(v / c2) + ADAM["eps"]), params, m, v)
        return params, (count, m, v)

    return init, update, "plain Adam under jax.jit (optax is not installed)"


def jax_trainer(layers, X: np.ndarray, beta: float, batch_size: int):
    """``(make(seed) -> state, epoch(state, rng) -> last loss)`` for JAX; the step is one ``jax.jit``."""
    import jax
    import jax.numpy as jnp

    loss_fn = jax_loss(layers, beta)
    init, update, _ = jax_optimizer()
    k = dict((name, n_out) for name, _, n_out in layers)["mu"]
    data = jnp.asarray(X)
    n = X.shape[0]

    @jax.jit
    def step(params, opt_state, key, index):
        key, sub = jax.random.split(key)
        x = data[index]
        eps = jax.random.normal(sub, (index.shape[0], k), jnp.float32)
        loss, grads = jax.value_and_grad(loss_fn)(params, x, eps)
        params, opt_state = update(grads, opt_state, params)
        return params, opt_state, key, loss

    def make(seed):
        params = jax.tree_util.tree_map(jnp.asarray, glorot_params(layers, seed))
        return {"params": params, "opt_state": init(params), "key": jax.random.PRNGKey(seed)}

    def epoch(state, rng):
        order = rng.permutation(n).astype(np.int32)
        loss = None
        for lo in range(0, n, batch_size):
            state["params"], state["opt_state"], state["key"], loss = step(
                state["params"], state["opt_state"], state["key"], order[lo : lo + batch_size])
        return float(loss)  # waits for the last step

    return make, epoch


def jax_gradients(layers, params: dict, x: np.ndarray, eps: np.ndarray, beta: float) -> tuple[float, dict]:
    """Loss and ``{name: (dW, db)}`` of :func:`jax_loss` at ``params`` (for the tests)."""
    import jax

    loss, grads = jax.value_and_grad(jax_loss(layers, beta))(params, x, eps)
    return float(loss), {name: (np.asarray(g[0]), np.asarray(g[1])) for name, g in grads.items()}


# ---------------------------------------------------------------- the run


def _set_threads(framework: str, threads: int | None) -> None:
    """Limit the framework to ``threads`` threads (before it loads, for JAX); None: its default."""
    if threads is None:
        return
    if framework == "jax":
        if threads != 1:
            raise SystemExit("jax: only one thread (threads = 1) or the default can be asked for")
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1".strip()
    else:
        import torch

        torch.set_num_threads(threads)


def _versions(framework: str) -> dict:
    if framework == "torch":
        import torch

        return {"version": torch.__version__, "threads_used": torch.get_num_threads(),
                "optimizer": "torch.optim.Adam"}
    import jax

    return {"version": jax.__version__, "threads_used": None, "optimizer": jax_optimizer()[2],
            "device": str(jax.devices()[0])}


def train_peer(spec: dict) -> dict:
    """Run the anchor described by ``spec`` (see the module docstring); the JSON-ready result.

    ``spec``: ``framework`` (torch or jax), ``layers`` ([name, n_in, n_out] as
    ``Architecture.layers()``), ``n``, ``batch_size``, ``epochs``, ``networks``,
    ``beta``, ``seed``, ``threads`` (None: default), ``data`` (a .npy path or None),
    ``barrier`` (bool). Result: ``examples`` (networks x epochs x n), ``seconds``
    (the training loops), ``start``/``end``, ``cpu_seconds`` (user + system of
    the process during the timed part), ``warmup_seconds``, ``final_loss``,
    ``version``, ``optimizer``, ``threads`` (asked for; None: the default) and
    ``threads_used`` (PyTorch's ``torch.get_num_threads()``; None for JAX, which does not say).
    """
    framework = spec["framework"]
    if framework not in FRAMEWORKS:
        raise SystemExit(f"framework: {framework!r} is not one of {', '.join(FRAMEWORKS)}")
    _set_threads(framework, spec.get("threads"))
    layers = [tuple(layer) for layer in spec["layers"]]
    N, n, batch_size = layers[0][1], spec["n"], spec["batch_size"]
    if spec.get("data"):
        X = np.ascontiguousarray(np.load(spec["data"], allow_pickle=False)[:n], dtype=np.float32)
    else:
        X = np.random.default_rng(0).standard_normal((n, N)).astype(np.float32)
    trainer = torch_trainer if framework == "torch" else jax_trainer
    started = time.perf_counter()
    make, epoch = trainer(layers, X, spec.get("beta", 1.0), batch_size)
    epoch(make(spec.get("seed", 0) + 10**6), np.random.default_rng(10**6))  # warm-up (compile), not timed
    warmup = time.perf_counter() - started
    if spec.get("barrier"):
        print(json.dumps({"ready": True}), flush=True)
        sys.stdin.readline()
    seconds, loss = 0.0, None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    start = time.time()
    for m in range(spec["networks"]):
        network = make(spec.get("seed", 0) + m)
        rng = np.random.default_rng([spec.get("seed", 0), m])
        began = time.perf_counter()
        for _ in range(spec["epochs"]):
            loss = epoch(network, rng)
        seconds += time.perf_counter() - began
    end = time.time()
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    return {"framework": framework, **_versions(framework), "threads": spec.get("threads"),
            "networks": spec["networks"], "epochs": spec["epochs"], "n": n, "batch_size": batch_size,
            "examples": spec["networks"] * spec["epochs"] * n, "seconds": seconds, "start": start, "end": end,
            "cpu_seconds": cpu, "warmup_seconds": warmup, "final_loss": loss}


if __name__ == "__main__":
    print(json.dumps(train_peer(json.loads(sys.argv[1]))), flush=True)
