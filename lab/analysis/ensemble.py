"""Ensembles of runs, and whether a difference in accuracy is real.

Everything here works on stored results (``RunResult.test_probs``): plain numpy,
no TensorFlow, so a page can combine and compare runs in milliseconds.

- Soft voting averages the members' class probabilities (course A7, scikit-learn's
  ``VotingClassifier(voting="soft")``); hard voting lets each member vote for one digit.
- The Wilson interval gives the range a test accuracy is compatible with, given
  the number of test images.
- McNemar's test asks whether two runs' accuracies differ by more than chance,
  from the test images on which exactly one of them is right.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lab.architecture import NUM_CLASSES
from lab.data.prepare import prepare
from lab.nn.result import RunResult
from lab.spec import ExperimentSpec

Z_95 = 1.959963984540054  # two-sided 95% quantile of the standard normal
EXACT_BELOW = 25  # discordant pairs below which McNemar's chi-squared is unreliable: use the exact test


# ------------------------------------------------------------------ members
def seed_specs(spec: ExperimentSpec, n: int) -> list[ExperimentSpec]:
    """``n`` copies of ``spec`` with seeds ``spec.seed, spec.seed + 1, ...``: same data, other initial weights.

    Raises
    ------
    ValueError
        When ``n`` is below 1.
    """
    if n < 1:
        raise ValueError("An ensemble needs at least one member.")
    return [spec.replace(seed=spec.seed + i) for i in range(n)]


def evaluation_key(spec: ExperimentSpec) -> tuple[str, int]:
    """The spec fields that decide which images are in the test set (source and test subset)."""
    return spec.data, spec.test_subset


def check_same_test_set(specs: Sequence[ExperimentSpec]) -> None:
    """Raise ValueError unless every spec is evaluated on the same test images.

    Centering and the training subset do not matter: they change the inputs'
    preparation or the training data, not which images are tested.
    """
    keys = {evaluation_key(s) for s in specs}
    if len(keys) > 1:
        described = "; ".join(f"data {d}, test subset {t or 'all'}" for d, t in sorted(keys))
        raise ValueError(
            f"These runs were tested on different test sets ({described}): "
            "only runs tested on the same images can be combined or compared."
        )


def true_labels(spec: ExperimentSpec) -> np.ndarray:
    """The true digits of ``spec``'s test set (loads the data source once per process)."""
    return prepare(spec).labels_test


def _probs(results: Sequence[RunResult], labels: np.ndarray | None) -> tuple[list[np.ndarray], np.ndarray]:
    if not results:
        raise ValueError("Choose at least one run.")
    check_same_test_set([r.spec for r in results])
    labels = true_labels(results[0].spec) if labels is None else np.asarray(labels)
    probs = []
    for r in results:
        p = np.asarray(r.test_probs, dtype=np.float64)
        if p.shape != (len(labels), NUM_CLASSES):
            raise ValueError(
                f"Run {r.run_id} has predictions for {p.shape[0]} test images, the test set has {len(labels)}: "
                "train it again with this version of the lab."
            )
        probs.append(np.nan_to_num(p, nan=0.0))  # a diverged member votes for nothing
    return probs, labels


# ------------------------------------------------------------------ voting
def soft_vote(probs: Sequence[np.ndarray]) -> np.ndarray:
    """Mean class probabilities of the members, (n, 10)."""
    return np.mean(np.stack([np.asarray(p, dtype=np.float64) for p in probs]), axis=0)


def hard_vote(probs: Sequence[np.ndarray]) -> np.ndarray:
    """The digit most members predict, per test image.

    Ties are broken by the summed probabilities of the tied digits (with two
    members, the more confident one wins), not by the smaller digit.
    """
    stacked = np.stack([np.asarray(p, dtype=np.float64) for p in probs])  # (members, n, 10)
    votes = np.zeros(stacked.shape[1:])
    picks = stacked.argmax(axis=2)  # (members, n)
    rows = np.arange(stacked.shape[1])
    for member_picks in picks:
        votes[rows, member_picks] += 1
    # Each extra vote outweighs any probability sum (at most the number of members).
    tie_break = stacked.sum(axis=0) / (len(stacked) + 1)
    return np.argmax(votes + tie_break, axis=1)


