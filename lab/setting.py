"""How one setting of the spec is described: the parts of a ``Setting``.

``lab.spec`` declares every field of ``ExperimentSpec`` (and of its ``Augmentation``)
with one ``Setting`` in the field's metadata; this module only holds the types, so
that the description can be read without the spec (and the spec without widgets).
Everything a setting needs beyond its value is here, once: its name in words, the
command line's help, the student's help text, the group it belongs to, the widget
that sets it, when it applies, and the range a search may give it. The codec
(links and flags), the page widgets, the lesson labels, the resets in
``ExperimentSpec.__post_init__`` and the Tune page's knobs are all made from it
(TensorFlow Playground's ``state.ts`` keeps one such list; scikit-learn its
``_parameter_constraints``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

GROUPS = ("data", "model", "augmentation", "training")
"""The groups a page lays its controls out in, in this order."""

WIDGET_KINDS = ("select", "steps", "slider", "number", "checkbox", "custom")
"""``select``: a drop-down of ``options``; ``steps``: a slider over ``options``; ``slider``: a number
slider from ``low`` to ``high``; ``number``: a number box from ``low``; ``checkbox``; ``custom``: laid
out by hand where it is drawn (the data source, the hidden layers, the conv blocks)."""

FORMATS = ("", "g", "percent", "off_g", "upper")
"""How a widget writes a value: as is; ``1e-05``; ``10%``; ``off`` for 0 else ``1e-05``; upper case."""


@dataclass(frozen=True)
class Requires:
    """When a setting applies: another setting has one of ``values``, or, without values, is on (not 0).

    Attributes
    ----------
    key : str
        The setting it depends on (a key of ``lab.spec.SETTINGS``).
    values : tuple
        The values of that setting under which this one applies; empty: any value but 0 or off.
    """

    key: str
    values: tuple[Any, ...] = ()

    def holds(self, values: Mapping[str, Any]) -> bool:
        """Whether the setting applies, given every setting's value by key."""
        value = values[self.key]
        return value in self.values if self.values else bool(value)


@dataclass(frozen=True)
class Widget:
    """The control a page draws for a setting.

    Attributes
    ----------
    kind : str
        One of ``WIDGET_KINDS``.
    label : str
        The control's label; empty: the setting's ``label``.
    options : tuple
        The values offered (``select`` and ``steps``); a link may hold another, which is added.
    names : mapping, optional
        How each option is shown (``{"none": "off"}``); options without a name show as they are.
    low, high, step : float, optional
        The range of a ``slider`` (``high`` grows to the current value) or a ``number`` box.
    fmt : str
        One of ``FORMATS``.
    hide_when_off : bool
        Hidden (not only greyed out) while the setting does not apply.
    """

    kind: str
    label: str = ""
    options: tuple[Any, ...] = ()
    names: Mapping[Any, str] | None = None
    low: float | None = None
    high: float | None = None
    step: float | None = None
    fmt: str = ""
    hide_when_off: bool = False

    def __post_init__(self) -> None:
        if self.kind not in WIDGET_KINDS:
            raise ValueError(f"Unknown widget kind '{self.kind}'. Choose one of: {', '.join(WIDGET_KINDS)}.")
        if self.fmt not in FORMATS:
            raise ValueError(f"Unknown widget format '{self.fmt}'. Choose one of: {', '.join(FORMATS)}.")

    def show(self, value: Any) -> str:
        """An option as the widget writes it."""
        if self.names is not None and value in self.names:
            return self.names[value]
        if self.fmt == "g":
            return f"{value:g}"
        if self.fmt == "percent":
            return f"{value:.0%}"
        if self.fmt == "off_g":
            return "off" if value == 0 else f"{value:g}"
        if self.fmt == "upper":
            return str(value).upper()
        return str(value)


@dataclass(frozen=True)
class Search:
    """What the Tune page offers to search for a setting, and what it ticks at first.

    Attributes
    ----------
    low, high : float, optional
        A range's ends, for a number.
    log : bool
        Sample the range's logarithm evenly (learning rates, penalties).
    choices : tuple
        For a setting of named values: the choices offered (empty: the widget's options).
    picked : tuple
        The choices picked at first.
    ticked : bool
        Searched unless the teacher unticks it.
    label : str
        The knob's name on the Tune page; empty: the setting's ``label``.
    """

    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    picked: tuple[Any, ...] = ()
    ticked: bool = False
    label: str = ""

    @property
    def is_range(self) -> bool:
        """Whether the knob is a range of numbers (else a list of choices)."""
        return self.low is not None


@dataclass(frozen=True)
class Setting:
    """One setting of the spec, described once.

    Attributes
    ----------
    label : str
        Its name in words, as lesson lines and the link maker show it: "Learning rate".
    help : str
        What it does, in a student's words (the control's help text).
    cli : str
        The command line's help, short.
    group : str
        One of ``GROUPS``.
    widget : Widget
        The control that sets it.
    choices : tuple of str
        The values a text setting may take (checked by ``ExperimentSpec.validate``); empty: any.
    requires : Requires, optional
        When it applies; elsewhere its control is greyed out (or hidden).
    reset : bool
        Put back to its default where it does not apply, so that equal trainings share one
        run id (momentum under Adam changes nothing).
    search : Search, optional
        The Tune page's knob for it; None: not offered there (the search text still takes it).
    bounds : tuple of two numbers, optional
        The smallest and largest value the lab takes (for a list of widths or conv blocks: how many),
        checked by ``ExperimentSpec.validate`` on every door (links, widgets, the command line, stored
        specs); a number must also be finite.
    flag : str
        The command-line flag, when it is not ``--`` + the key with dashes (``--lr``).
    key : str
        Its key in links, flags and search text (set by ``lab.spec`` from the field's name).
    default : Any
        Its default value (set by ``lab.spec`` from the field's default).
    """

    label: str
    help: str
    cli: str
    group: str
    widget: Widget
    choices: tuple[str, ...] = ()
    requires: Requires | None = None
    reset: bool = False
    search: Search | None = None
    bounds: tuple[float, float] | None = None
    flag: str = ""
    key: str = ""
    default: Any = None

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"Unknown setting group '{self.group}'. Choose one of: {', '.join(GROUPS)}.")

    def out_of_bounds(self, value: Any) -> str:
        """Why ``value`` is outside the setting's bounds, or empty when it is inside them (or has none)."""
        if self.bounds is None:
            return ""
        low, high = self.bounds
        if isinstance(value, tuple):
            return f"at most {_number(high)} ({len(value)} given)" if not low <= len(value) <= high else ""
        if not math.isfinite(value):
            return f"a finite number, not {value}"
        return f"between {_number(low)} and {_number(high)}" if not low <= value <= high else ""

    def applies(self, values: Mapping[str, Any]) -> bool:
        """Whether the setting changes the training, given every setting's value by key."""
        return self.requires is None or self.requires.holds(values)


def _number(value: float) -> str:
    """A bound as people write it: ``100,000``, ``0.5``."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


SETTING = "setting"
"""The key under which a dataclass field's metadata holds its ``Setting``."""


def described(default: Any = None, *, default_factory: Any = None, **description: Any) -> Any:
    """A dataclass field with its ``Setting`` (``described(0.001, label=..., help=..., ...)``)."""
    metadata = {SETTING: Setting(**description)}
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)
