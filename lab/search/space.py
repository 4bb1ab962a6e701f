"""What a search may change: a frozen list of knobs, read from text such as ``lr=1e-4:1e-1:log,hidden=64|128``.

One knob is one setting of the spec and the values the search may give it:

- a range ``LOW:HIGH`` (``LOW:HIGH:log`` to sample its logarithm evenly, as
  learning rates and L2 penalties want); whole numbers for whole-number settings;
- a list of choices ``A|B|C``, each written as links write the setting
  (``hidden=64|128,128``: one layer of 64 or two of 128).

The setting is any key of ``lab.codec.KEYS`` (``learning_rate``, ``dropout``,
``aug_rotation`` ...), a short name (``lr``, ``init``, ``batch``), or one of
four knobs that change several fields at once: ``layers`` and ``units`` (the
hidden layers, all of one width), ``filters`` (every conv block's) and ``aug``
(augmentation strength: 1 is course B10's rotation 10°, shift 0.2, shear 0.1
and zoom 0.1; 0 is none). Knobs are separated by commas; a comma inside a
choice (``128,128``) belongs to it.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lab.architecture import DEFAULT_PARAM_BUDGET, check_network
from lab.codec import KEYS, apply_settings, format_value, parse_value
from lab.spec import Augmentation, ExperimentSpec

ALIASES = {"lr": "learning_rate", "init": "initializer", "batch": "batch_size", "bn": "batchnorm"}
"""Short names the search text accepts for spec keys."""

COMPOSITE = ("layers", "units", "filters", "aug")
"""Knobs that set several fields: hidden layers (``layers`` x ``units``), conv filters, augmentation strength."""

# Augmentation strength 1: course B10's augmentation (ImageDataGenerator's settings).
AUG_AT_ONE = Augmentation(rotation=10.0, shift=0.2, shear=0.1, zoom=0.1)
# Knobs whose values change the network's weights, compute or memory: the limits are checked at their largest.
_SIZE_KNOBS = ("hidden", "conv", "layers", "units", "filters", "batchnorm", "batch_size", "train_subset")
# A new knob starts where ``name=`` follows a comma: commas inside ``hidden=128,128`` stay in the choice.
_KNOB_START = re.compile(r",\s*(?=[A-Za-z_][A-Za-z0-9_]*\s*=)")
_INT_KNOBS = ("layers", "units", "filters")


@dataclass(frozen=True)
class Knob:
    """One setting the search may change and the values it may take.

    Attributes
    ----------
    name : str
        A key of ``lab.codec.KEYS`` or one of ``COMPOSITE``.
    low, high : float or None
        The range's ends (None for a list of choices).
    log : bool
        Sample the range's logarithm evenly.
    integer : bool
        Whole numbers only (the setting is a count).
    choices : tuple of str
        The values to choose from, as links write them (empty for a range).
    """

    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple[str, ...] = ()

    @property
    def is_range(self) -> bool:
        """Whether the knob is a range (else a list of choices)."""
        return not self.choices

    def text(self) -> str:
        """The knob as the search text writes it: ``learning_rate=0.0001:0.1:log``."""
        if self.choices:
            return f"{self.name}={'|'.join(self.choices)}"
        low, high = (int(v) if self.integer else v for v in (self.low, self.high))
        return f"{self.name}={low:g}:{high:g}" + (":log" if self.log else "")

    def distribution(self) -> Any:
        """The knob as an Optuna distribution (what OptunaSearch samples from and importances read)."""
        # Imported here: Optuna is only needed once a search starts.
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.choices:
            return CategoricalDistribution(list(self.choices))
        if self.integer:
            return IntDistribution(int(self.low), int(self.high), log=self.log)
        return FloatDistribution(float(self.low), float(self.high), log=self.log)

    def ends(self) -> list[Any]:
        """The values to check a spec with: the range's two ends, or every choice."""
        if self.choices:
            return list(self.choices)
        low, high = self.low, self.high
        return [int(low), int(high)] if self.integer else [low, high]


