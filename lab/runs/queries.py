"""Questions about the run store that pages, reports and the command line ask.

The store itself only persists runs (``lab.runs.store``); these functions pick
runs from what it lists (the stored run of a preset or its capped version, the
runs that read digits) and load what a page needs from a run (its predictor).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lab.analysis.predictor import Predictor, model_kind
from lab.runs.store import NON_DIGIT_SOURCES, RunInfo, RunStore
from lab.spec import ExperimentSpec

__all__ = ["NON_DIGIT_SOURCES", "digit_runs", "find_preset_run", "preset_run", "load_predictor"]


def same_but_epochs(a: ExperimentSpec, b: ExperimentSpec) -> bool:
    """Whether two specs differ at most in their number of epochs (a preset and its capped run)."""
    return a.replace(epochs=b.epochs) == b


def find_preset_run(infos: Sequence[Any], spec: ExperimentSpec) -> Any | None:
    """The stored run of ``spec``: itself if stored, else its longest capped version (``RunStore.list()`` items).

    A class that trains presets with an epochs cap (``pretrain --epochs``,
    the reproduction document) stores them under another run id; their
    results still answer "how does this preset do".
    """
    matches = [info for info in infos if same_but_epochs(info.spec, spec) and not info.metrics.get("stopped")]
    exact = [info for info in matches if info.spec == spec]
    if exact:
        return exact[0]
    return max(matches, key=lambda info: (info.spec.epochs, info.metrics.get("created") or 0), default=None)


def preset_run(store: RunStore, spec: ExperimentSpec) -> RunInfo | None:
    """``find_preset_run`` asked of the store's index: only the runs of ``spec`` at any epochs are read."""
    return find_preset_run(store.runs_like(spec), spec)


# ---------------------------------------------------------------- digit models
def digit_runs(store: RunStore, limit: int | None = None) -> list[RunInfo]:
    """Stored runs that can classify a drawn digit, best test accuracy first (the ``limit`` best).

    Left out: diverged runs (their outputs are NaN), runs on non-digit data
    (Fashion-MNIST), and runs whose model file is missing. Asked of the store's
    index: the best 30 of 100,000 runs take milliseconds.
    """
    return store.best_digit_runs(limit)


def load_predictor(run_id: str, store: RunStore | None = None) -> Predictor:
    """Load a stored run's model as a predictor (a few hundred milliseconds; cache it).

    Parameters
    ----------
    run_id : str
        The run (see ``python -m lab runs``).
    store : RunStore, optional
        Where it lives; default ``RunStore()``.

    Raises
    ------
    ValueError
        When the store has no such run, or it has no saved model.
    """
    store = store if store is not None else RunStore()
    result = store.get(run_id)
    if result is None:
        raise ValueError(f"No run '{run_id}' in {store.home}: see `python -m lab runs` for the stored runs.")
    return Predictor.from_result(result)


def compare_runs(predictors: Sequence[tuple[RunInfo, Predictor]], image28: np.ndarray) -> list[dict[str, Any]]:
    """What every model predicts for one image: rows for a table, in the order given."""
    rows = []
    for info, predictor in predictors:
        prediction = predictor.predict(image28)
        rows.append(
            {
                "run": info.run_id,
                "model": info.spec.summary(),
                "kind": model_kind(info.spec),
                "test accuracy": info.test_accuracy,
                "predicts": prediction.digit,
                "probability": prediction.probability,
            }
        )
    return rows


def estimate_seconds(specs: Sequence[ExperimentSpec], infos: Sequence[RunInfo]) -> tuple[float, int] | None:
    """Training time of ``specs`` on this machine, judged by the runs it stored: (seconds, runs judged by).

    The measured rate is the median of the stored runs' seconds per image and epoch, among runs of the same
    kind (MLP or CNN) as each spec, whose source size is known; a spec without such a run makes the estimate
    None (no number the data did not give). Queue time is not counted.
    """
    total, judged = 0.0, 0
    for spec in specs:
        rates = [
            float(info.metrics["train_seconds"]) / (info.metrics["epochs_run"] * count)
            for info in infos
            if bool(info.spec.conv) == bool(spec.conv)
            and info.metrics.get("epochs_run")
            and not info.metrics.get("diverged")
            and (count := info.spec.subset_count())
        ]
        count = spec.subset_count()
        if not rates or count is None:
            return None
        total += float(np.median(rates)) * spec.epochs * count
        judged = max(judged, len(rates))
    return total, judged
