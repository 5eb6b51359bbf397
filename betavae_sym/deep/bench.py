"""Training-throughput benchmark of the deep beta-VAE (the deep section of ``betavae-sym bench`` uses its parts).

Measured side by side in one run, interleaved repeat by repeat so that a change
of machine load hits all of them alike:

* the machine's SGEMM rate (``np.matmul`` of two float32 matrices, n = 1024);
* the GEMMs of one training step alone, on the layers' own shapes
  (:func:`step_gemm_seconds`): the ceiling the GEMM shapes set;
* our trainer (:func:`betavae_sym.deep.train.train`, float32, Adam, the given
  batch size) for one realization and for R stacked realizations, on random
  data of the paper's size (n = 1000, N = 1600), counting examples x realizations;
* PyTorch's CPU build training the same network the same way (shuffle per
  epoch, one reparameterized sample, the same loss, ``torch.optim.Adam``), when
  torch is installed (it is not a dependency).

Floating-point work per example: the Dense layers' forward + backward GEMMs,
:meth:`Architecture.dense_flops_per_example` (about 6 x parameters).
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

from betavae_sym.deep.model import Architecture
from betavae_sym.deep.train import train


def _summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def sgemm_gflops(n: int = 1024, calls: int = 10, dtype=np.float32) -> float:
    """Best-of-``calls`` GEMM rate (``np.matmul``) in ``dtype``, GFLOP/s (2 n^3 flops per call)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    c = np.empty_like(a)
    np.matmul(a, b, out=c)
    best = np.inf
    for _ in range(calls):
        start = time.perf_counter()
        np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def step_gemm_seconds(architecture: Architecture, batch_size: int = 100, dtype=np.float32, calls: int = 20) -> float:
    """Best-of-``calls`` time of the GEMMs alone of one training step (one realization), in seconds.

    The trainer's matrix products on its own shapes, one after the other with
    nothing in between: per Dense layer ``y = x W`` (B, n_in) @ (n_in, n_out),
    ``dW = x^T dy`` and, except for the first layer, ``dx = dy W^T``; arrays
    (1, B, n) as the trainer stacks them. ``batch_size`` / this is an upper
    bound of the trainer's examples per second at the same BLAS threading.
    """
    rng = np.random.default_rng(0)
    products = []
    for name, n_in, n_out in architecture.layers():
        x = rng.standard_normal((1, batch_size, n_in)).astype(dtype)
        W = rng.standard_normal((1, n_in, n_out)).astype(dtype)
        dy = rng.standard_normal((1, batch_size, n_out)).astype(dtype)
        products += [(x, W, np.empty((1, batch_size, n_out), dtype)),
                     (x.transpose(0, 2, 1), dy, np.empty((1, n_in, n_out), dtype))]
        if name != "enc1":
            products.append((dy, W.transpose(0, 2, 1), np.empty((1, batch_size, n_in), dtype)))
    best = np.inf
    for _ in range(calls + 1):  # the first call warms up
        start = time.perf_counter()
        for a, b, out in products:
            np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return best


def torch_examples_per_second(X: np.ndarray, architecture: Architecture, epochs: int, batch_size: int,
                              beta: float = 1.0, seed: int = 0) -> float | None:
    """PyTorch's throughput training the same network on ``X``; None when torch is missing."""
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(seed)

    def mlp(sizes, last_tanh):
        layers = []
        for i in range(len(sizes) - 1):
            layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
            if last_tanh or i < len(sizes) - 2:
                layers.append(torch.nn.Tanh())
        return torch.nn.Sequential(*layers)

    encoder = mlp([architecture.N, *architecture.encoder_hidden], last_tanh=True)
    width = architecture.encoder_hidden[-1] if architecture.encoder_hidden else architecture.N
    mu_head = torch.nn.Linear(width, architecture.k)
    logvar_head = torch.nn.Linear(width, architecture.k)
    decoder = mlp([architecture.k, *architecture.decoder_hidden, architecture.N], last_tanh=False)
    modules = torch.nn.ModuleList([encoder, mu_head, logvar_head, decoder])
    optimizer = torch.optim.Adam(modules.parameters(), lr=1e-3)
    data = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    n = data.shape[0]
    half_log_2pi = 0.5 * architecture.N * float(np.log(2 * np.pi))
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(n)
        for lo in range(0, n, batch_size):
            x = data[order[lo : lo + batch_size]]
            h = encoder(x)
            mu, logvar = mu_head(h), logvar_head(h)
            sigma = torch.exp(0.5 * logvar)
            z = mu + sigma * torch.randn_like(mu)
            y = decoder(z)
            rec = half_log_2pi + 0.5 * ((y - x) ** 2).sum(1)
            kl = 0.5 * (mu * mu + sigma * sigma - 1.0 - logvar).sum(1)
            loss = (rec + beta * kl).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return epochs * n / (time.perf_counter() - start)