@dataclass(frozen=True)
class EnsembleResult:
    """The members' accuracies beside the ensemble's.

    Attributes
    ----------
    run_ids : tuple[str, ...]
        The members.
    member_accuracies : tuple[float, ...]
        Each member's test accuracy, recomputed from its probabilities.
    soft_accuracy : float
        Accuracy of the averaged probabilities.
    hard_accuracy : float
        Accuracy of the majority vote.
    soft_probs : np.ndarray
        (n, 10) averaged probabilities.
    hard_predictions : np.ndarray
        (n,) majority-vote digits.
    n_test : int
        Number of test images.
    """

    run_ids: tuple[str, ...]
    member_accuracies: tuple[float, ...]
    soft_accuracy: float
    hard_accuracy: float
    soft_probs: np.ndarray
    hard_predictions: np.ndarray
    n_test: int

    @property
    def mean_member_accuracy(self) -> float:
        """The average member's accuracy."""
        return float(np.mean(self.member_accuracies))

    @property
    def best_member_accuracy(self) -> float:
        """The best member's accuracy."""
        return float(np.max(self.member_accuracies))

    @property
    def soft_predictions(self) -> np.ndarray:
        """Soft-voting digits."""
        return np.argmax(self.soft_probs, axis=1)


def combine(results: Sequence[RunResult], labels: np.ndarray | None = None) -> EnsembleResult:
    """Soft and hard voting over ``results``, with each member's accuracy.

    Parameters
    ----------
    results : sequence of RunResult
        The members; they must share the test set.
    labels : np.ndarray, optional
        True test digits; default ``lab.data.prepare.prepare(spec).labels_test``.

    Raises
    ------
    ValueError
        When the members were tested on different test sets, or none is given.
    """
    probs, labels = _probs(results, labels)
    member_acc = tuple(float(np.mean(p.argmax(axis=1) == labels)) for p in probs)
    soft = soft_vote(probs)
    hard = hard_vote(probs)
    return EnsembleResult(
        run_ids=tuple(r.run_id for r in results),
        member_accuracies=member_acc,
        soft_accuracy=float(np.mean(soft.argmax(axis=1) == labels)),
        hard_accuracy=float(np.mean(hard == labels)),
        soft_probs=soft,
        hard_predictions=hard,
        n_test=len(labels),
    )


