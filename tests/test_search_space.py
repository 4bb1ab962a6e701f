"""The search text: what a teacher types after --search, read into knobs, made into trial specs, or refused."""

from __future__ import annotations

import math

import pytest

from lab.catalog.presets import get_preset
from lab.search.runner import TrialRow, best_trial, importances
from lab.search.space import AUG_AT_ONE, SearchSpace
from lab.spec import ConvBlock, ExperimentSpec


def test_issue_example_parses_into_three_knobs():
    space = SearchSpace.parse("lr=1e-4:1e-1:log,dropout=0:0.5,hidden=64|128|256")
    assert space.names == ("learning_rate", "dropout", "hidden")
    lr, dropout, hidden = space.knobs
    assert (lr.low, lr.high, lr.log) == (1e-4, 1e-1, True)
    assert (dropout.low, dropout.high, dropout.log) == (0.0, 0.5, False)
    assert hidden.choices == ("64", "128", "256")
    assert SearchSpace.parse(space.text()) == space  # printed and read back


def test_commas_inside_a_choice_belong_to_it():
    space = SearchSpace.parse("hidden=128|256,256,activation=relu|tanh")
    assert space.knobs[0].choices == ("128", "256,256")
    spec = space.apply(ExperimentSpec(), {"hidden": "256,256", "activation": "tanh"})
    assert spec.hidden == (256, 256) and spec.activation == "tanh"


def test_apply_sets_numbers_with_the_settings_types():
    space = SearchSpace.parse("batch_size=32:256:log,l2=1e-6:1e-2:log,layers=1:3,units=16:64")
    assert [k.integer for k in space.knobs] == [True, False, True, True]
    spec = space.apply(ExperimentSpec(), {"batch_size": 64, "l2": 0.001, "layers": 3, "units": 48})
    assert spec.batch_size == 64 and spec.l2 == 0.001 and spec.hidden == (48, 48, 48)
    # The same values name the same run: a second search finds it in the store.
    same = space.apply(ExperimentSpec(), {"batch_size": 64.0, "l2": 1e-3, "layers": 3, "units": 48})
    assert spec.run_id == same.run_id


def test_filters_and_augmentation_strength_for_cnns():
    base = ExperimentSpec(conv=(ConvBlock(8, 3, 2), ConvBlock(16, 3, 2)), hidden=(32,))
    spec = SearchSpace.parse("filters=4:32,aug=0:1").apply(base, {"filters": 12, "aug": 0.5})
    assert [b.filters for b in spec.conv] == [12, 12]
    assert spec.augmentation.rotation == AUG_AT_ONE.rotation / 2 and spec.augmentation.shift == AUG_AT_ONE.shift / 2


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "at least one setting"),
        ("  ", "at least one setting"),
        ("lr=0.1:0.001", "low end 0.1 is above the high end 0.001"),
        ("lr=0:0.1:log", "log range cannot reach zero"),
        ("l2=0:1e-2:log", "log range cannot reach zero"),
        ("wings=1:2", "Unknown setting 'wings'"),
        ("activation=0:1", "is not a number"),
        ("activation=relu|swish2", "'swish2' is not a value"),
        ("batch_size=16.5:64", "whole number"),
        ("lr=1e-4:1e-1,lr=0.1|0.2", "given twice"),
        ("dropout", "is not a knob"),
        ("lr=a:b", "must be numbers"),
    ],
)
def test_bad_search_text_says_what_to_write(text, words):
    with pytest.raises(ValueError, match=words):
        SearchSpace.parse(text)


def test_values_a_spec_cannot_take_are_refused_before_any_training():
    with pytest.raises(ValueError, match="dropout=1.5 cannot be trained"):
        SearchSpace.parse("dropout=0:1.5").check(ExperimentSpec())


def test_a_search_over_the_parameter_limit_is_refused():
    space = SearchSpace.parse("layers=1:4,units=64:2048")
    space.check(ExperimentSpec(), param_budget=20_000_000)  # fits a large budget
    with pytest.raises(ValueError, match="over the limit.*parameters, more than the budget of 1,000,000"):
        space.check(ExperimentSpec(), param_budget=1_000_000)


def test_filters_need_a_cnn_to_start_from():
    with pytest.raises(ValueError, match="start from a CNN"):
        SearchSpace.parse("filters=4:16").check(get_preset("A3").spec)


def _row(number, state, curve, **params):
    params = params or {"dropout": 0.1 * number}
    return TrialRow(number, f"t{number}", f"r{number}", params, state, len(curve), 3, curve)


def test_best_trial_is_the_best_finished_one_never_a_diverged_one():
    rows = [
        _row(1, "finished", [0.8, 0.85, 0.86]),
        _row(2, "stopped", [0.87]),  # higher, but never trained to the end
        _row(3, "diverged", [0.95, math.nan]),
        _row(4, "finished", [0.8, 0.9, 0.88]),
    ]
    assert best_trial(rows).number == 4
    assert best_trial([rows[1]]).number == 2  # nothing finished: the best that reported
    assert best_trial([]) is None


def test_importances_name_the_setting_that_decides():
    space = SearchSpace.parse("dropout=0:0.5,batch_size=32|64")
    rows = [
        TrialRow(i, f"t{i}", f"r{i}", {"dropout": d, "batch_size": b}, "finished", 1, 1, [0.9 - d])
        for i, (d, b) in enumerate([(0.0, "32"), (0.1, "64"), (0.2, "32"), (0.3, "64"), (0.4, "32"), (0.5, "64")])
    ]
    found = importances(space, rows, seed=0)
    assert set(found) == {"dropout", "batch_size"}
    assert found["dropout"] > found["batch_size"]
    assert importances(space, rows[:1]) == {}