def benchmark(*, realizations: int = 8, repeats: int = 3, epochs: int = 1, n: int = 1000, N: int = 1600,
              batch_size: int = 100, blas_threads: int | None = None, torch: bool = True) -> dict:
    """Measure training throughput; every figure is a median/min/max over ``repeats``.

    Parameters
    ----------
    realizations : int
        R of the stacked run.
    repeats : int
        Interleaved repeats (SGEMM, the step's GEMMs alone, ours R=1, ours R=R, torch).
    epochs, n, N, batch_size : int
        Each timed training run: ``epochs`` passes over n random examples of width N.
    blas_threads : int, optional
        Limit numpy's BLAS, torch, and our trainer's Python threads to this
        many threads (needs threadpoolctl); default: the default threading (our
        trainer: BLAS threads and a second Python thread sharing Adam for R = 1,
        one Python thread per core for R > 1; see ``train``).
    torch : bool
        Include PyTorch when it is installed.

    Returns
    -------
    dict
        ``examples_per_second_R1``, ``examples_per_second_R`` (counting every
        realization's examples), ``torch_examples_per_second`` (None without
        torch), ``ratio_vs_torch`` (ours R=1 / torch, and ``ratio_vs_torch_R``
        for the stacked run, paired repeat by repeat), ``sgemm_gflops``,
        ``fraction_of_sgemm_peak`` (ours R=R dense-layer GFLOP/s over the SGEMM
        rate of the same repeat; ``..._R1`` for one realization),
        ``gemm_only_examples_per_second`` (batch size / :func:`step_gemm_seconds`:
        the ceiling set by the GEMM shapes at this threading) and
        ``fraction_of_gemm_only_R1`` (ours R=1 over it), and the setting.
    """
    from contextlib import nullcontext

    limit = nullcontext()
    if blas_threads is not None:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(blas_threads)
    architecture = Architecture(N=N)
    X = np.random.default_rng(0).standard_normal((n, N)).astype(np.float32)
    flops = architecture.dense_flops_per_example()
    rows = {key: [] for key in ("sgemm", "gemms", "R1", "R", "torch")}
    torch_threads = None
    with limit:
        if torch:
            try:
                import torch as torch_module

                if blas_threads is not None:
                    torch_module.set_num_threads(blas_threads)
                torch_threads = torch_module.get_num_threads()
            except ImportError:
                torch = False
        # warm-up: BLAS threads, buffers, torch kernels
        train(X[: 2 * batch_size], 1.0, epochs=1, batch_size=batch_size, architecture=architecture)
        if torch:
            torch_examples_per_second(X[: 2 * batch_size], architecture, 1, batch_size)
        for repeat in range(repeats):
            rows["sgemm"].append(sgemm_gflops())
            rows["gemms"].append(batch_size / step_gemm_seconds(architecture, batch_size))
            for key, R in (("R1", 1), ("R", realizations)):
                result = train(X, 1.0, epochs=epochs, batch_size=batch_size, realizations=R, seed=repeat,
                               architecture=architecture, threads=blas_threads)
                rows[key].append(result.examples_per_second)
            if torch:
                rows["torch"].append(torch_examples_per_second(X, architecture, epochs, batch_size, seed=repeat))
    report = {
        "examples_per_second_R1": _summary(rows["R1"]),
        "examples_per_second_R": _summary(rows["R"]),
        "realizations": realizations,
        "sgemm_gflops": _summary(rows["sgemm"]),
        "dense_flops_per_example": flops,
        "n_params": architecture.n_params(),
        "fraction_of_sgemm_peak": _summary([e * flops / 1e9 / g for e, g in zip(rows["R"], rows["sgemm"])]),
        "fraction_of_sgemm_peak_R1": _summary([e * flops / 1e9 / g for e, g in zip(rows["R1"], rows["sgemm"])]),
        "gemm_only_examples_per_second": _summary(rows["gemms"]),
        "fraction_of_gemm_only_R1": _summary([e / g for e, g in zip(rows["R1"], rows["gemms"])]),
        "torch_examples_per_second": _summary(rows["torch"]) if rows["torch"] else None,
        "ratio_vs_torch": _summary([a / b for a, b in zip(rows["R1"], rows["torch"])]) if rows["torch"] else None,
        "ratio_vs_torch_R": _summary([a / b for a, b in zip(rows["R"], rows["torch"])]) if rows["torch"] else None,
        "setting": {"N": N, "n": n, "batch_size": batch_size, "epochs_per_run": epochs, "repeats": repeats,
                    "dtype": "float32", "blas_threads": blas_threads or _blas_threads(), "torch_threads": torch_threads,
                    "cpu_count": os.cpu_count(), "load_average_1min": os.getloadavg()[0]},
    }
    return report


def _blas_threads() -> int | None:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"]
    return max(counts) if counts else None
