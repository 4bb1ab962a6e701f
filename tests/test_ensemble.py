"""Ensembles, Wilson intervals and McNemar's test, checked against hand computations."""

import math

import numpy as np
import pytest

from lab.analysis.ensemble import (
    combine,
    format_interval,
    hard_vote,
    mcnemar_test,
    seed_specs,
    soft_vote,
    wilson_interval,
)
from lab.nn.result import RunResult
from lab.spec import ExperimentSpec

SPEC = ExperimentSpec(data="sample", hidden=(8,), epochs=1)


def fake_run(probs, spec=SPEC, seed=0):
    """A stored-looking run with the given test probabilities (no training)."""
    probs = np.asarray(probs, dtype=np.float32)
    spec = spec.replace(seed=seed)
    return RunResult(
        spec=spec,
        history={},
        test_loss=0.0,
        test_accuracy=0.0,
        confusion=np.zeros((10, 10), int),
        test_probs=probs,
        epochs_run=1,
        best_epoch=None,
        train_seconds=0.0,
        diverged=False,
        stopped=False,
        params=0,
    )


def one_hot_probs(predictions, confidence=0.9):
    """Probabilities that put ``confidence`` on each predicted digit and spread the rest."""
    out = np.full((len(predictions), 10), (1 - confidence) / 9)
    out[np.arange(len(predictions)), predictions] = confidence
    return out


def test_soft_vote_is_the_mean_of_the_probabilities():
    a = [[0.6, 0.4] + [0] * 8]
    b = [[0.2, 0.8] + [0] * 8]
    assert np.allclose(soft_vote([np.array(a), np.array(b)]), [[0.4, 0.6] + [0] * 8])


def test_soft_and_hard_voting_can_disagree():
    # Image 0: two members lean to 1, one is very sure of 0.
    labels = np.array([0])
    m1 = np.array([[0.45, 0.55] + [0] * 8])
    m2 = np.array([[0.45, 0.55] + [0] * 8])
    m3 = np.array([[0.99, 0.01] + [0] * 8])
    assert hard_vote([m1, m2, m3]).tolist() == [1]  # majority: two votes for 1
    assert soft_vote([m1, m2, m3]).argmax(axis=1).tolist() == [0]  # mean: 0.63 for 0
    result = combine([fake_run(m1), fake_run(m2, seed=1), fake_run(m3, seed=2)], labels=labels)
    assert result.member_accuracies == (0.0, 0.0, 1.0)
    assert result.soft_accuracy == 1.0 and result.hard_accuracy == 0.0


def test_hard_vote_ties_go_to_the_more_confident_member():
    m1 = np.array([[0.9, 0.1] + [0] * 8])
    m2 = np.array([[0.4, 0.6] + [0] * 8])
    assert hard_vote([m1, m2]).tolist() == [0]
    m1 = np.array([[0.55, 0.45] + [0] * 8])
    m2 = np.array([[0.0, 1.0] + [0] * 8])
    assert hard_vote([m1, m2]).tolist() == [1]


def test_ensemble_of_three_members_hand_computed():
    labels = np.array([0, 1, 2, 3, 4])
    members = [
        one_hot_probs([0, 1, 2, 9, 9]),  # 3/5 right
        one_hot_probs([0, 9, 2, 3, 9]),  # 3/5
        one_hot_probs([9, 1, 9, 3, 4]),  # 3/5
    ]
    result = combine([fake_run(p, seed=i) for i, p in enumerate(members)], labels=labels)
    assert result.member_accuracies == (0.6, 0.6, 0.6)
    assert result.mean_member_accuracy == pytest.approx(0.6)
    # Images 0-3 have two right votes out of three; image 4 has one (and two wrong votes for 9).
    assert result.hard_accuracy == pytest.approx(0.8)
    assert result.soft_accuracy == pytest.approx(0.8)
    assert result.hard_predictions.tolist() == [0, 1, 2, 3, 9]
    assert result.n_test == 5 and len(result.run_ids) == 3


def test_members_must_share_the_test_set():
    labels = np.array([0, 1])
    a = fake_run(one_hot_probs([0, 1]))
    b = fake_run(one_hot_probs([0, 1]), spec=SPEC.replace(data="fashion"))
    with pytest.raises(ValueError, match="different test sets"):
        combine([a, b], labels=labels)
    c = fake_run(one_hot_probs([0, 1]), spec=SPEC.replace(test_subset=100))
    with pytest.raises(ValueError, match="different test sets"):
        combine([a, c], labels=labels)
    # Other training data or centering is fine: the test images are the same.
    d = fake_run(one_hot_probs([0, 1]), spec=SPEC.replace(train_subset=0.5, center=True))
    assert combine([a, d], labels=labels).soft_accuracy == 1.0


