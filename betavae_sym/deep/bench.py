"""Training-throughput benchmark of the deep beta-VAE: the deep section of ``betavae-sym bench``, from Python.

Measured side by side in one run, interleaved repeat by repeat so that a change
of machine load hits all of them alike (:func:`betavae_sym.bench.training.deep_section`):
the machine's SGEMM rate (``np.matmul`` of two float32 matrices, n = 1024) and
the GEMMs of one training step alone on the layers' own shapes, at the run's
threads and at one thread; our trainer (:func:`betavae_sym.deep.train.train`)
for one realization, R stacked realizations and one realization at one thread;
and the anchors, PyTorch and JAX training the same network the same way, each
in its own fresh Python process (when installed; neither is a dependency).
"""

from __future__ import annotations


def benchmark(*, realizations: int = 8, repeats: int = 3, epochs: int = 3, n: int = 1000, N: int = 1600,
              batch_size: int = 100, blas_threads: int | None = None, torch: bool = True, jax: bool = True) -> dict:
    """Measure training throughput as ``betavae-sym bench --only deep`` does; the records by name.

    Parameters
    ----------
    realizations : int
        R of the stacked run.
    repeats : int
        Interleaved repeats (GEMMs, ours, each anchor in its own process).
    epochs, n, N, batch_size : int
        Each timed training run: ``epochs`` passes over n random examples of width N.
    blas_threads : int, optional
        Limit BLAS, the anchors and our trainer's Python threads to this many
        (at most the cores); default: each library's default threading. A
        one-thread set of runs is added unless this is 1.
    torch, jax : bool
        Include the anchor when it is installed.

    Returns
    -------
    dict
        ``{name: record}`` for ``sgemm``, ``step_gemms``, ``train_R1``,
        ``train_stacked``, ``train_torch``, ``train_jax`` and their
        ``_1thread`` forms (records as in the README's Benchmarks section:
        ``examples_per_second``, ``ratio_vs_torch``, ``ratio_vs_jax``,
        ``ratio_vs_best_peer``, ``fraction_of_sgemm_peak``, ...).
    """
    from betavae_sym.bench.records import Progress
    from betavae_sym.bench.suite import BenchConfig, deep_section

    config = BenchConfig(sections=("deep",), realizations=realizations, repeats=repeats, epochs=epochs, n=n, N=N,
                         batch_size=batch_size, threads=blas_threads, torch=torch, jax=jax)
    progress = Progress(False)
    try:
        return {record["name"]: record for record in deep_section(config, progress)}
    finally:
        progress.close()
