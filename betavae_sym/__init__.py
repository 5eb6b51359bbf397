"""betavae-sym: the beta-VAE of Sikka (2020), derived, solved and simulated.

Subpackages: ``symbolic`` (the model in SymPy: derivations, the formulas),
``linear`` (the analytic beta-VAE, numerically, by lambdify), ``data``
(synthetic datasets with a known posterior), ``deep`` (NumPy beta-VAE with
hand-written backprop), ``experiments`` (deep beta sweeps: settings, tasks,
executors, results store), ``paper_checks`` (a verdict on every claim). The
command line (``cli.py`` and each subpackage's ``commands.py``) sits on top
and builds the settings objects; library modules never import it.
"""

__version__ = "0.1.0"

import os as _os
import sys as _sys

# OpenBLAS's idle threads spin for about 0.1 s after each call by default,
# holding the second core; told to sleep at once (after 2^14 cycles), they leave
# it to the deep trainer's second Python thread between GEMMs, and to whatever
# runs next (README, Throughput: R = 1 at two threads 1.11x, GEMMs no slower).
# Only takes effect when NumPy is not loaded yet; an explicit setting wins.
if "numpy" not in _sys.modules:
    _os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "14")
