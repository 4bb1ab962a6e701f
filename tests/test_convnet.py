"""CNNs: the course's parameter counts, stable MLP run ids, kernels, feature maps, shifted test digits."""

import hashlib
import json

import numpy as np
import pytest

from lab.analysis.convnet import conv_kernels, feature_maps, symmetric_limit
from lab.analysis.shift import shift_images, shifted_accuracy
from lab.architecture import check_network, count_params, layer_infos, multiply_adds
from lab.bench.augmentation import AugmentationTiming, b10_spec, bench_augmentation
from lab.catalog.presets import get_preset
from lab.data.prepare import test_images as plain_test_images  # a test_ name would be collected by pytest
from lab.nn.model import build_model
from lab.nn.trainer import train
from lab.runs.queries import find_preset_run, same_but_epochs
from lab.runs.store import RunStore
from lab.spec import Augmentation, ConvBlock, ExperimentSpec

CNN_PARAMS = {"B6": 98_820, "B7": 286_940, "B8": 286_940, "B9": 286_940, "B10": 286_940, "B11": 286_940}


# ------------------------------------------------------------ the course
def test_multiply_adds_count_each_kernel_weight_once_per_output_position():
    # B7 by hand: 5x5 kernels; 14x14, 7x7 and 7x7 outputs; then 3,920 -> 50 -> 10.
    by_hand = 25 * 1 * 10 * 14 * 14 + 25 * 10 * 40 * 7 * 7 + 25 * 40 * 80 * 7 * 7 + 3920 * 50 + 50 * 10
    assert multiply_adds(get_preset("B7").spec) == by_hand == 4_655_500
    assert multiply_adds(get_preset("B1").spec) == 784 * 10  # logistic regression: one multiply-add per weight
    # Far more arithmetic than the MLP with twice its weights: what makes a CNN's epoch long.
    assert multiply_adds(get_preset("B7").spec) > 5 * multiply_adds(get_preset("B4").spec)


@pytest.mark.parametrize("name", CNN_PARAMS)
def test_course_cnns_have_the_course_parameter_counts_in_keras(name):
    spec = get_preset(name).spec
    assert build_model(spec).count_params() == CNN_PARAMS[name] == count_params(spec)


def test_course_feature_map_shapes_match_the_course_summary():
    # CS4487's summary (channels first): (10, 14, 14), (40, 7, 7), (80, 7, 7).
    shapes = [info.output_shape for info in layer_infos(get_preset("B7").spec) if info.kind == "conv"]
    assert shapes == [(14, 14, 10), (7, 7, 40), (7, 7, 80)]


def test_mlp_run_ids_are_pinned():
    # Stored runs are named by these hashes: adding conv blocks and augmentation to the spec
    # (both left at their defaults by an MLP) must not rename a single stored MLP run.
    spec = ExperimentSpec(
        hidden=(50, 50, 50, 50), activation="sigmoid", optimizer="sgd", learning_rate=0.001, epochs=100,
        val_split=0.3, val_mode="last",
    )  # fmt: skip
    assert "conv" not in spec.to_dict(omit_defaults=True)
    assert "augmentation" not in spec.to_dict(omit_defaults=True)
    canonical = json.dumps(
        {"activation": "sigmoid", "epochs": 100, "hidden": [50, 50, 50, 50], "optimizer": "sgd",
         "val_mode": "last", "val_split": 0.3},
        sort_keys=True, separators=(",", ":"),
    )  # fmt: skip
    assert spec.run_id == hashlib.sha256(canonical.encode()).hexdigest()[:12] == "9442473d90d7"
    assert ExperimentSpec().run_id == "44136fa355b3"
    assert get_preset("B2", data="mnist").spec.run_id == "3c1bd97c1afb"


def test_a_cnn_or_augmented_spec_gets_its_own_run_id():
    mlp = ExperimentSpec(hidden=(50,))
    assert mlp.replace(conv=(ConvBlock(),)).run_id != mlp.run_id
    assert mlp.replace(augmentation=Augmentation(rotation=10)).run_id != mlp.run_id


# ------------------------------------------------------- looking inside
TINY = ExperimentSpec(
    conv=(ConvBlock(3, 5, 2), ConvBlock(4, 3, 1, "valid", pool=2)), hidden=(6,), epochs=1, train_subset=400
)


def test_feature_maps_have_the_shapes_of_the_model_summary():
    model = build_model(TINY)
    maps = feature_maps(model, np.zeros(784, np.float32))
    assert list(maps) == ["conv_1", "conv_2"]
    table = {info.name: info.output_shape for info in layer_infos(TINY)}
    for name, values in maps.items():
        assert values.shape == tuple(model.get_layer(name).output.shape[1:]) == table[name]
    assert maps["conv_1"].shape == (14, 14, 3) and maps["conv_2"].shape == (12, 12, 4)