def test_a_member_with_the_wrong_number_of_predictions_is_refused():
    with pytest.raises(ValueError, match="test images"):
        combine([fake_run(one_hot_probs([0, 1, 2]))], labels=np.array([0, 1]))
    with pytest.raises(ValueError, match="at least one"):
        combine([], labels=np.array([0]))


def test_labels_come_from_the_data_when_not_given():
    from lab.data.prepare import prepare

    labels = prepare(SPEC).labels_test
    perfect = fake_run(one_hot_probs(labels))
    assert combine([perfect]).soft_accuracy == 1.0


def test_seed_specs_change_only_the_seed():
    specs = seed_specs(SPEC.replace(seed=7), 3)
    assert [s.seed for s in specs] == [7, 8, 9]
    assert all(s.replace(seed=0) == SPEC for s in specs)
    assert len({s.run_id for s in specs}) == 3
    with pytest.raises(ValueError):
        seed_specs(SPEC, 0)


@pytest.mark.parametrize(
    ("accuracy", "n", "expected"),
    [
        (0.9, 100, (0.8256, 0.9448)),  # textbook values of the Wilson score interval
        (0.5, 10, (0.2366, 0.7634)),
        (1.0, 10, (0.7225, 1.0)),
        (0.0, 20, (0.0, 0.1611)),
    ],
)
def test_wilson_interval_matches_hand_computation(accuracy, n, expected):
    lo, hi = wilson_interval(accuracy, n)
    assert lo == pytest.approx(expected[0], abs=1e-4)
    assert hi == pytest.approx(expected[1], abs=1e-4)


def test_wilson_interval_narrows_with_more_test_images():
    small = wilson_interval(0.92, 1_000)
    large = wilson_interval(0.92, 10_000)
    assert small[0] < large[0] < 0.92 < large[1] < small[1]
    assert format_interval(0.92, 1_000) == "92.0% (90.2–93.5%)"
    assert format_interval(math.nan, 1_000) == "diverged"
    with pytest.raises(ValueError):
        wilson_interval(0.5, 0)


def _pair(only_a, only_b, both_right=150, both_wrong=10):
    """Predictions of two runs with a known McNemar table."""
    n = both_right + only_a + only_b + both_wrong
    labels = np.zeros(n, dtype=int)
    pred_a = np.zeros(n, dtype=int)
    pred_b = np.zeros(n, dtype=int)
    i = both_right
    pred_b[i : i + only_a] = 1  # A right, B wrong
    i += only_a
    pred_a[i : i + only_b] = 1  # B right, A wrong
    i += only_b
    pred_a[i:] = pred_b[i:] = 2  # both wrong
    return fake_run(one_hot_probs(pred_a)), fake_run(one_hot_probs(pred_b), seed=1), labels


def test_mcnemar_finds_a_lopsided_split_real():
    a, b, labels = _pair(only_a=30, only_b=10)
    result = mcnemar_test(a, b, labels, names=("A3", "A1"))
    assert result.table.tolist() == [[150, 30], [10, 10]]
    # Chi-squared with continuity correction: (|30 - 10| - 1)^2 / 40 = 9.025, p = 0.00266.
    assert result.statistic == pytest.approx(9.025)
    assert result.p_value == pytest.approx(0.002663, rel=1e-3)
    assert result.significant and not result.exact
    assert result.verdict.startswith("The difference is real")
    assert "A3 gets 30 test images right that A1 gets wrong" in result.verdict


def test_mcnemar_calls_an_even_split_luck():
    a, b, labels = _pair(only_a=14, only_b=10)
    result = mcnemar_test(a, b, labels, names=("left", "right"))
    assert result.exact  # 24 discordant images: the exact binomial test
    assert result.p_value == pytest.approx(0.5413, abs=1e-3)
    assert not result.significant
    assert result.verdict.startswith("No evidence of a real difference")


def test_mcnemar_with_identical_predictions():
    a, b, labels = _pair(only_a=0, only_b=0)
    result = mcnemar_test(a, b, labels)
    assert result.p_value == 1.0 and not result.significant
    assert "exactly the same" in result.verdict


def test_mcnemar_refuses_runs_on_different_test_sets():
    a = fake_run(one_hot_probs([0, 1]))
    b = fake_run(one_hot_probs([0, 1]), spec=SPEC.replace(data="mnist"))
    with pytest.raises(ValueError, match="different test sets"):
        mcnemar_test(a, b, np.array([0, 1]))
