"""What a course preset is: a series of experiments, and one experiment ready to train.

The presets themselves are data, one module per series (``lab.catalog.series_a``
... ``series_d``); ``lab.catalog.presets`` looks them up.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from lab.catalog.lessons import Claim
from lab.spec import ExperimentSpec

CourseFigure = float | tuple[float, float] | None
QUICK_EPOCHS = 10  # quick mode trains a preset for at most this many epochs, unless it has its own quick settings


@dataclass(frozen=True)
class Series:
    """One series of experiments, as the course runs them one after another."""

    key: str
    title: str
    source: str  # the course file(s) it comes from
    setup: str  # the shared settings, in words
    lesson: str  # what the series as a whole teaches
    claims: tuple[Claim, ...] = ()  # the lesson, as sentences our numbers can confirm
    quick_note: str = ""  # what quick mode changes besides the epochs cap, and why the lesson still shows


@dataclass(frozen=True)
class Preset:
    """One experiment of the course, ready to train.

    Attributes
    ----------
    name : str
        ``A1`` ... ``D5``.
    series : str
        ``A``, ``B``, ``C`` or ``D``.
    title : str
        A few words: "ReLU", "+ batch norm".
    spec : ExperimentSpec
        The run (for a soft-voting ensemble: its first member).
    change : str
        One line: what changed from the previous experiment and why.
    course_accuracy : float or (float, float) or None
        The course's test accuracy; a range when it reports several runs.
    lesson : str
        What the course concludes from it.
    course_train_accuracy : float or None
        The course's final training accuracy (series D reports it).
    course_params : int or None
        The parameter count in the course's ``model.summary()``.
    course_trainable : int or None
        Trainable parameters, where the course shows them apart.
    ensemble : int
        Above 0: soft voting over this many runs of ``spec`` with seeds
        ``spec.seed, spec.seed + 1, ...`` (course A7).
    together : tuple[str, ...]
        For an "everything together" preset: the single-technique presets it
        should beat.
    note : str
        Where our setting differs from the course's, and why.
    quick_changes : tuple of (field, value)
        Quick mode's own settings for this preset (``Series.quick_note`` says why), instead of
        capping it at ``QUICK_EPOCHS``: 500 images need more epochs than 10 to over-fit.
    quick_gap : str
        Why quick mode lands far below the course's figure, where it does, and which lesson it still
        shows (``lab.reports.course_table.shortfall_text`` says it beside our numbers).
    """

    name: str
    series: str
    title: str
    spec: ExperimentSpec
    change: str
    course_accuracy: CourseFigure
    lesson: str
    course_train_accuracy: float | None = None
    course_params: int | None = None
    course_trainable: int | None = None
    ensemble: int = 0
    together: tuple[str, ...] = ()
    note: str = ""
    quick_changes: tuple[tuple[str, Any], ...] = ()
    quick_gap: str = ""

    @property
    def label(self) -> str:
        """``A3 · ReLU``."""
        return f"{self.name} · {self.title}"

    @property
    def course_epochs(self) -> int:
        """Epochs the course trained (an upper bound when it stopped early)."""
        return self.spec.epochs

    def member_specs(self) -> list[ExperimentSpec]:
        """The runs this preset needs: one spec, or one per ensemble member."""
        if not self.ensemble:
            return [self.spec]
        return [self.spec.replace(seed=self.spec.seed + i) for i in range(self.ensemble)]

    def with_data(self, data: str) -> Preset:
        """The same preset on another data source (``sample``, ``mnist`` ...)."""
        return dataclasses.replace(self, spec=self.spec.replace(data=data))

    def capped(self, epochs: int | None) -> Preset:
        """The same preset with at most ``epochs`` epochs (None or 0: the course's length)."""
        if not epochs or epochs >= self.spec.epochs:
            return self
        if epochs < 1:
            raise ValueError("The epochs cap must be at least 1 (or 0 for the course's length).")
        return dataclasses.replace(self, spec=self.spec.replace(epochs=int(epochs)))

    def quick(self) -> Preset:
        """The preset as quick mode trains it: its own quick settings, or at most ``QUICK_EPOCHS`` epochs."""
        if not self.quick_changes:
            return self.capped(QUICK_EPOCHS)
        return dataclasses.replace(self, spec=self.spec.replace(**dict(self.quick_changes)))

    @property
    def quick_text(self) -> str:
        """Quick mode's settings in words: ``50 of 1,000 epochs, learning rate 0.2``."""
        quick = self.quick().spec
        parts = [f"{quick.epochs} of {self.spec.epochs:,} epochs" if quick.epochs < self.spec.epochs else "full length"]
        for name, value in self.quick_changes:
            if name != "epochs":
                parts.append(f"{name.replace('_', ' ')} {value:g}" if isinstance(value, float) else f"{name} {value}")
        return ", ".join(parts)

    def course_figure_text(self) -> str:
        """The course's accuracy as text: ``92.08%`` or ``91.88–92.08%``."""
        return format_figure(self.course_accuracy)


def format_figure(figure: CourseFigure) -> str:
    """``0.9208`` -> ``92.08%``; ``(0.9188, 0.9208)`` -> ``91.88–92.08%``; None -> ``–``."""
    if figure is None:
        return "–"
    if isinstance(figure, tuple):
        return f"{figure[0]:.2%}–{figure[1]:.2%}"
    return f"{figure:.2%}"


def figure_high(figure: CourseFigure) -> float | None:
    """The best of the course's figures (the upper end of a range)."""
    if figure is None:
        return None
    return max(figure) if isinstance(figure, tuple) else float(figure)
