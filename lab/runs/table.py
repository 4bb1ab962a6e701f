"""The class's runs as one table: every stored run with who trained it, filtered, and settings side by side.

What the Runs page shows, as plain rows: ``class_runs`` lists the store (the one place to
switch to the store's index once it answers table queries), ``filter_runs`` keeps what the
page's filters ask for, and ``settings_side_by_side`` lays several runs' settings next to
each other with the differences marked.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from lab.catalog.presets import list_presets
from lab.codec import KEYS, format_value, spec_to_query
from lab.runs.credits import trained_by
from lab.runs.queries import same_but_epochs
from lab.runs.store import RunInfo, RunStore
from lab.spec import AUG_PREFIX, SETTINGS, ExperimentSpec

CUSTOM = "own setup"  # the preset column of a run that is no course preset
NOBODY = "—"  # the trained-by column of a run nobody with a nickname trained (the teacher, the command line)


@dataclass(frozen=True)
class RunRow:
    """One stored run as the Runs page's table shows it.

    Attributes
    ----------
    network : str
        ``MLP``, ``CNN`` or ``logistic regression`` (no hidden layer).
    preset : str
        The course preset it trains (epochs aside), else ``CUSTOM``.
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


def network_kind(spec: ExperimentSpec) -> str:
    """``CNN``, ``MLP`` or ``logistic regression``: the kind of network, for the table's filter."""
    if spec.conv:
        return "CNN"
    return "MLP" if spec.hidden else "logistic regression"


def preset_name(spec: ExperimentSpec) -> str:
    """The course preset ``spec`` trains, whatever its epochs (``A3``), else ``CUSTOM``."""
    for preset in list_presets(data=spec.data):
        if same_but_epochs(preset.spec, spec):
            return preset.name
    return CUSTOM


def _row(info: RunInfo, credits: dict[str, str]) -> RunRow:
    metrics = info.metrics
    return RunRow(
        run_id=info.run_id,
        spec=info.spec,
        trained_by=credits.get(info.run_id, NOBODY),
        network=network_kind(info.spec),
        preset=preset_name(info.spec),
        test_accuracy=info.test_accuracy,
        params=int(metrics.get("params") or 0),
        epochs_run=int(metrics.get("epochs_run") or 0),
        created=float(metrics.get("created") or 0.0),
        diverged=bool(metrics.get("diverged")),
    )


def class_runs(store: RunStore) -> list[RunRow]:
    """Every readable run of the store, newest first, with the nickname that trained it."""
    credits = trained_by(store)
    return [_row(info, credits) for info in store.list()]


def filter_runs(
    rows: Sequence[RunRow],
    *,
    data: Collection[str] = (),
    networks: Collection[str] = (),
    presets: Collection[str] = (),
    who: Collection[str] = (),
    since: float | None = None,
) -> list[RunRow]:
    """The rows that match every filter given (an empty one keeps all): data, kind of network, preset,
    nickname, and stored at or after ``since``."""
    return [
        row
        for row in rows
        if (not data or row.data in data)
        and (not networks or row.network in networks)
        and (not presets or row.preset in presets)
        and (not who or row.trained_by in who)
        and (since is None or row.created >= since)
    ]


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
