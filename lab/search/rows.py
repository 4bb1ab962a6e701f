"""One trial as the search's table shows it: its settings, state and validation curve."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from lab.nn.result import json_number

STATES = ("waiting", "running", "finished", "stopped", "diverged", "error")
"""A trial's state: finished = every epoch trained; stopped = ended early by ASHA (or Stop); diverged = blew up."""


@dataclass
class TrialRow:
    """One trial as the live table shows it.

    Attributes
    ----------
    number : int
        1, 2, ... in the order the trials started.
    trial_id : str
        Ray Tune's name for it.
    run_id : str
        The stored run it trains (its spec's hash).
    params : dict
        The searched settings' values.
    state : str
        One of ``STATES``.
    epoch : int
        Epochs reported so far.
    epochs : int
        Epochs planned.
    curve : list of float
        Validation accuracy after each epoch.
    reused : bool
        Read from the run store (trained by an earlier search or page), not trained now.
    kept_epoch : int or None
        The epoch whose weights the stored run kept, when early stopping went back to its best
        epoch (set once the search ended); None: the last epoch's.
    """

    number: int
    trial_id: str
    run_id: str
    params: dict[str, Any]
    state: str = "waiting"
    epoch: int = 0
    epochs: int = 0
    curve: list[float] = field(default_factory=list)
    reused: bool = False
    kept_epoch: int | None = None

    @property
    def val_accuracy(self) -> float:
        """Validation accuracy of the weights the run keeps: the last epoch's (or the kept one's); NaN before any."""
        if self.kept_epoch and self.kept_epoch <= len(self.curve):
            return self.curve[self.kept_epoch - 1]
        return self.curve[-1] if self.curve else math.nan

    @property
    def best_val_accuracy(self) -> float:
        """The best validation accuracy it reached (NaN before the first epoch)."""
        finite = [v for v in self.curve if math.isfinite(v)]
        return max(finite) if finite else math.nan

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON: run id, settings, state, epochs run, validation accuracy."""
        return {
            "number": self.number,
            "run_id": self.run_id,
            "settings": dict(self.params),
            "state": self.state,
            "epochs_run": self.epoch,
            "epochs": self.epochs,
            "val_accuracy": json_number(self.val_accuracy),
            "best_val_accuracy": json_number(self.best_val_accuracy),
            "reused": self.reused,
        }
