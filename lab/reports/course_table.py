"""Our result for each course preset beside the course's own figure: one row per preset.

The Techniques page, the CNN page and REPRODUCTION.md all show this table. A
``CourseRow`` holds one preset's stored runs (several for a soft-voting
ensemble) and says what they add up to: our accuracy and its interval, the
epochs, the time, and whether the preset is trained at all. The surfaces differ
only in how they lay the row out (a dataframe, a Markdown table).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from lab.analysis.ensemble import EnsembleResult, combine, format_interval
from lab.catalog.lessons import Numbers
from lab.catalog.preset import format_figure
from lab.catalog.presets import Preset
from lab.nn.result import TIME_LIMIT, RunResult
from lab.runs.queries import preset_run
from lab.runs.store import RunStore

NOT_RUN = "not run yet"  # our accuracy, before the preset's runs are all stored
NOT_TRAINED = "not trained"  # the status of a preset with no stored run
TRAINED = "trained"


@dataclass(frozen=True)
class CourseRow:
    """One preset: our stored runs of it, and the course's figures.

    Attributes
    ----------
    preset : Preset
        The preset as planned here: the course's, or capped to fewer epochs.
    results : tuple of RunResult
        Its stored runs in member order (one, or an ensemble's members); may be
        fewer than it needs, or capped versions of it (``status`` says so).
    course : Preset, optional
        The course's own preset (its full length); default ``preset``.
    """

    preset: Preset
    results: tuple[RunResult, ...] = ()
    course: Preset | None = None

    @property
    def course_preset(self) -> Preset:
        """The course's own preset (its full number of epochs)."""
        return self.course if self.course is not None else self.preset

    @property
    def complete(self) -> bool:
        """Whether every run the preset needs is stored."""
        return bool(self.results) and len(self.results) >= len(self.preset.member_specs())

    @functools.cached_property
    def ensemble(self) -> EnsembleResult | None:
        """The soft and hard votes of an ensemble preset once all its members are stored, else None."""
        if not self.preset.ensemble or not self.complete:
            return None
        return combine(self.results)

    @property
    def accuracy(self) -> float | None:
        """Our test accuracy: the run's, or the soft vote's; None until every run is stored."""
        if not self.complete:
            return None
        if self.ensemble is not None:
            return self.ensemble.soft_accuracy
        return self.results[0].test_accuracy

    @property
    def member_accuracies(self) -> tuple[float, ...]:
        """An ensemble's members' accuracies (recomputed from their probabilities); empty otherwise."""
        return self.ensemble.member_accuracies if self.ensemble is not None else ()

    @property
    def n_test(self) -> int:
        """Test images our accuracy is measured on (0 before any run)."""
        return len(self.results[0].test_probs) if self.results else 0

    @property
    def params(self) -> int | None:
        """Our network's parameters (None before any run)."""
        return self.results[0].params if self.results else None

    @property
    def seconds(self) -> float:
        """Training time of all the runs together."""
        return sum(r.train_seconds for r in self.results)

    @property
    def epochs_planned(self) -> int:
        """Epochs the runs were asked for: the course's, or fewer when capped."""
        return self.results[0].spec.epochs if self.results else self.preset.spec.epochs

    @property
    def epochs_run(self) -> int | None:
        """The most epochs any run trained (early stopping may end one sooner); None before any run."""
        return max(r.epochs_run for r in self.results) if self.results else None

    @property
    def best_epoch(self) -> int | None:
        """The epoch whose weights early stopping kept, in the first run."""
        return self.results[0].best_epoch if self.results else None

    @property
    def train_accuracy(self) -> float:
        """Training accuracy of the weights kept (the restored best epoch, else the last), of the first run."""
        acc = self.results[0].history.get("accuracy", []) if self.results else []
        if not acc:
            return math.nan
        return float(acc[(self.best_epoch or len(acc)) - 1])

    @property
    def stopped(self) -> bool:
        """Whether someone pressed Stop in any run."""
        return any(r.stopped for r in self.results)

    @property
    def diverged(self) -> bool:
        """Whether any run diverged."""
        return any(r.diverged for r in self.results)

    @property
    def run_ids(self) -> list[str]:
        """The runs behind the row."""
        return [r.run_id for r in self.results]

    @property
    def course_figure(self) -> str:
        """The course's accuracy as text: ``92.08%`` or ``91.88%–92.08%``."""
        return self.preset.course_figure_text()

    @property
    def status(self) -> str:
        """``not trained``, ``trained``, ``trained, capped at 5 epochs``, ``trained, quick plan: ...`` or
        ``2 of 3 members trained``."""
        if not self.results:
            return NOT_TRAINED
        if not self.complete:
            return f"{len(self.results)} of {len(self.preset.member_specs())} members trained"
        course = self.course_preset
        if course.quick_changes and self.results[0].spec == course.quick().spec:
            return f"trained, quick plan: {course.quick_text}"
        if self.epochs_planned >= self.course_preset.spec.epochs:
            return TRAINED
        return f"trained, capped at {self.epochs_planned} epochs"

    @property
    def accuracy_text(self) -> str:
        """``92.1% (90.3–93.6%)``, with an ensemble's members; ``not run yet`` until every run is stored."""
        acc = self.accuracy
        text = NOT_RUN if acc is None else format_interval(acc, self.n_test)
        if self.preset.ensemble and self.results:
            if acc is None:
                text += f" · {len(self.results)} of {self.preset.ensemble} members"
            else:
                text += " · members " + " / ".join(f"{a:.1%}" for a in self.member_accuracies)
        return text

    @property
    def epochs_text(self) -> str:
        """``100`` (as the course), ``5 of 100 (quick: fewer than the course)``, ``17 of 100 (early stopping)``
        or ``1 of 100 (stopped by you)``."""
        planned, full = self.preset.spec.epochs, self.course_preset.spec.epochs
        if not self.results:
            return f"{planned} of {full}" + (" (quick)" if planned < full else "")
        ran = self.epochs_run
        text = f"{ran} of {full}" if ran < full else str(full)
        if self.stopped:  # first: a quick run stopped early is stopped, not just quick
            limited = any(r.stop_reason == TIME_LIMIT for r in self.results)
            text += " (stopped: the server's time limit)" if limited else " (stopped by you)"
        elif planned < full:
            text += " (quick: fewer than the course)"
        elif ran < planned:
            text += " (early stopping)"
        return text


def lesson_numbers(rows: Iterable[CourseRow]) -> dict[str, Numbers]:
    """What the table shows of each preset, for its series' claims (``lab.catalog.lessons.check_claims``).

    Parameters
    ----------
    rows : iterable of CourseRow
        The table's rows; a row not (fully) trained yet gives no accuracy, so its claims wait.

    Returns
    -------
    dict
        Preset name -> its ``Numbers``: our accuracy, the training accuracy of the weights kept, an ensemble's
        members' accuracies.
    """
    return {
        row.preset.name: Numbers(row.accuracy, row.train_accuracy if row.results else None, row.member_accuracies)
        for row in rows
    }


def best_single(preset: Preset, accuracies: Mapping[str, float | None]) -> tuple[str, float] | None:
    """For an "everything together" preset: the best of the single techniques it combines that has an accuracy.

    Parameters
    ----------
    preset : Preset
        Its ``together`` names the presets it combines.
    accuracies : mapping
        Preset name -> our accuracy (None or missing: not there yet).
    """
    rivals = {name: accuracies.get(name) for name in preset.together}
    rivals = {name: acc for name, acc in rivals.items() if acc is not None}
    if not rivals:
        return None
    best = max(rivals, key=lambda name: rivals[name])
    return best, rivals[best]


def together_text(row: CourseRow, accuracies: Mapping[str, float | None]) -> str:
    """How far an "everything together" preset is above (or below) the best single technique; empty for others."""
    preset = row.preset
    if not preset.together:
        return ""
    best = best_single(preset, accuracies)
    if row.accuracy is None or best is None:
        return "run the series to compare"
    name, rival = best
    return f"{(row.accuracy - rival) * 100:+.1f} points vs the best single technique ({name}, {rival:.1%})"


def stored_rows(presets: Sequence[Preset], store: RunStore, course: Sequence[Preset] | None = None) -> list[CourseRow]:
    """A row per preset from the runs of exactly its specs (each member's), missing ones left out.

    Parameters
    ----------
    presets : sequence of Preset
        The presets as planned (possibly capped).
    store : RunStore
        Where the runs are.
    course : sequence of Preset, optional
        The course's own presets, in the same order (for the epochs they should have).
    """
    courses = list(course) if course is not None else [None] * len(presets)
    rows = []
    for preset, full in zip(presets, courses, strict=True):
        results = tuple(r for r in (store.get(s) for s in preset.member_specs()) if r is not None)
        rows.append(CourseRow(preset, results, full))
    return rows


def best_stored_rows(presets: Sequence[Preset], store: RunStore) -> list[CourseRow]:
    """A row per (single-run) preset from its own run, else its longest capped run, else its quick plan's run.

    Never a stopped run.
    """
    rows = []
    for preset in presets:
        info = preset_run(store, preset.spec)  # the index reads only the runs of this spec
        if info is None and preset.quick_changes:  # quick mode's own plan (Techniques), not only a cap
            info = preset_run(store, preset.quick().spec)
        result = store.get(info.run_id) if info is not None else None
        rows.append(CourseRow(preset, (result,) if result is not None else ()))
    return rows


SHORTFALL_POINTS = 0.15  # our accuracy this far below the course's lowest figure needs a word of why


def shortfall_text(row: CourseRow) -> str | None:
    """Why our shortened run lands far below the course's figure, in numbers from the run; None where it does not.

    Only for a run trained shorter than the course (quick mode, a cap): it says how far it got and whether its
    validation accuracy was still rising, then the preset's own reason (``Preset.quick_gap``).
    """
    course = row.course_preset
    ours, low = row.accuracy, course.course_accuracy
    low = min(low) if isinstance(low, tuple) else low
    if ours is None or low is None or low - ours < SHORTFALL_POINTS or row.epochs_planned >= course.spec.epochs:
        return None
    val = [v for v in row.results[0].history.get("val_accuracy", []) if math.isfinite(v)]
    rising = ""
    if len(val) >= 2 and val[-1] > val[0]:
        rising = f"; its validation accuracy was still rising ({val[0]:.0%} at epoch 1, {val[-1]:.0%} at the last)"
    text = (
        f"{course.name}: {ours:.1%} after {row.epochs_run} of the course's {course.spec.epochs} epochs, against "
        f"the course's {format_figure(course.course_accuracy)}{rising}."
    )
    return f"{text} {course.quick_gap}" if course.quick_gap else text
