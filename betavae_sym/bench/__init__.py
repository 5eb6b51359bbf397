"""``betavae-sym bench``: the performance suite, measured side by side in one run (issues 7 and 16).

Sections (:data:`SECTIONS`):

* ``analytic`` -- a 200-point beta sweep with the numeric solver and with the
  closed form, N = 128 and 1600 (k = 2), and the largest relative gap between
  them; the same sweep through ``betavae-sym analytic`` beyond a one-beta run,
  each in a fresh process;
* ``symbolic`` -- cold ``betavae-sym derive`` in a fresh process, and the first
  (compiling) call of a lambdified function in a fresh process;
* ``deep`` -- training throughput of one network: ours for R = 1, R stacked and
  R = 1 at one thread, against PyTorch and JAX (when installed) each in its own
  fresh process at the same threads; the SGEMM rate at those threads and the
  fraction of it each reaches;
* ``sweep`` -- sweep work as ``simulate`` does it (networks on worker processes)
  against each anchor's best use of the same cores, and the cost of scoring a
  trained network against the training time of a task;
* ``scale`` -- analytic solve time against N and k, training time per epoch
  against N, batch size and R; a log-log plot.

Public API: :class:`BenchConfig`, :func:`run_bench` (returns the JSON document),
:func:`betavae_sym.bench.plot.save_scale_plot`. Absolute times on a shared
machine are noisy; ratios measured in the same run (interleaved repeat by
repeat) are what to compare.
"""

__all__ = ["SECTIONS", "BenchConfig", "run_bench"]


def __getattr__(name):
    # lazy, so that the CLI's ``betavae_sym.bench.commands`` imports no NumPy
    if name in __all__:
        from betavae_sym.bench import suite

        return getattr(suite, name)
    raise AttributeError(f"module 'betavae_sym.bench' has no attribute {name!r}")
