"""What the search's driver hands Ray Tune: the callback that keeps the trials table, and the Stop button's stopper.

Imported by ``lab.search.runner`` once a search starts (it imports Ray Tune).
Tune saves its callbacks and stopper with the experiment's state (it pickles them),
and a page's table holds locks and callables that cannot be pickled: so each holds
only the key of its :class:`SearchTable` in ``TABLES``, a table of this process.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ray import tune

from lab.search.rows import TrialRow
from lab.search.space import SearchSpace
from lab.spec import ExperimentSpec


class SearchTable:
    """The trials of one search as Tune reports them, told to ``on_update`` after every change."""

    def __init__(
        self,
        space: SearchSpace,
        base: ExperimentSpec,
        epochs: int,
        on_update: Callable[[list[TrialRow]], None] | None,
        should_stop: Callable[[], bool] | None,
    ) -> None:
        self.space, self.base, self.epochs = space, base, epochs
        self.on_update, self.should_stop = on_update, should_stop
        self.rows: dict[str, TrialRow] = {}
        self.stopped_by_user = False

    def row_for(self, trial: Any) -> TrialRow:
        """The trial's row, made when Tune first mentions it."""
        row = self.rows.get(trial.trial_id)
        if row is None:
            params = {k: trial.config[k] for k in self.space.names if k in trial.config}
            run_id = self.space.apply(self.base, params).run_id
            row = TrialRow(trial_number(trial, len(self.rows) + 1), trial.trial_id, run_id, params, epochs=self.epochs)
            self.rows[trial.trial_id] = row
        return row

    def ordered(self) -> list[TrialRow]:
        """The rows in the searcher's order."""
        return sorted(self.rows.values(), key=lambda r: r.number)

    def tell(self) -> None:
        """Hand the rows to ``on_update``."""
        if self.on_update is not None:
            self.on_update(self.ordered())


TABLES: dict[str, SearchTable] = {}
"""The tables of the searches running in this process, by key."""


def trial_number(trial: Any, fallback: int) -> int:
    """The trial's place in the searcher's order: Tune's tag starts with it (``3_dropout=0.2,...``).

    The order trials start in is not it: with several at once, two start in either order.
    """
    head = str(getattr(trial, "experiment_tag", "")).split("_", 1)[0]
    return int(head) if head.isdigit() else fallback


class Watch(tune.Callback):
    """Keeps the table: Tune calls these in the driver, the thread that runs the search."""

    def __init__(self, key: str) -> None:
        self.key = key

    def _table(self) -> SearchTable:
        return TABLES[self.key]

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        table = self._table()
        table.row_for(trial).state = "running"
        table.tell()

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        table = self._table()
        row = table.row_for(trial)
        row.reused = bool(result.get("reused"))
        if not result.get("repeat"):  # a repeat only says the training ended (diverged) after its last epoch
            raw = result.get("raw_val_accuracy")
            row.curve.append(math.nan if raw is None else float(raw))
            row.epoch = int(result.get("epoch", row.epoch))
        if result.get("diverged"):
            row.state = "diverged"
        table.tell()

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        table = self._table()
        row = table.row_for(trial)
        if row.state != "diverged":
            row.state = "finished" if row.epoch >= table.epochs else "stopped"
        table.tell()

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        table = self._table()
        table.row_for(trial).state = "error"
        table.tell()


class UserStop(tune.Stopper):
    """Stops every trial once the page's Stop was pressed (``should_stop``)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def stop_all(self) -> bool:
        table = TABLES.get(self.key)
        if table is None:
            return False
        if table.should_stop is not None and table.should_stop():
            table.stopped_by_user = True
        return table.stopped_by_user
