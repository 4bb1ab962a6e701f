"""The result of one training run, as the trainer returns it and the store keeps it.

No TensorFlow here: a stored run's numbers load in milliseconds, and its Keras
model is read from disk only when something asks for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lab.spec import ExperimentSpec


@dataclass(frozen=True)
class EpochReport:
    """What the trainer tells its observers: after each epoch, and within epochs for live curves.

    Attributes
    ----------
    epoch : int
        Epochs finished: at an epoch's end the 1-based number of the epoch just finished;
        within an epoch the number of those before it (0 during the first).
    epochs : int
        Epochs planned.
    logs : dict[str, float]
        Keras' logs. At an epoch's end: loss, accuracy, val_loss, val_accuracy. Within an
        epoch: the training loss and accuracy so far in this epoch (Keras' running means).
    history : dict[str, list[float]]
        Per-epoch values of the epochs finished.
    elapsed : float
        Seconds since training started.
    eta : float
        Estimated seconds left (the time per epoch so far times the epochs left); NaN
        before any batch has been trained.
    progress : float, optional
        Epochs done, fractions included: 2.25 is a quarter into the third epoch, 0 the
        untrained network. Defaults to ``epoch`` (a report at an epoch's end).
    points : dict[str, list[float]]
        The training curve so far, finer than epochs: ``epoch`` (epochs done, as
        ``progress``) and the training ``loss`` and ``accuracy`` at each of those moments.
        Within an epoch a point is Keras' running mean since the epoch began, so the
        point at a whole epoch equals that epoch's ``history`` value. The point at 0,
        when present, is the untrained network on a few hundred training images.
    """

    epoch: int
    epochs: int
    logs: dict[str, float]
    history: dict[str, list[float]]
    elapsed: float
    eta: float
    progress: float | None = None
    points: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.progress is None:
            object.__setattr__(self, "progress", float(self.epoch))

    @property
    def at_epoch_end(self) -> bool:
        """Whether this report closes an epoch (its logs hold the validation figures)."""
        return self.progress == self.epoch and self.epoch > 0


STOP_PRESSED = "stop pressed"
TIME_LIMIT = "time limit"


@dataclass
class RunResult:
    """One finished (or stopped, or diverged) training run.

    Attributes
    ----------
    spec : ExperimentSpec
        What was trained.
    history : dict[str, list[float]]
        Per-epoch ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``.
    test_loss, test_accuracy : float
        On the test set, after training (best weights when early stopping restored them).
    confusion : np.ndarray
        (10, 10) counts, rows = true digit, columns = predicted digit.
    test_probs : np.ndarray
        (n_test, 10) float32 class probabilities on the test set (ensembles, McNemar).
    epochs_run : int
        Epochs actually trained.
    best_epoch : int | None
        1-based epoch whose weights were kept, when early stopping restored them.
    train_seconds : float
        Wall time of ``fit``.
    diverged : bool
        The loss became NaN or infinite (exploding gradients).
    stopped : bool
        Stopped before its last epoch: by the user, or by the server's time limit.
    stop_reason : str
        Why it stopped: ``STOP_PRESSED``, ``TIME_LIMIT``, or "" when it was not stopped
        (or was stored before reasons were: a Stop press).
    params : int
        Number of weights.
    mean : np.ndarray | None
        Per-pixel training mean subtracted from inputs (centered data), else None.
    health : dict | None
        Gradient and activation statistics per layer and epoch (``lab.health.recorder``).
    from_store : bool
        True when this result was read from the run store rather than trained now.
    created : float
        When it was trained (seconds since the epoch).
    path : Path | None
        Its folder in the run store, for stored runs.
    points : dict[str, list[float]]
        The training curve as the class watched it grow (``EpochReport.points``): ``epoch``
        (epochs done, fractions included, 0 = the untrained network) and the training ``loss``
        and ``accuracy`` there; a diverged run's climb is in it, up to the point where the loss
        became NaN or infinite. Empty for runs stored before it was kept (their curves start at epoch 1).
    model_loader : callable, optional
        Returns the trained Keras model: the store passes one that reads the model
        file; the trainer one that returns the model it holds. Called once, on the
        first access of :attr:`model`.
    film_loader : callable, optional
        Returns the training's film (``lab.nn.snapshots.Film``) or None: the store passes one
        that reads ``snapshots.npz``, the trainer one that returns the film it recorded.
        Called once, on the first access of :attr:`film`.
    """

    spec: ExperimentSpec
    history: dict[str, list[float]]
    test_loss: float
    test_accuracy: float
    confusion: np.ndarray
    test_probs: np.ndarray
    epochs_run: int
    best_epoch: int | None
    train_seconds: float
    diverged: bool
    stopped: bool
    params: int
    mean: np.ndarray | None = None
    health: dict[str, Any] | None = None
    from_store: bool = False
    created: float = 0.0
    stop_reason: str = ""
    path: Path | None = None
    points: dict[str, list[float]] = field(default_factory=dict)
    model_loader: Callable[[], Any] | None = field(default=None, repr=False, compare=False)
    _model: Any = field(default=None, init=False, repr=False, compare=False)  # the loader's answer, kept
    film_loader: Callable[[], Any] | None = field(default=None, repr=False, compare=False)
    _film: Any = field(default=None, init=False, repr=False, compare=False)
    _film_read: bool = field(default=False, init=False, repr=False, compare=False)

    @property
    def run_id(self) -> str:
        """The spec's short hash, which names the run."""
        return self.spec.run_id

    @property
    def model(self) -> Any:
        """The trained Keras model (loaded from disk on first access for stored runs)."""
        if self._model is None and self.model_loader is not None:
            self._model = self.model_loader()
        return self._model

    @property
    def film(self) -> Any:
        """The snapshots of the training (``lab.nn.snapshots.Film``), or None for a run stored before them.

        Read from the store on first access for stored runs.
        """
        if not self._film_read and self.film_loader is not None:
            self._film = self.film_loader()
            self._film_read = True
        return self._film

    @property
    def test_predictions(self) -> np.ndarray:
        """Predicted digit for each test image."""
        return np.argmax(self.test_probs, axis=1)

    @property
    def final_train_accuracy(self) -> float:
        """Training accuracy of the last epoch (NaN if none)."""
        acc = self.history.get("accuracy", [])
        return float(acc[-1]) if acc else math.nan

    @property
    def initial(self) -> tuple[float, float] | None:
        """The untrained network's (loss, accuracy), the curve's point at epoch 0, when it was kept."""
        epochs = self.points.get("epoch") or []
        if not epochs or epochs[0] != 0:
            return None
        return self.points["loss"][0], self.points["accuracy"][0]

    def metrics(self) -> dict[str, Any]:
        """The JSON-ready summary the store and the CLI write."""
        return {
            "run_id": self.run_id,
            "test_accuracy": json_number(self.test_accuracy),
            "test_loss": json_number(self.test_loss),
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "train_seconds": round(self.train_seconds, 3),
            "diverged": self.diverged,
            "stopped": self.stopped,
            "params": self.params,
            "created": self.created,
            "stop_reason": self.stop_reason,
        }


def json_number(value: float | None) -> float | None:
    """A float as JSON can hold it: JSON has no NaN, so a diverged run's loss is written as null."""
    return None if value is None or not math.isfinite(value) else float(value)
