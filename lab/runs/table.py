"""The class's runs as one table: every stored run with who trained it, filtered, and settings side by side.

What the Runs page shows, as plain rows: ``class_runs`` asks the run store's index for one
filtered page of the table (``RunStore.table``: SQL, never a read of the whole store), and
``settings_side_by_side`` lays several runs' settings next to each other with the
differences marked.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from lab.codec import KEYS, format_value, spec_to_query
from lab.runs.store import RunInfo, RunStore
from lab.spec import AUG_PREFIX, SETTINGS, ExperimentSpec

CUSTOM = "own setup"  # the preset column of a run that is no course preset
NOBODY = "—"  # the trained-by column of a run nobody with a nickname trained (the teacher, the command line)
NETWORKS = {"MLP": "mlp", "CNN": "cnn"}  # the table's kinds of network, as the index names them
TABLE_LIMIT = 500  # rows of one table: the newest that match (a class's week), counted in full


@dataclass(frozen=True)
class RunRow:
    """One stored run as the Runs page's table shows it.

    Attributes
    ----------
    network : str
        ``MLP`` or ``CNN`` (a key of ``NETWORKS``).
    preset : str
        The course preset it trains (its full or quick plan, any epochs), else ``CUSTOM``.
    trained_by : str
        The nickname credited with it, else ``NOBODY``.
    created : float
        When it was stored (``time.time()`` seconds; 0 for an old run that does not say).
    """

    run_id: str
    spec: ExperimentSpec
    trained_by: str
    network: str
    preset: str
    test_accuracy: float
    params: int
    epochs_run: int
    created: float
    diverged: bool

    @property
    def data(self) -> str:
        """The data it trained on."""
        return self.spec.data


@dataclass(frozen=True)
class RunTable:
    """One page of the class's table: the rows shown, and how many runs match the filters in all."""

    rows: list[RunRow]
    total: int


def run_row(info: RunInfo) -> RunRow:
    """A stored run's summary as a row of the table."""
    metrics = info.metrics
    return RunRow(
        run_id=info.run_id,
        spec=info.spec,
        trained_by=info.trained_by or NOBODY,
        network="CNN" if info.spec.conv else "MLP",
        preset=info.preset or CUSTOM,
        test_accuracy=info.test_accuracy,
        params=int(metrics.get("params") or 0),
        epochs_run=int(metrics.get("epochs_run") or 0),
        created=float(metrics.get("created") or 0.0),
        diverged=bool(metrics.get("diverged")),
    )


def class_runs(
    store: RunStore,
    *,
    data: Collection[str] = (),
    networks: Collection[str] = (),
    presets: Collection[str] = (),
    who: Collection[str] = (),
    since: float | None = None,
    limit: int | None = TABLE_LIMIT,
) -> RunTable:
    """The newest ``limit`` runs matching every filter given (an empty one keeps all), and how many match.

    Parameters
    ----------
    data, networks, presets, who : collection of str
        Data sources; kinds of network (keys of ``NETWORKS``); preset names (``CUSTOM``: runs of no preset);
        nicknames (``NOBODY``: runs nobody claimed).
    since : float, optional
        Only runs stored at or after this time (``time.time()`` seconds).
    """
    page = store.table(
        data=list(data) or None,
        kind=[NETWORKS[n] for n in networks] or None,
        preset=[("" if p == CUSTOM else p) for p in presets] or None,
        trained_by=[("" if w == NOBODY else w) for w in who] or None,
        since=since,
        limit=limit,
    )
    return RunTable([run_row(info) for info in page.rows], page.total)


def runs_of(store: RunStore, nickname: str) -> list[RunRow]:
    """Every run credited to ``nickname``, newest first (none for an empty nickname)."""
    return class_runs(store, who=[nickname], limit=None).rows if nickname else []


@dataclass(frozen=True)
class SettingLine:
    """One setting across several runs: its label, each run's value, and whether they differ."""

    key: str
    label: str
    values: tuple[str, ...]

    @property
    def differs(self) -> bool:
        """Whether the runs do not all share this value."""
        return len(set(self.values)) > 1


def settings_side_by_side(specs: Sequence[ExperimentSpec], *, all_settings: bool = False) -> list[SettingLine]:
    """Each setting of ``specs``, one value per spec in its link notation (``50,50``, ``0.001``).

    Settings every spec leaves at its default are left out unless ``all_settings``: what a run
    changed is what a class compares.
    """
    defaults = {key: format_value(key, value) for key, value in _all_values(ExperimentSpec()).items()}
    written = [spec_to_query(spec) for spec in specs]
    lines = []
    for key in KEYS:
        values = tuple(query.get(key, defaults[key]) for query in written)
        if all_settings or any(key in query for query in written):
            lines.append(SettingLine(key, SETTINGS[key].label, values))
    return lines


def _all_values(spec: ExperimentSpec) -> dict[str, object]:
    """Every setting's value by its key (augmentation's under ``aug_*``)."""
    values: dict[str, object] = {}
    for key in KEYS:
        if key.startswith(AUG_PREFIX):
            values[key] = getattr(spec.augmentation, key[len(AUG_PREFIX) :])
        else:
            values[key] = getattr(spec, key)
    return values


def accuracy_text(row: RunRow) -> str:
    """Test accuracy as the table shows it: ``95.2%``, or ``diverged``."""
    if row.diverged or not math.isfinite(row.test_accuracy):
        return "diverged"
    return f"{row.test_accuracy:.1%}"