@dataclass(frozen=True)
class SearchSpace:
    """The knobs of one search, in the order they were written.

    Build with :meth:`parse`; :meth:`apply` turns one trial's values into its spec.
    """

    knobs: tuple[Knob, ...]

    @classmethod
    def parse(cls, text: str) -> SearchSpace:
        """Read the search text (``lr=1e-4:1e-1:log,dropout=0:0.5,hidden=64|128|256``).

        Raises
        ------
        ValueError
            For no knob at all, an unknown setting, a knob given twice, a range whose
            low end is above its high end, a log range that reaches zero, or a value
            the setting cannot take; the message names the knob and what to write.
        """
        parts = [p.strip() for p in _KNOB_START.split(text.strip()) if p.strip()]
        if not parts:
            raise ValueError('Tick at least one setting to search (on the command line: --search "lr=1e-4:1e-1:log").')
        knobs = [parse_knob(part) for part in parts]
        names = [k.name for k in knobs]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"{', '.join(twice)} is given twice: give each setting one range or one list.")
        if "hidden" in names and ("layers" in names or "units" in names):
            raise ValueError("Search either hidden (whole layer lists) or layers and units, not both.")
        return cls(tuple(knobs))

    @property
    def names(self) -> tuple[str, ...]:
        """The knobs' names, in order."""
        return tuple(k.name for k in self.knobs)

    def text(self) -> str:
        """The space as search text, which :meth:`parse` reads back to an equal space."""
        return ",".join(k.text() for k in self.knobs)

    def distributions(self) -> dict[str, Any]:
        """``{name: Optuna distribution}`` for OptunaSearch and for the importances."""
        return {k.name: k.distribution() for k in self.knobs}

    def apply(self, base: ExperimentSpec, values: Mapping[str, Any]) -> ExperimentSpec:
        """``base`` with one trial's values set (not validated).

        Parameters
        ----------
        base : ExperimentSpec
            What the search starts from: every setting it does not search.
        values : mapping
            ``{knob name: value}``, a number for a range and the choice's text for a list.
        """
        settings: list[str] = []
        changes: dict[str, Any] = {}
        layers = values.get("layers")
        units = values.get("units")
        if layers is not None or units is not None:
            width = int(units) if units is not None else (base.hidden[0] if base.hidden else 128)
            count = int(layers) if layers is not None else len(base.hidden)
            changes["hidden"] = (width,) * count
        if values.get("filters") is not None:
            changes["conv"] = tuple(dataclasses.replace(b, filters=int(values["filters"])) for b in base.conv)
        if values.get("aug") is not None:
            strength = float(values["aug"])
            changes["augmentation"] = Augmentation(
                **{f.name: getattr(AUG_AT_ONE, f.name) * strength for f in dataclasses.fields(Augmentation)}
            )
        for name, value in values.items():
            if name in COMPOSITE:
                continue
            text = value if isinstance(value, str) else format_value(name, _typed(name, value))
            settings.append(f"{name}={text}")
        spec = base.replace(**changes) if changes else base
        return apply_settings(spec, settings)

    def check(
        self,
        base: ExperimentSpec,
        param_budget: int | None = DEFAULT_PARAM_BUDGET,
        check_spec: Callable[[ExperimentSpec], object] | None = None,
    ) -> None:
        """Check that every value the search may try makes a valid spec within the parameter budget (or limits).

        Each knob is tried at both ends (every choice) on ``base``; the knobs that
        change the network's size, compute or memory are tried together at their largest.

        Parameters
        ----------
        base : ExperimentSpec
            Every setting the search does not change (with the trials' epochs).
        param_budget : int, optional
            The most weights a trial's network may have (when ``check_spec`` is not given).
        check_spec : callable, optional
            Checks one spec against a server's limits and raises ``ValueError`` naming the
            limit (``lab.runs.limits.Limits.check``): used instead of the parameter budget.

        Raises
        ------
        ValueError
            Naming the knob and the value that cannot be trained, or the largest
            network against the budget or the limit it goes over.
        """
        if check_spec is None:

            def check_spec(spec: ExperimentSpec) -> object:
                return check_network(spec, param_budget)

        base.validate()
        if "filters" in self.names and not base.conv:
            raise ValueError("filters searches the conv blocks' filters: start from a CNN (a conv block or B6-B11).")
        for knob in self.knobs:
            for value in knob.ends():
                try:
                    self.apply(base, {knob.name: value}).validate()
                except ValueError as exc:
                    raise ValueError(f"{knob.name}={value} cannot be trained: {exc}") from None
        size_knobs = [k for k in self.knobs if k.name in _SIZE_KNOBS]
        options = [[max(k.ends())] if k.is_range else k.ends() for k in size_knobs]
        for combo in itertools.product(*options):
            values = {k.name: v for k, v in zip(size_knobs, combo, strict=True)}
            try:
                check_spec(self.apply(base, values))
            except ValueError as exc:
                where = ", ".join(f"{name}={value}" for name, value in values.items())
                raise ValueError(f"At {where} the search would go over the limit: {exc}") from None