def test_feature_maps_are_what_the_conv_layer_computes():
    model = build_model(TINY)
    x = np.random.default_rng(0).random(784).astype(np.float32)
    kernel, bias = model.get_layer("conv_1").get_weights()
    image = np.pad(x.reshape(28, 28), ((1, 2), (1, 2)))  # 'same' with stride 2 pads 1 before, 2 after
    expected = np.array(
        [[[(image[2 * r : 2 * r + 5, 2 * c : 2 * c + 5] * kernel[:, :, 0, f]).sum() + bias[f] for f in range(3)]
          for c in range(14)] for r in range(14)]
    )  # fmt: skip
    np.testing.assert_allclose(feature_maps(model, x)["conv_1"], np.maximum(expected, 0), atol=1e-5)


def test_kernels_come_out_as_small_images():
    model = build_model(TINY)
    kernels = conv_kernels(model)
    assert kernels.shape == (3, 5, 5)
    np.testing.assert_array_equal(kernels[1], model.get_layer("conv_1").get_weights()[0][:, :, 0, 1])
    assert conv_kernels(model, "conv_2").shape == (4, 3, 3)
    assert symmetric_limit(np.array([-2.0, 1.0])) == 2.0 and symmetric_limit(np.zeros(3)) == 1.0


def test_an_mlp_has_no_kernels_to_show():
    model = build_model(ExperimentSpec(hidden=(5,)))
    with pytest.raises(ValueError, match="conv block"):
        conv_kernels(model)
    with pytest.raises(ValueError, match="conv block"):
        feature_maps(model, np.zeros(784, np.float32))


# ------------------------------------------------------------- shifting
def test_shifts_are_two_to_four_pixels_in_eight_directions_and_seeded():
    dot = np.zeros((400, 28, 28), np.float32)
    dot[:, 14, 14] = 1.0
    shifted = shift_images(dot).reshape(-1, 28, 28)
    rows, cols = np.nonzero(shifted)[1:]
    assert len(rows) == 400  # every dot moved, none lost
    dy, dx = rows - 14, cols - 14
    distance = np.maximum(np.abs(dy), np.abs(dx))
    assert set(distance) == {2, 3, 4}
    assert np.all((dy == 0) | (dx == 0) | (np.abs(dy) == np.abs(dx)))  # along an axis or a diagonal
    assert len(set(zip(np.sign(dy), np.sign(dx), strict=True))) == 8
    np.testing.assert_array_equal(shift_images(dot), shift_images(dot))
    assert not np.array_equal(shift_images(dot, seed=1), shift_images(dot))


def test_shifting_keeps_the_ink_of_a_centered_digit():
    images, _ = plain_test_images(ExperimentSpec(data="sample"))
    shifted = shift_images(images[:50])
    assert shifted.shape == (50, 784)
    # MNIST digits fit a 20x20 box in the middle: a 4-pixel move keeps most digits whole (a wide
    # digit moved diagonally may lose the tip of a stroke).
    kept = shifted.sum(axis=1) / images[:50].sum(axis=1)
    assert np.median(kept) > 0.99 and kept.min() > 0.85
    assert np.abs(shifted - images[:50]).sum(axis=1).min() > 1.0


@pytest.mark.slow
def test_an_mlp_misreads_shifted_digits(store_home):
    result = train(check_network(ExperimentSpec(hidden=(64,), epochs=2, center=True)))
    scores = shifted_accuracy(result.model, result.spec, result.mean)
    assert scores.plain == pytest.approx(result.test_accuracy, abs=1e-6)
    assert scores.shifted < scores.plain - 0.2  # an MLP's weights are tied to pixel positions
    assert scores.drop == pytest.approx(scores.plain - scores.shifted)


# ----------------------------------------------------------- stored runs
@pytest.mark.slow
def test_a_preset_is_found_in_the_store_as_itself_or_capped(store_home):
    store = RunStore(store_home)
    preset = get_preset("B6").spec
    capped = preset.replace(epochs=1)  # as `pretrain --epochs 1` stores it
    assert same_but_epochs(capped, preset) and not same_but_epochs(capped.replace(seed=1), preset)
    assert find_preset_run(store.list(), preset) is None
    store.save(train(check_network(capped)))
    found = find_preset_run(store.list(), preset)
    assert found is not None and found.spec == capped


@pytest.mark.slow
def test_bench_augmentation_times_both_ways():
    timing = bench_augmentation(images=200, epochs=2)
    assert isinstance(timing, AugmentationTiming)
    assert timing.with_augmentation > 0 and timing.without_augmentation > 0
    assert "with augmentation" in str(timing) and "without" in str(timing)


def test_the_augmentation_benchmark_times_the_b10_preset_itself():
    assert b10_spec() == get_preset("B10").spec and b10_spec().augmentation.active
