"""The experiment spec: validation, JSON round trip, stable names, parameter counts without TF."""

import dataclasses
import subprocess
import sys

import pytest

from lab.architecture import check_network, count_params, count_trainable, layer_infos
from lab.catalog.presets import get_preset
from lab.spec import Augmentation, ConvBlock, ExperimentSpec

COURSE_MODELS = {
    # name: (spec changes, total params, trainable params) from the course's model summaries
    "B1": (dict(hidden=()), 7_850, 7_850),
    "B2": (dict(hidden=(50,)), 39_760, 39_760),
    "B5": (dict(hidden=(500, 500)), 648_010, 648_010),
    "C2": (dict(hidden=(556, 156)), 524_922, 524_922),
    "C3": (dict(hidden=(580, 325, 125), batchnorm="after", dropout=0.5), 690_255, 688_195),
    "C4": (dict(hidden=(658, 525, 410, 350, 150), batchnorm="after", dropout=0.5), 1_284_547, None),
    "D0": (dict(hidden=(30,), output="sigmoid_mse"), 23_860, 23_860),
}


@pytest.mark.parametrize("name", COURSE_MODELS)
def test_parameter_counts_match_the_course(name):
    changes, total, trainable = COURSE_MODELS[name]
    spec = ExperimentSpec(**changes)
    assert count_params(spec) == total
    if trainable is not None:
        assert count_trainable(spec) == trainable


def test_json_round_trip_keeps_every_field():
    spec = ExperimentSpec(
        hidden=(30, 20),
        conv=(ConvBlock(10, 5, 2), ConvBlock(40, 5, 2, pool=2, dropout=0.5, l2=1e-4)),
        augmentation=Augmentation(rotation=10, shift=0.2),
        activation="elu",
        batchnorm="before",
        dropout=0.2,
        l2=1e-4,
        optimizer="sgd",
        momentum=0.9,
        nesterov=True,
        early_stopping=5,
        data="idx:/tmp/x",
    )
    again = ExperimentSpec.from_json(spec.to_json())
    assert again == spec
    assert hash(again) == hash(spec)
    assert again.run_id == spec.run_id


def test_run_id_is_stable_and_distinguishes_specs():
    a = ExperimentSpec(hidden=(50,))
    assert a.run_id == ExperimentSpec(hidden=[50]).run_id  # list or tuple: same run
    assert ExperimentSpec(learning_rate=1).run_id == ExperimentSpec(learning_rate=1.0).run_id
    assert a.run_id != a.replace(seed=1).run_id
    assert len(a.run_id) == 12


def test_run_id_is_stable_across_processes():
    code = "from lab.spec import ExperimentSpec; print(ExperimentSpec(hidden=(50,), seed=3).run_id)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ExperimentSpec(hidden=(50,), seed=3).run_id


def test_default_fields_do_not_enter_the_hash():
    # A field added later with a default must not rename stored runs: the hash
    # covers only the fields that differ from their defaults.
    spec = ExperimentSpec(hidden=(50,), epochs=3)
    assert set(spec.to_dict(omit_defaults=True)) == {"hidden", "epochs"}


@pytest.mark.parametrize(
    "changes, words",
    [
        (dict(activation="relu6"), "Unknown activation 'relu6'"),
        (dict(optimizer="adamw"), "Unknown optimizer"),
        (dict(initializer="zeros"), "Unknown initializer"),
        (dict(hidden=(50, 0)), "Hidden layer 2 has width 0"),
        (dict(dropout=1.0), "dropout is 1.0"),
        (dict(dropout=-0.1), "dropout"),
        (dict(learning_rate=0), "learning rate is 0.0"),
        (dict(learning_rate=-1), "learning rate"),
        (dict(hidden=(4000, 4000)), "parameters, more than the budget of 5,000,000"),
        (dict(data="cifar"), "Unknown data source"),
        (dict(batchnorm="middle"), "Unknown batchnorm"),
        (dict(conv=(ConvBlock(filters=0),)), "Conv block 1"),
        (dict(augmentation=Augmentation(shift=1.5)), "fractions below 1"),
    ],
)
def test_invalid_specs_raise_a_readable_value_error(changes, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        check_network(ExperimentSpec(**changes))


def test_param_budget_is_configurable():
    spec = ExperimentSpec(hidden=(1000,))
    check_network(spec)
    with pytest.raises(ValueError, match="budget of 100,000"):
        check_network(spec, param_budget=100_000)


def test_spec_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ExperimentSpec().epochs = 3


def test_layer_table_names_batchnorm_positions():
    before = [i.kind for i in layer_infos(ExperimentSpec(hidden=(8,), batchnorm="before", dropout=0.1))]
    after = [i.kind for i in layer_infos(ExperimentSpec(hidden=(8,), batchnorm="after"))]
    assert before == ["dense", "batchnorm", "activation", "dropout", "output"]
    assert after == ["dense", "batchnorm", "output"]


def test_summary_reads_like_the_network():
    assert ExperimentSpec(hidden=(50, 50), epochs=5).summary().startswith("784-50-50-10 relu adam")


def test_settings_that_do_not_apply_do_not_rename_the_run():
    adam = ExperimentSpec(optimizer="adam")
    assert ExperimentSpec(optimizer="adam", momentum=0.9, nesterov=True).run_id == adam.run_id
    assert ExperimentSpec(init_stddev=0.3).run_id == ExperimentSpec().run_id
    assert ExperimentSpec(es_monitor="val_accuracy").run_id == ExperimentSpec().run_id
    sgd = ExperimentSpec(optimizer="sgd", momentum=0.9)
    assert sgd.momentum == 0.9 and sgd.run_id != ExperimentSpec(optimizer="sgd").run_id


def test_raw_pixels_is_its_own_run_and_shows_in_the_summary():
    spec = ExperimentSpec(hidden=(50,))
    raw = spec.replace(raw_pixels=True)
    assert raw.run_id != spec.run_id and "raw 0-255" in raw.summary()
    assert ExperimentSpec.from_dict(raw.to_dict()) == raw


def test_summary_tells_apart_runs_that_differ_in_momentum_batch_or_seed():
    base = ExperimentSpec(hidden=(50,), optimizer="sgd", learning_rate=0.1)
    variants = [base, base.replace(momentum=0.9), base.replace(momentum=0.9, nesterov=True),
                base.replace(batch_size=256), base.replace(seed=3)]  # fmt: skip
    summaries = [v.summary() for v in variants]
    assert len(set(summaries)) == len(variants)
    assert "momentum=0.9 nesterov" in summaries[2] and "batch=256" in summaries[3] and "seed=3" in summaries[4]


# Run ids computed before the lab was reorganised (issue 11): a stored run must keep its name.
PINNED_RUN_IDS = {
    ("A1", "sample"): "42347cf0ad26",
    ("A8", "sample"): "54e231dff819",
    ("B6", "sample"): "049031c1cf30",  # conv
    ("B10", "sample"): "02bc5b8aea60",  # conv, dropout, augmentation, early stopping
    ("C3", "sample"): "37f59abe6a26",
    ("D5", "sample"): "f4eea0e1709f",
    ("A1", "mnist"): "f3786712aec2",
    ("B10", "mnist"): "9f90b60d177c",
    ("D1", "mnist"): "119e0ed81015",
}


def test_run_ids_of_existing_runs_are_pinned():
    assert ExperimentSpec().run_id == "44136fa355b3"
    found = {(name, data): get_preset(name, data=data).spec.run_id for name, data in PINNED_RUN_IDS}
    assert found == PINNED_RUN_IDS
