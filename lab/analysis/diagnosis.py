"""Read a run's training curves the way a teacher would: over-fitting, under-fitting, or neither.

The rules are deliberately simple, so that a student can check them on the
curves: over-fitting is a validation loss that bottomed out a while ago while
training accuracy pulls away from validation accuracy; under-fitting is a
network that cannot even fit its own training images.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

OVERFIT_MIN_EPOCHS = 3  # fewer epochs cannot show a validation loss that fell and rose again
OVERFIT_EPOCHS_AFTER_BEST = 2  # the lowest validation loss must lie at least this many epochs before the last
OVERFIT_MIN_GAP = 0.02  # training accuracy this far above validation accuracy (2 points) is more than noise
UNDERFIT_MAX_TRAIN_ACCURACY = 0.5  # below this, even the training images are mostly wrong

OVERFITTING = "over-fitting"
UNDERFITTING = "under-fitting"


@dataclass(frozen=True)
class Diagnosis:
    """What a run's curves show.

    Attributes
    ----------
    kind : str
        ``"over-fitting"`` or ``"under-fitting"``.
    best_epoch : int
        The epoch (from 1) of the lowest validation loss.
    gap : float
        Final training accuracy minus final validation accuracy (NaN without validation accuracy).
    """

    kind: str
    best_epoch: int
    gap: float

    @property
    def text(self) -> str:
        """The diagnosis in one or two sentences, with what to try."""
        if self.kind == OVERFITTING:
            return (
                f"Over-fitting: the validation loss was lowest at epoch {self.best_epoch} and rose after it, while "
                f"training accuracy is {self.gap:.1%} above validation accuracy. Try dropout, L2, early stopping or "
                "more data."
            )
        return (
            "Under-fitting: even the training accuracy is low. Try ReLU, a larger learning rate, Adam or more epochs."
        )


def diagnose_fit(history: Mapping[str, Sequence[float]], diverged: bool = False) -> Diagnosis | None:
    """Over-fitting, under-fitting, or None when the curves show neither (or cannot tell).

    Parameters
    ----------
    history : mapping
        A Keras history: ``accuracy``, ``val_accuracy``, ``val_loss`` per epoch.
    diverged : bool
        A diverged run's curves say nothing about fitting: None.

    Returns
    -------
    Diagnosis or None
        None without validation loss or training accuracy too.
    """
    val_loss = np.asarray(history.get("val_loss") or [], dtype=float)
    train_acc = history.get("accuracy") or []
    if diverged or not len(val_loss) or not train_acc:
        return None
    gap = train_acc[-1] - (history.get("val_accuracy") or [math.nan])[-1]
    best = int(np.nanargmin(val_loss)) if np.isfinite(val_loss).any() else len(val_loss) - 1
    overfits = (
        len(val_loss) >= OVERFIT_MIN_EPOCHS
        and best <= len(val_loss) - 1 - OVERFIT_EPOCHS_AFTER_BEST
        and gap > OVERFIT_MIN_GAP
    )
    if overfits:
        return Diagnosis(OVERFITTING, best + 1, gap)
    if train_acc[-1] < UNDERFIT_MAX_TRAIN_ACCURACY:
        return Diagnosis(UNDERFITTING, best + 1, gap)
    return None
