"""Synthetic datasets with a known generative process and exact posterior (MNIST digits; ``synthetic``)."""
