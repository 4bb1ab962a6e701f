"""Read a run the way a teacher would: over- or under-fitting from its curves, vanishing or exploding gradients.

The rules are deliberately simple, so that a student can check them on the
charts: over-fitting is a validation loss that bottomed out a while ago while
training accuracy pulls away from validation accuracy; under-fitting is a
network that cannot even fit its own training images. A gradient-health record
(``lab.health``) vanishes when the first layer's gradient is orders of magnitude
smaller than the output layer's in a network that does not learn, and explodes
when the run diverges or the gradient grows while the loss rises. One verdict
(``gradient_verdict``) decides, and every sentence of a reading follows it.
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
VANISHING = "vanishing"
EXPLODING = "exploding"
HEALTHY = "healthy"
UNEVEN = "uneven"  # the first layer's gradient is far smaller, yet the network learns
SLOW = "slow"  # the gradient reaches every layer, but the network has barely learned yet
LEARNED_TRAIN_ACCURACY = UNDERFIT_MAX_TRAIN_ACCURACY  # at or above: the network learned (the curves' own rule)


@dataclass(frozen=True)
class GradientVerdict:
    """What a gradient-health record and the run's curves say together, in one word and one sentence.

    Attributes
    ----------
    kind : str
        ``vanishing``, ``exploding``, ``healthy``, ``uneven`` (first layer far smaller, yet it
        learned) or ``slow`` (the gradient reaches every layer but it has barely learned).
    text : str
        The verdict in Markdown, with the numbers it rests on.
    """

    kind: str
    text: str


def spread_sentence(spread: float | None, learned: bool | None = None) -> str:
    """The output-to-first-layer gradient ratio (``lab.health.readings.gradient_spread``) in words.

    Parameters
    ----------
    spread : float or None
        Output layer's gradient norm over the first layer's.
    learned : bool, optional
        Whether the network learned by then (training accuracy at least
        ``LEARNED_TRAIN_ACCURACY``). A far smaller first-layer gradient in a
        network that learned is not called vanishing: the words follow the numbers.
    """
    if spread is None:
        return "the gradient norms could not be compared (missing or not finite)"
    if spread >= VANISHING_SPREAD:
        text = (
            f"the first layer's gradient is **{spread:,.0f} times smaller** than the output layer's "
            f"({math.log10(spread):.1f} orders of magnitude)"
        )
        return text + (
            ", yet the network learned: the gap does not hold it back" if learned else ": a vanishing gradient"
        )
    if spread <= EXPLODING_SPREAD:
        return (
            f"the first layer's gradient is **{1 / spread:,.0f} times larger** than the output layer's: "
            "the gradient grows on its way back (exploding)"
        )
    return (
        f"the first and the output layer's gradients are within one order of magnitude ({spread:.2g}x): "
        "the gradient reaches every layer"
    )


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


def learned(history: Mapping[str, Sequence[float]] | None) -> bool | None:
    """Whether the run learned: final training accuracy at least ``LEARNED_TRAIN_ACCURACY`` (None: no curves)."""
    accuracy = [a for a in (history or {}).get("accuracy") or [] if a is not None and math.isfinite(a)]
    return accuracy[-1] >= LEARNED_TRAIN_ACCURACY if accuracy else None


def loss_rose(history: Mapping[str, Sequence[float]] | None) -> bool:
    """Whether the training loss ended above where it started, or stopped being a number."""
    loss = list((history or {}).get("loss") or [])
    if not loss:
        return False
    if not all(v is not None and math.isfinite(v) for v in loss):
        return True
    return loss[-1] > loss[0]


def gradient_verdict(
    health: dict[str, Any], diverged: bool = False, history: Mapping[str, Sequence[float]] | None = None
) -> GradientVerdict:
    """One verdict for a run, from its gradient record and its curves, with the thresholds of this module.

    Exploding: the run diverged, the first layer's gradient ended ``1 / EXPLODING_SPREAD`` times the
    output layer's, or a gradient grew ``EXPLODING_GROWTH`` times while the loss rose. Vanishing: the
    first layer's gradient ended ``VANISHING_SPREAD`` times smaller and the network did not learn.
    Otherwise healthy, uneven (far smaller but it learned) or slow (not learned yet).
    """
    epochs = health.get("epochs", [])
    last = epochs[-1] if epochs else 0
    spread = gradient_spread(health, last)
    growth = peak_growth(health)
    did_learn = learned(history)
    accuracy = (history or {}).get("accuracy") or []
    trained = f"{accuracy[-1]:.0%} training accuracy" if accuracy and math.isfinite(accuracy[-1]) else ""
    grew = growth is not None and growth[0] >= EXPLODING_GROWTH
    if diverged:
        return GradientVerdict(EXPLODING, "**Exploding gradient**: the loss became NaN or exploded.")
    if spread is not None and spread <= EXPLODING_SPREAD:
        return GradientVerdict(EXPLODING, "**Exploding gradient**: it grows on its way back to the first layer.")
    if grew and loss_rose(history):
        return GradientVerdict(EXPLODING, "**Exploding gradient**: it grew while the training loss rose.")
    if spread is not None and spread >= VANISHING_SPREAD:
        if did_learn:
            return GradientVerdict(
                UNEVEN, f"**Learning** ({trained}): the first layers get a smaller gradient but still learn."
            )
        detail = f" ({trained})" if trained else ""
        return GradientVerdict(VANISHING, f"**Vanishing gradient**: the first layers barely learn{detail}.")
    if did_learn is False:
        return GradientVerdict(
            SLOW,
            f"**Gradients reach every layer, but it has barely learned yet** ({trained}): train longer or take "
            "larger steps.",
        )
    return GradientVerdict(
        HEALTHY, "**Healthy**: the gradient reaches every layer" + (f" ({trained})." if trained else ".")
    )


def health_reading(
    health: dict[str, Any], diverged: bool = False, history: Mapping[str, Sequence[float]] | None = None
) -> str:
    """What a gradient-health record says, in a few Markdown sentences with its own numbers.

    Every sentence follows ``gradient_verdict`` (same thresholds, same numbers), which ends the reading,
    so that no sentence calls the run healthy while another calls it exploding.

    Parameters
    ----------
    health : dict
        A run's record (``RunResult.health``).
    diverged : bool
        Whether the run diverged: the last epoch's numbers are then NaN or huge.
    history : mapping, optional
        The run's Keras history: whether it learned, and whether its loss rose, decide the words.
    """
    epochs = health.get("epochs", [])
    last = epochs[-1] if epochs else 0
    verdict = gradient_verdict(health, diverged, history)
    parts = [f"Before training, {spread_sentence(gradient_spread(health, 0))}."]
    if last > 0:
        parts.append(f"After epoch {last}, {spread_sentence(gradient_spread(health, last), learned(history))}.")
    growth = peak_growth(health)
    if growth is not None and growth[0] >= EXPLODING_GROWTH:
        factor, layer, epoch = growth
        text = f"The gradient grew up to **{factor:,.0f} times** its size before training ({layer}, epoch {epoch})"
        if verdict.kind == EXPLODING:
            parts.append(text + ": an exploding gradient.")
        else:
            parts.append(text + ", while the training loss fell: the network is learning, not blowing up.")
    hidden = [layer for layer in health.get("layers", []) if layer.get("activation_layer")]
    saturated = _values(health, hidden, "saturated", last)
    if saturated:
        stds = _values(health, hidden, "act_std", last)
        text = f"At most {max(saturated):.0%} of the {hidden[0]['activation']} outputs are saturated"
        if verdict.kind == VANISHING and max(saturated) < SATURATION_NOT_CAUSE and stds:
            text += (
                f", so saturation is not the cause here: the outputs bunch together (standard deviation "
                f"{max(stds):.2f} at most), where the sigmoid's slope is at most 0.25"
            )
        parts.append(text + ".")
    dead = _values(health, hidden, "dead", last)
    if dead and max(dead) > 0:
        parts.append(f"Up to {max(dead):.0%} of a layer's ReLU units are dead (0 for every probe image).")
    elif dead:
        parts.append("No ReLU unit is dead: each one fires for some probe image.")
    if diverged:
        parts.append("The loss exploded: the last epoch's cells show where the numbers became NaN or huge.")
    parts.append(verdict.text)
    return " ".join(parts)


def _values(health: dict[str, Any], layers: Sequence[dict[str, Any]], key: str, epoch: int) -> list[float]:
    """The recorded ``key`` of each layer at ``epoch``, missing ones left out."""
    values = (layer_value(health, layer["name"], key, epoch) for layer in layers)
    return [v for v in values if v is not None]
