"""Read a run the way a teacher would: over- or under-fitting from its curves, vanishing or exploding gradients.

The rules are deliberately simple, so that a student can check them on the
charts: over-fitting is a validation loss that bottomed out a while ago while
training accuracy pulls away from validation accuracy; under-fitting is a
network that cannot even fit its own training images. A gradient-health record
(``lab.health``) vanishes when the first layer's gradient is orders of magnitude
smaller than the output layer's, and explodes when it grows epoch after epoch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lab.health.readings import gradient_spread, layer_value

OVERFIT_MIN_EPOCHS = 3  # fewer epochs cannot show a validation loss that fell and rose again
OVERFIT_EPOCHS_AFTER_BEST = 2  # the lowest validation loss must lie at least this many epochs before the last
OVERFIT_MIN_GAP = 0.02  # training accuracy this far above validation accuracy (2 points) is more than noise
UNDERFIT_MAX_TRAIN_ACCURACY = 0.5  # below this, even the training images are mostly wrong
VANISHING_SPREAD = 10.0  # output layer's gradient this many times the first layer's: one order of magnitude
EXPLODING_SPREAD = 0.1  # the first layer's gradient ten times the output layer's: it grows on its way back
EXPLODING_GROWTH = 5.0  # a layer's gradient this many times its size before training has blown up
SATURATION_NOT_CAUSE = 0.1  # below this saturated share, saturation does not explain a vanishing gradient

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


# ----------------------------------------------------------- gradient health
def spread_sentence(spread: float | None) -> str:
    """The output-to-first-layer gradient ratio (``lab.health.readings.gradient_spread``) in words."""
    if spread is None:
        return "the gradient norms could not be compared (missing or not finite)"
    if spread >= VANISHING_SPREAD:
        orders = math.log10(spread)
        return (
            f"the first layer's gradient is **{spread:,.0f} times smaller** than the output layer's "
            f"({orders:.1f} orders of magnitude): a vanishing gradient"
        )
    if spread <= EXPLODING_SPREAD:
        return (
            f"the first layer's gradient is **{1 / spread:,.0f} times larger** than the output layer's: "
            "the gradient grows on its way back (exploding)"
        )
    return f"the first and the output layer's gradients are within one order of magnitude ({spread:.2g}x): healthy"


def peak_growth(health: dict[str, Any]) -> tuple[float, str, int] | None:
    """The largest factor by which a layer's gradient norm grew over its epoch-0 size: (factor, layer, epoch)."""
    best = None
    epochs = health.get("epochs", [])
    for layer in health.get("layers", []):
        norms = layer.get("grad_norm") or []
        if not norms or not norms[0]:
            continue
        for epoch, value in zip(epochs, norms, strict=False):
            if value is not None and (best is None or value / norms[0] > best[0]):
                best = (value / norms[0], layer["name"], epoch)
    return best


def health_reading(health: dict[str, Any], diverged: bool = False) -> str:
    """What a gradient-health record says, in a few Markdown sentences with its own numbers.

    Parameters
    ----------
    health : dict
        A run's record (``RunResult.health``).
    diverged : bool
        Whether the run diverged: the last epoch's numbers are then NaN or huge.
    """
    epochs = health.get("epochs", [])
    last = epochs[-1] if epochs else 0
    parts = [f"Before training, {spread_sentence(gradient_spread(health, 0))}."]
    if last > 0:
        parts.append(f"After epoch {last}, {spread_sentence(gradient_spread(health, last))}.")
    growth = peak_growth(health)
    if growth is not None and growth[0] >= EXPLODING_GROWTH:
        parts.append(
            f"The gradient grew up to **{growth[0]:,.0f} times** its size before training ({growth[1]}, epoch "
            f"{growth[2]}): an exploding gradient."
        )
    hidden = [layer for layer in health.get("layers", []) if layer.get("activation_layer")]
    saturated = [
        v for v in (layer_value(health, layer["name"], "saturated", last) for layer in hidden) if v is not None
    ]
    if saturated:
        stds = [v for v in (layer_value(health, layer["name"], "act_std", last) for layer in hidden) if v is not None]
        text = f"At most {max(saturated):.0%} of the {hidden[0]['activation']} outputs are saturated"
        if max(saturated) < SATURATION_NOT_CAUSE and stds:
            text += (
                f", so saturation is not the cause here: the outputs bunch together (standard deviation "
                f"{max(stds):.2f} at most), where the sigmoid's slope is at most 0.25"
            )
        parts.append(text + ".")
    dead = _values(health, hidden, "dead", last)
    if dead:
        parts.append(f"Up to {max(dead):.0%} of a layer's ReLU units are dead (0 for every probe image).")
    if diverged:
        parts.append("The loss exploded: the last epoch's cells show where the numbers became NaN or huge.")
    return " ".join(parts)


def _values(health: dict[str, Any], layers: Sequence[dict[str, Any]], key: str, epoch: int) -> list[float]:
    """The recorded ``key`` of each layer at ``epoch``, missing ones left out."""
    values = (layer_value(health, layer["name"], key, epoch) for layer in layers)
    return [v for v in values if v is not None]
