"""The course's lessons hold on the offline sample with shortened runs.

Each test trains real presets (capped epochs) and checks what the course concludes:
the naive model stalls while ReLU learns, L2 and dropout shrink series D's
train/test gap, and an ensemble is at least as accurate as its average member.
"""

from __future__ import annotations

import pytest

from lab.analysis.ensemble import combine, seed_specs
from lab.architecture import check_network
from lab.catalog.lessons import VOTES, Numbers, check_claim
from lab.catalog.presets import SERIES, get_preset
from lab.nn.trainer import train

pytestmark = pytest.mark.slow


def run(name: str, epochs: int):
    return train(check_network(get_preset(name, data="sample").capped(epochs).spec))


def gap(result) -> float:
    """Final training accuracy minus test accuracy: how much the model over-fits."""
    return result.final_train_accuracy - result.test_accuracy


def test_naive_sigmoid_sgd_stays_near_chance_while_relu_learns():
    naive, relu = run("A1", 50), run("A3", 50)
    assert naive.test_accuracy < 0.15  # ten digits: chance is 10%
    assert max(naive.history["val_accuracy"]) < 0.15  # it never took off
    assert relu.test_accuracy > naive.test_accuracy + 0.1
    # The sigmoid network's loss stalls at chance level, ln(10) = 2.30 (the vanishing gradient); ReLU's goes below.
    assert naive.history["loss"][-1] > 2.25
    assert relu.history["loss"][-1] < naive.history["loss"][-1] - 0.1


def test_l2_and_dropout_shrink_the_train_test_gap_of_series_d():
    baseline, l2, dropout = run("D0", 200), run("D1", 200), run("D2", 200)
    assert gap(baseline) > 0.03  # over-fitting: 23,860 weights for 500 images
    assert gap(l2) < gap(baseline)
    assert gap(dropout) < gap(baseline)
    # With the regularizer the model cannot fit the training set as closely.
    assert l2.final_train_accuracy < baseline.final_train_accuracy
    assert dropout.final_train_accuracy < baseline.final_train_accuracy


def test_an_ensemble_is_at_least_as_accurate_as_its_average_member():
    spec = get_preset("D3", data="sample").capped(3).spec
    members = [train(check_network(s)) for s in seed_specs(spec, 3)]
    ensemble = combine(members)
    assert len(set(ensemble.member_accuracies)) > 1  # different seeds, different models
    assert ensemble.soft_accuracy >= ensemble.mean_member_accuracy
    assert ensemble.hard_accuracy >= min(ensemble.member_accuracies)
    for member, accuracy in zip(members, ensemble.member_accuracies, strict=True):
        assert accuracy == pytest.approx(member.test_accuracy, abs=1e-6)
    # The catalog's sentence for it (series A's A7 claim), read by the one check on these numbers.
    (claim,) = [c for c in SERIES["A"].claims if c.kind == VOTES]
    numbers = {claim.preset: Numbers(ensemble.soft_accuracy, members=ensemble.member_accuracies)}
    assert check_claim(claim, numbers).holds is True
