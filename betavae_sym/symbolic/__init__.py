"""The analytic linear-Gaussian beta-VAE in SymPy: derivations, printed equations, verdicts (README, Architecture)."""