# ------------------------------------------------------------- intervals
def wilson_interval(accuracy: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval (95% by default) for an accuracy measured on ``n`` test images.

    Unlike ``accuracy ± 1.96·√(p(1-p)/n)`` it stays within [0, 1] and behaves at 0% and 100%.

    Raises
    ------
    ValueError
        For ``n`` below 1 or an accuracy outside [0, 1].
    """
    if n < 1:
        raise ValueError("An interval needs at least one test image.")
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"Accuracy {accuracy} is not between 0 and 1.")
    z2 = z * z
    centre = (accuracy + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(accuracy * (1 - accuracy) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def format_interval(accuracy: float, n: int) -> str:
    """``92.1% (90.3–93.6%)``; ``diverged`` for a NaN accuracy."""
    if accuracy is None or not math.isfinite(accuracy):
        return "diverged"
    lo, hi = wilson_interval(accuracy, n)
    return f"{accuracy:.1%} ({lo * 100:.1f}–{hi:.1%})"


# ---------------------------------------------------------------- McNemar
@dataclass(frozen=True)
class McNemarResult:
    """McNemar's test of two runs on the same test images.

    Attributes
    ----------
    table : np.ndarray
        2x2 counts: [both right, only A right], [only B right, both wrong].
    only_a, only_b : int
        Test images only run A (only run B) gets right.
    statistic : float or None
        Chi-squared with continuity correction; None for the exact test.
    p_value : float
        Chance of a split at least this lopsided if both runs were equally accurate.
    exact : bool
        Whether the exact binomial test was used (fewer than 25 discordant images).
    accuracy_a, accuracy_b : float
        The two accuracies on these images.
    verdict : str
        The conclusion in plain words.
    """

    table: np.ndarray
    only_a: int
    only_b: int
    statistic: float | None
    p_value: float
    exact: bool
    accuracy_a: float
    accuracy_b: float
    verdict: str

    @property
    def significant(self) -> bool:
        """p below 0.05."""
        return self.p_value < 0.05


def mcnemar_test(
    a: RunResult,
    b: RunResult,
    labels: np.ndarray | None = None,
    *,
    names: tuple[str, str] = ("A", "B"),
    alpha: float = 0.05,
) -> McNemarResult:
    """Is the difference between two runs real? McNemar's test on their test predictions.

    Parameters
    ----------
    a, b : RunResult
        Two runs tested on the same images.
    labels : np.ndarray, optional
        True test digits; default from the data.
    names : (str, str)
        How the verdict calls the two runs.
    alpha : float
        Significance level of the verdict.

    Raises
    ------
    ValueError
        When the runs were tested on different test sets.
    """
    (pa, pb), labels = _probs([a, b], labels)
    return mcnemar_predictions(pa.argmax(axis=1), pb.argmax(axis=1), labels, names=names, alpha=alpha)


def mcnemar_predictions(
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    labels: np.ndarray,
    *,
    names: tuple[str, str] = ("A", "B"),
    alpha: float = 0.05,
) -> McNemarResult:
    """McNemar's test on two sets of predicted digits for the same test images (a run's, or an ensemble's)."""
    from mlxtend.evaluate import mcnemar, mcnemar_table  # lazy: mlxtend imports scikit-learn and pandas

    pred_a, pred_b, labels = np.asarray(pred_a), np.asarray(pred_b), np.asarray(labels)
    table = mcnemar_table(y_target=labels, y_model1=pred_a, y_model2=pred_b)
    only_a, only_b = int(table[0, 1]), int(table[1, 0])
    exact = only_a + only_b < EXACT_BELOW
    if only_a + only_b == 0:
        statistic, p_value = None if exact else 0.0, 1.0  # identical mistakes: nothing to test
    else:
        statistic, p_value = mcnemar(table, corrected=True, exact=exact)
        statistic = None if statistic is None else float(statistic)
    acc_a, acc_b = float(np.mean(pred_a == labels)), float(np.mean(pred_b == labels))
    verdict = _verdict(names, acc_a, acc_b, only_a, only_b, float(p_value), alpha, len(labels))
    return McNemarResult(table, only_a, only_b, statistic, float(p_value), exact, acc_a, acc_b, verdict)


def _verdict(
    names: tuple[str, str], acc_a: float, acc_b: float, only_a: int, only_b: int, p: float, alpha: float, n: int
) -> str:
    name_a, name_b = names
    if only_a + only_b == 0:
        return f"{name_a} and {name_b} get exactly the same {n:,} test images right: there is no difference to test."
    better, worse = (name_a, name_b) if acc_a >= acc_b else (name_b, name_a)
    wins, losses = max(only_a, only_b), min(only_a, only_b)
    split = (
        f"{better} gets {wins} test image{'s' if wins != 1 else ''} right that {worse} gets wrong, "
        f"and {worse} gets {losses} right that {better} gets wrong"
    )
    if p < alpha:
        odds = "1 time in 1,000" if p < 0.001 else f"{p:.1%} of the time"
        return (
            f"The difference is real: {split}. If the two were equally good, a split this lopsided would "
            f"happen only {odds} (McNemar p = {p:.3g}). {better} is more accurate on this test set."
        )
    return (
        f"No evidence of a real difference: {split}. Two equally good models would split this unevenly "
        f"{p:.0%} of the time (McNemar p = {p:.3g}): the gap of {abs(acc_a - acc_b):.1%} may be luck. "
        "More test images, or several seeds of each, would tell."
    )
