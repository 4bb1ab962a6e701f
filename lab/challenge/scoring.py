"""A run's challenge scores: its accuracy on the held-out digits, the public half and the private half.

The only reader of ``lab.data.held_out`` besides the tests: the digits stay here, and only two
numbers leave.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lab.data.held_out import load_held_out
from lab.data.prepare import scale_pixels
from lab.nn.forward import predict_probs
from lab.nn.result import RunResult


@dataclass(frozen=True)
class Scores:
    """Accuracy on the public half (the live leaderboard) and the private half (revealed at the end)."""

    public: float
    private: float


def score_run(result: RunResult) -> Scores:
    """Score a stored run on its data's held-out digits, as its test set was scored (its training mean, its model).

    Raises
    ------
    ValueError
        For a run with no model to run, or data that holds no digits out.
    """
    model = result.model
    if model is None:
        raise ValueError("This run has no stored model to score.")
    held = load_held_out(result.spec.data)
    probs = predict_probs(model, scale_pixels(held.x), result.mean)
    return score_probs(probs, held.y, held.public)


def score_probs(probs: np.ndarray, labels: np.ndarray, public: np.ndarray) -> Scores:
    """Accuracy of ``probs`` (n, 10) against ``labels`` on the ``public`` rows and on the rest."""
    right = np.argmax(probs, axis=1) == np.asarray(labels)
    return Scores(public=float(right[public].mean()), private=float(right[~public].mean()))
