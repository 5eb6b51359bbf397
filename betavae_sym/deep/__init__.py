"""The deep beta-VAE in NumPy: stacked realizations, hand-written backprop, Adam, training (README, Architecture)."""