def parse_knob(text: str) -> Knob:
    """One knob from ``NAME=LOW:HIGH[:log]`` or ``NAME=A|B|C``; see :meth:`SearchSpace.parse`."""
    name, sep, values = text.partition("=")
    name = ALIASES.get(name.strip(), name.strip())
    values = values.strip()
    if not sep or not values:
        raise ValueError(f"'{text}' is not a knob: write NAME=LOW:HIGH, NAME=LOW:HIGH:log or NAME=A|B|C.")
    if name not in KEYS and name not in COMPOSITE:
        raise ValueError(f"Unknown setting '{name}'. Search any of: {', '.join(COMPOSITE + KEYS)}.")
    numeric = name in COMPOSITE or _is_number(name)
    if ":" in values and "|" not in values:
        if not numeric:
            raise ValueError(f"{name} is not a number: list its choices, e.g. {name}=A|B.")
        return _parse_range(name, values)
    choices = tuple(c.strip() for c in values.split("|"))
    if any(not c for c in choices):
        raise ValueError(f"{name}={values} has an empty choice: write {name}=A|B|C.")
    for choice in choices:
        try:
            if name in COMPOSITE:
                float(choice)
            else:
                # Through the spec's own checks: an activation it does not know is refused here, not in a trial.
                apply_settings(ExperimentSpec(), [f"{name}={choice}"]).validate()
        except ValueError as exc:
            raise ValueError(f"{name}: '{choice}' is not a value it can take ({exc}).") from None
    if len(set(choices)) < len(choices):
        raise ValueError(f"{name}={values} lists a choice twice.")
    return Knob(name, choices=choices)


def _parse_range(name: str, values: str) -> Knob:
    parts = [p.strip() for p in values.split(":")]
    log = len(parts) == 3 and parts[2].lower() == "log"
    if len(parts) not in (2, 3) or (len(parts) == 3 and not log):
        raise ValueError(f"{name}={values} is not a range: write {name}=LOW:HIGH or {name}=LOW:HIGH:log.")
    try:
        low, high = float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError(f"{name}={values}: the range's ends must be numbers, e.g. 1e-4:1e-1.") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{name}={values}: the range's ends must be finite numbers.")
    if low > high:
        raise ValueError(f"{name}={values}: the low end {low:g} is above the high end {high:g}; swap them.")
    if log and low <= 0:
        raise ValueError(
            f"{name}={values}: a log range cannot reach zero or below (log 0 is -infinity): "
            f"start it above zero, e.g. {name}=1e-5:{high:g}:log."
        )
    integer = name in _INT_KNOBS or (name not in COMPOSITE and _kind(name) is int)
    if integer and not (low.is_integer() and high.is_integer()):
        raise ValueError(f"{name} is a whole number: give its range in whole numbers, e.g. {name}=32:256.")
    return Knob(name, low=low, high=high, log=log, integer=integer)


def _kind(name: str) -> type:
    return type(parse_value(name, "1")) if name.startswith("aug_") else type(getattr(ExperimentSpec(), name))


def _is_number(name: str) -> bool:
    kind = _kind(name)
    return kind in (int, float)


def _typed(name: str, value: Any) -> Any:
    """A sampled number as the setting's type (Optuna gives ints for whole-number ranges, floats otherwise)."""
    return int(value) if _kind(name) is int else float(value)
