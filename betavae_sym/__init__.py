"""betavae-sym: the beta-VAE of Sikka (2020), derived, solved and simulated.

Three layers, as in DESIGN.md: ``symbolic`` (SymPy derivations), ``linear``
(lambdified numeric solvers), ``deep`` (NumPy beta-VAE with hand-written
backprop).
"""

__version__ = "0.1.0"
