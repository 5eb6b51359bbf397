"""Synthetic datasets: generative process, exact posterior, standardization, CLI preview."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from betavae_sym.cli import main
from betavae_sym.data.synthetic import (
    linear_gaussian_posterior,
    make_dataset,
    mixed_digits,
    place_digit,
    positioned_digit,
)
from betavae_sym.errors import BadInput


def conditioned_joint_gaussian(A, sigma_eta, Y):
    """p(s | y) by conditioning the joint Gaussian of (s, y) (paper, Appendix 2, first form)."""
    M = A.shape[0]
    Sigma_y = A @ A.T + sigma_eta**2 * np.eye(M)  # Cov(y), (M, M)
    Cov_ys = A  # Cov(y, s)
    mean = (Cov_ys.T @ np.linalg.solve(Sigma_y, Y.T)).T
    cov = np.eye(A.shape[1]) - Cov_ys.T @ np.linalg.solve(Sigma_y, Cov_ys)
    return mean, cov


@settings(max_examples=15, deadline=None)
@given(M=st.integers(1, 7), k=st.integers(1, 4), sigma=st.floats(0.2, 3.0), seed=st.integers(0, 2**16))
def test_posterior_equals_conditioning_of_the_joint_gaussian(M, k, sigma, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((M, k))
    Y = rng.standard_normal((5, M))
    mean, cov = linear_gaussian_posterior(A, sigma, Y)
    want_mean, want_cov = conditioned_joint_gaussian(A, sigma, Y)
    np.testing.assert_allclose(mean, want_mean, atol=1e-10)
    np.testing.assert_allclose(cov, want_cov, atol=1e-10)


@pytest.fixture(scope="module")
def small_mixed():
    # canvas 28 (N = 784) keeps the N x N conditioning cheap
    return mixed_digits(n=3000, k=3, digit_classes=[3, 7, 3], sigma_eta=0.7, seed=5, canvas=28)


def test_mixed_digits_posterior_equals_joint_conditioning_of_raw_pixels(small_mixed):
    d = small_mixed
    mean, cov = conditioned_joint_gaussian(d.A, d.sigma_eta, d.X_raw[:20])
    np.testing.assert_allclose(d.posterior_mean[:20], mean, atol=1e-9)
    np.testing.assert_allclose(d.posterior_cov, cov, atol=1e-9)


def test_mixed_digits_error_of_posterior_mean_has_the_posterior_covariance(small_mixed):
    # Monte Carlo over the generative process: s - E[s|x] ~ N(0, Sigma_s|x), independent of x
    d = small_mixed
    residual = d.S - d.posterior_mean
    assert np.abs(residual.mean(axis=0)).max() < 4 * np.sqrt(np.diag(d.posterior_cov).max() / d.n)
    np.testing.assert_allclose(np.cov(residual.T), d.posterior_cov, rtol=0.12, atol=0.12 * np.abs(d.posterior_cov).max())


def test_mixed_digits_columns_of_A_are_the_chosen_digits_at_the_centre(small_mixed):
    from betavae_sym.data.mnist import load_mnist

    mnist = load_mnist()
    d = small_mixed
    assert d.params["digit_classes"] == [3, 7, 3]
    first, second = d.params["digit_indices"][0], d.params["digit_indices"][2]
    assert first != second  # the second 3 is another image of class 3
    np.testing.assert_array_equal(d.A[:, 0].reshape(28, 28), mnist.images[first])
    np.testing.assert_array_equal(d.X_raw, d.S @ d.A.T + d.sigma_eta * d.eta)


def test_datasets_are_deterministic_given_the_seed():
    a = mixed_digits(n=50, seed=3)
    b = mixed_digits(n=50, seed=3)
    c = mixed_digits(n=50, seed=4)
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)
    p = positioned_digit(n=30, seed=3)
    q = positioned_digit(n=30, seed=3)
    np.testing.assert_array_equal(p.X, q.X)


def test_standardization_gives_unit_pixels_and_keeps_the_raw_posterior():
    raw = positioned_digit(n=200, seed=1)
    std = positioned_digit(n=200, seed=1, standardize=True)
    np.testing.assert_array_equal(std.X_raw, raw.X_raw)
    np.testing.assert_array_equal(std.posterior_mean, raw.posterior_mean)
    varying = raw.X_raw.std(axis=0) > 0
    assert (~varying).any()  # the canvas corners never see ink
    np.testing.assert_allclose(std.X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(std.X[:, varying].std(axis=0), 1, rtol=1e-10)
    np.testing.assert_array_equal(std.X[:, ~varying], 0)
    np.testing.assert_allclose(std.standardization.invert(std.X), raw.X_raw, atol=1e-12)


def test_place_digit_at_integer_position_pastes_the_digit():
    digit = np.random.default_rng(0).random((28, 28))
    image = place_digit(digit, np.array([3.0, 9.0]), 40)
    np.testing.assert_array_equal(image[3:31, 9:37], digit)
    assert image.sum() == pytest.approx(digit.sum())


@settings(max_examples=20, deadline=None)
@given(row=st.floats(-3.0, 11.99), col=st.floats(-3.0, 11.99))
def test_place_digit_moves_the_centre_of_mass_with_p(row, col):
    # bilinear placement keeps the ink and moves its centroid exactly by p (while on the canvas)
    digit = np.zeros((28, 28))
    digit[4:24, 4:24] = np.random.default_rng(1).random((20, 20))
    image = place_digit(digit, np.array([row, col]), 40)
    grid = np.indices((40, 40))
    d_grid = np.indices((28, 28))
    assert image.sum() == pytest.approx(digit.sum(), rel=1e-12)
    for axis, shift in ((0, row), (1, col)):
        centroid = (grid[axis] * image).sum() / image.sum()
        d_centroid = (d_grid[axis] * digit).sum() / digit.sum()
        assert centroid == pytest.approx(d_centroid + shift, abs=1e-9)


def test_positioned_digit_posterior_is_p_s_given_p():
    d = positioned_digit(n=400, seed=2, scale=1.5)
    A = 2 * np.eye(2) + 0.73
    np.testing.assert_array_equal(d.A, A)
    p = d.params["p"]
    c = np.array(d.params["center"])
    np.testing.assert_allclose(p, c + 1.5 * (d.S @ A.T + d.eta), atol=1e-12)
    mean, cov = conditioned_joint_gaussian(A, 1.0, (p - c) / 1.5)
    np.testing.assert_allclose(d.posterior_mean, mean, atol=1e-12)
    np.testing.assert_allclose(d.posterior_cov, cov, atol=1e-12)
    # the image is the digit drawn at p
    from betavae_sym.data.mnist import load_mnist

    digit = load_mnist().images[d.params["digit_index"]]
    np.testing.assert_array_equal(d.X_raw[7].reshape(40, 40), place_digit(digit, p[7], 40))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: make_dataset("spirals"), "unknown dataset 'spirals'"),
        (lambda: mixed_digits(n=5, k=0), "k: 0"),
        (lambda: mixed_digits(n=5, k=1601), "k: 1601"),
        (lambda: mixed_digits(n=5, k=2, digit_classes=[1, 12]), "digit class 12"),
        (lambda: mixed_digits(n=5, k=2, digit_indices=[1, 5000]), "digit index 5000"),
        (lambda: positioned_digit(n=5, digit_class=-1), "digit class -1"),
        (lambda: mixed_digits(n=5, sigma_eta=float("nan")), "sigma_eta"),
    ],
)
def test_bad_dataset_parameters_are_bad_input(call, message):
    with pytest.raises(BadInput, match=message):
        call()


def test_preview_writes_a_png_grid_of_the_samples(tmp_path):
    import matplotlib.image

    out = tmp_path / "grid.png"
    assert main(["datasets", "preview", "--dataset", "positioned-digit", "--n", "4", "--out", str(out)]) == 0
    picture = matplotlib.image.imread(out)
    assert picture.ndim == 3 and picture.shape[0] > 100 and picture.shape[1] > 100


@pytest.mark.parametrize("build", [lambda n: mixed_digits(n=n, k=3, seed=9, canvas=28),
                                   lambda n: positioned_digit(n=n, seed=9)])
def test_a_dataset_is_the_first_samples_of_a_larger_one_with_the_same_seed(build):
    small, large = build(5), build(40)
    for name in ("X_raw", "S", "eta"):
        np.testing.assert_array_equal(getattr(small, name), getattr(large, name)[:5], err_msg=name)
    np.testing.assert_allclose(small.posterior_mean, large.posterior_mean[:5], rtol=1e-12, atol=1e-14)


def test_preview_shows_the_first_samples_of_the_training_dataset(tmp_path, monkeypatch):
    import matplotlib.axes

    from betavae_sym.cli import build_parser
    from betavae_sym.data.commands import dataset_spec
    from betavae_sym.data.synthetic import build_dataset

    shown = []
    draw = matplotlib.axes.Axes.imshow
    monkeypatch.setattr(matplotlib.axes.Axes, "imshow",
                        lambda self, image, **kw: shown.append(image) or draw(self, image, **kw))
    options = ["--dataset", "mixed-digits", "--data-seed", "4"]
    assert main(["datasets", "preview", *options, "--n", "3", "--out", str(tmp_path / "grid.png")]) == 0
    args = build_parser().parse_args(["train", *options, "--beta", "1", "--epochs", "1"])
    trained_on = build_dataset(dataset_spec(args, n=args.n, standardize=False))  # what 'train' draws (n = 1000)
    assert len(shown) == 3
    for i, image in enumerate(shown):
        np.testing.assert_array_equal(image.ravel(), trained_on.X_raw[i])


def test_preview_bad_input_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["datasets", "preview", "--dataset", "mixed-digits", "--k", "2000", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "k: 2000" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []
