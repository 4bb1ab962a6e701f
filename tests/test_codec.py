"""The one spec codec: every setting round-trips through a link, KEY=VALUE text and command-line flags."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from lab import codec
from lab.spec import SETTINGS, Augmentation, ConvBlock, ExperimentSpec
from tests.spec_examples import every_setting_changed

# Every setting away from its default, read from the spec's own descriptions: a lost setting shows.
EVERY_FIELD = every_setting_changed()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    codec.add_spec_flags(parser)
    return parser


def test_the_example_sets_every_field_and_every_key():
    assert all(
        getattr(EVERY_FIELD, f.name) != getattr(ExperimentSpec(), f.name) for f in dataclasses.fields(ExperimentSpec)
    )
    assert tuple(SETTINGS) == codec.KEYS
    assert len(codec.KEYS) == len(dataclasses.fields(ExperimentSpec)) - 1 + len(dataclasses.fields(Augmentation))
    assert "aug_elastic" in codec.KEYS and "augmentation" not in codec.KEYS
    assert set(codec.spec_to_query(EVERY_FIELD)) == set(codec.KEYS)


def test_link_round_trip_of_every_field():
    query = codec.spec_to_query(EVERY_FIELD)
    assert codec.spec_from_query(query) == EVERY_FIELD
    assert codec.spec_to_query(ExperimentSpec()) == {}


def test_settings_text_round_trip_of_every_field():
    settings = codec.spec_to_settings(EVERY_FIELD)
    assert "conv=10x5s2,40x3s1vp2d0.25l0.0001" in settings and "aug_rotation=3" in settings
    assert codec.apply_settings(ExperimentSpec(), settings) == EVERY_FIELD


def test_command_line_round_trip_of_every_field():
    args = _parser().parse_args(codec.spec_to_flags(EVERY_FIELD))
    assert codec.spec_from_flags(args) == EVERY_FIELD
    assert codec.spec_to_flags(ExperimentSpec()) == []


def test_default_valued_fields_round_trip_from_another_starting_spec():
    # Setting a field back to its default must work too: from EVERY_FIELD to the defaults.
    default = ExperimentSpec()

    def value(key):
        return getattr(default.augmentation, key[4:]) if key.startswith("aug_") else getattr(default, key)

    back = [f"{key}={codec.format_value(key, value(key))}" for key in codec.KEYS]
    assert codec.apply_settings(EVERY_FIELD, back) == ExperimentSpec()


def test_text_reads_as_a_person_would_write_it():
    spec = codec.apply_settings(
        ExperimentSpec(),
        ["conv=10x5s2,40x5s2p2", "aug_rotation=10", "hidden=50,50", "raw_pixels=true", "data_seed=3", "aug-shift=0.1"],
    )
    assert spec.conv == (ConvBlock(10, 5, 2), ConvBlock(40, 5, 2, pool=2))
    assert spec.augmentation == Augmentation(rotation=10.0, shift=0.1)
    assert spec.hidden == (50, 50) and spec.raw_pixels is True and spec.data_seed == 3
    assert codec.apply_settings(spec, ["hidden=none", "conv=none"]).hidden == ()
    assert codec.apply_settings(spec, ["epochs=3", "epochs=4"]).epochs == 4  # a later setting wins


def test_flags_keep_their_names_and_set_applies_after_them():
    args = _parser().parse_args(
        "--data fashion --init he_normal --lr 0.01 --center --nesterov --no-l2-output --conv 4x3s2 "
        "--aug-rotation 10 --raw-pixels --epochs 2 --set epochs=3 --set aug_noise=0.05".split()
    )
    spec = codec.spec_from_flags(args, ExperimentSpec(optimizer="sgd"))
    assert spec.data == "fashion" and spec.initializer == "he_normal" and spec.learning_rate == 0.01
    assert spec.center and spec.nesterov and not spec.l2_output and spec.raw_pixels
    assert spec.conv == (ConvBlock(4, 3, 2),) and spec.augmentation == Augmentation(rotation=10, noise=0.05)
    assert spec.epochs == 3
    assert codec.spec_from_flags(_parser().parse_args([]), EVERY_FIELD) == EVERY_FIELD  # no flag: base kept


def test_conv_notation_is_the_summary_s():
    spec = ExperimentSpec(conv=(ConvBlock(10, 5, 2), ConvBlock(40, 5, 2, pool=2)), hidden=(50,))
    assert codec.format_value("conv", spec.conv) == "10x5s2,40x5s2p2"
    assert "conv=10x5s2,40x5s2p2" in spec.summary()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["epochs=many"], "epochs='many' cannot be read: expected a whole number"),
        (["epochs=2.5"], "expected a whole number"),
        (["learning_rate=fast"], "expected a number"),
        (["raw_pixels=maybe"], "expected true or false"),
        (["hidden=50,big"], "comma-separated whole widths"),
        (["conv=10k5"], "'10k5' is not a conv block: write FILTERSxKERNELsSTRIDE"),
        (["colour=red"], "Unknown setting 'colour'"),
        (["epochs"], "'epochs' is not KEY=VALUE"),
    ],
)
def test_bad_text_gives_a_readable_value_error(settings, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        codec.apply_settings(ExperimentSpec(), settings)


def test_bad_links_and_flags_name_where_the_value_came_from():
    with pytest.raises(ValueError, match="The link's setting epochs='many' cannot be read"):
        codec.spec_from_query({"epochs": "many"})
    with pytest.raises(ValueError, match="The link's settings are not valid: Unknown activation 'banana'"):
        codec.spec_from_query({"activation": "banana"})
    with pytest.raises(ValueError, match="--lr 'fast' cannot be read: expected a number"):
        codec.spec_from_flags(_parser().parse_args(["--lr", "fast"]))


def test_links_ignore_keys_that_are_not_settings_and_read_the_last_value():
    spec = codec.spec_from_query({"preset": "B2", "epochs": ["3", "4"], "augmentation": "x"})
    assert spec == ExperimentSpec(epochs=4)
