"""One spec codec: an ``ExperimentSpec`` as text, for links and for the command line.

Every setting has one key and one way to be written, whichever door it comes
through (TensorFlow Playground keeps the same thing in its ``state.ts``):

- a key per field (``hidden``, ``learning_rate`` ...) and one per augmentation
  field (``aug_rotation`` ...): ``KEYS``;
- widths as ``50,50`` (``none`` for no hidden layer), conv blocks in the lab's
  conv notation ``10x5s2,40x5s2p2`` (``ConvBlock.token``), booleans as ``1``/``0``
  (``true``/``false`` read too), numbers as short as they round-trip.

A link's query is ``spec_to_query`` / ``spec_from_query``; the command line takes
the same keys as ``KEY=VALUE`` text (``apply_settings``) and as flags generated
from them (``add_spec_flags`` / ``spec_from_flags``): ``--hidden 50,50``,
``--conv 10x5s2``, ``--raw-pixels``, ``--set aug_rotation=10``.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lab.spec import AUG_PREFIX, SETTINGS, ConvBlock, ExperimentSpec

_DEFAULTS = ExperimentSpec()

KEYS: tuple[str, ...] = tuple(SETTINGS)
"""Every settable key, in the spec's field order: its fields, augmentation's as ``aug_NAME``."""

LESSON_PARAM = "lesson"
"""A link's lesson: ``?lesson=activation,optimizer`` leaves only those settings' controls editable."""


def parse_lesson(text: str) -> tuple[str, ...]:
    """The settings a lesson link leaves editable (``"activation,optimizer"``), in the spec's order.

    Raises
    ------
    ValueError
        For a name that is no setting, with the names there are.
    """
    names = [name.strip() for name in str(text).split(",") if name.strip()]
    unknown = [name for name in names if name not in KEYS]
    if unknown:
        raise ValueError(
            f"The lesson names {', '.join(repr(n) for n in unknown)}, which is no setting: "
            f"use any of {', '.join(KEYS)}."
        )
    return tuple(key for key in KEYS if key in names)


def format_lesson(names: Sequence[str]) -> str:
    """A lesson's settings as a link writes them (``activation,optimizer``), in the spec's order."""
    return ",".join(parse_lesson(",".join(names)))


def _kind(key: str) -> type:
    """The Python type a key's value has (float for every augmentation key)."""
    if key.startswith(AUG_PREFIX):
        return float
    return type(getattr(_DEFAULTS, key))


def _value(spec: ExperimentSpec, key: str) -> Any:
    if key.startswith(AUG_PREFIX):
        return getattr(spec.augmentation, key[len(AUG_PREFIX) :])
    return getattr(spec, key)


def _check_key(key: str) -> str:
    if key not in KEYS:
        raise ValueError(f"Unknown setting '{key}'. Settable: {', '.join(KEYS)}.")
    return key


# ------------------------------------------------------------ one value
def format_value(key: str, value: Any) -> str:
    """One setting's value as text, the way links and the command line write it.

    Parameters
    ----------
    key : str
        One of ``KEYS``.
    value : Any
        The field's value (a tuple of widths or of ``ConvBlock`` for ``hidden`` and ``conv``).

    Returns
    -------
    str
        ``"50,50"``, ``"10x5s2,40x5s2p2"``, ``"none"``, ``"1"``, ``"0.001"`` ...
    """
    _check_key(key)
    if key == "hidden":
        return ",".join(str(w) for w in value) or "none"
    if key == "conv":
        return ",".join(block.token() for block in value) or "none"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def parse_value(key: str, text: str) -> Any:
    """Read one setting's value from text written by ``format_value`` (or by a person).

    Parameters
    ----------
    key : str
        One of ``KEYS``.
    text : str
        The value, e.g. ``"50,50"``, ``"10x5s2"``, ``"true"``, ``"3e-4"``.

    Returns
    -------
    Any
        A value of the field's type, not yet checked against the allowed range
        (``ExperimentSpec.validate`` does that).

    Raises
    ------
    ValueError
        For an unknown key, or text that is not a value of the field's type; the
        message says what was expected.
    """
    kind = _kind(_check_key(key))
    if kind is str:
        return text  # kept exactly: a folder name may hold any character
    text = text.strip()
    if key == "hidden":
        if text.lower() in ("none", ""):
            return ()
        try:
            return tuple(int(w) for w in text.split(","))
        except ValueError:
            raise ValueError("hidden takes comma-separated whole widths, e.g. 50,50 (none: no hidden layer)") from None
    if key == "conv":
        if text.lower() in ("none", ""):
            return ()
        return tuple(ConvBlock.from_token(token) for token in text.split(","))
    if kind is bool:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError("expected true or false (1 or 0)")
    if kind is int:
        try:
            number = float(text)
        except ValueError:
            raise ValueError("expected a whole number") from None
        if not number.is_integer():
            raise ValueError("expected a whole number")
        return int(number)
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError("expected a number, e.g. 0.1 or 1e-4") from None
    raise TypeError(f"no text form for {key} ({kind.__name__})")  # a new field of a new type: add it above


def _build(base: ExperimentSpec, values: Mapping[str, Any]) -> ExperimentSpec:
    """``base`` with parsed values set; augmentation keys change ``base.augmentation``."""
    aug = {key[len(AUG_PREFIX) :]: v for key, v in values.items() if key.startswith(AUG_PREFIX)}
    changes = {key: v for key, v in values.items() if not key.startswith(AUG_PREFIX)}
    if aug:
        changes["augmentation"] = dataclasses.replace(base.augmentation, **aug)
    return base.replace(**changes)


def _parse_labelled(items: Iterable[tuple[str, str, str]]) -> dict[str, Any]:
    """Parse ``(key, text, label)`` triples; an error names the label the user typed."""
    values: dict[str, Any] = {}
    for key, text, label in items:
        try:
            values[key] = parse_value(key, text)
        except ValueError as exc:
            raise ValueError(f"{label} cannot be read: {exc}") from None
    return values


def _non_default(spec: ExperimentSpec) -> list[str]:
    return [key for key in KEYS if _value(spec, key) != _value(_DEFAULTS, key)]


# ------------------------------------------------------------------ links
def spec_to_query(spec: ExperimentSpec) -> dict[str, str]:
    """The spec's non-default settings as URL query parameters.

    ``hidden`` is written ``50,50`` (``none`` for no hidden layer), ``conv``
    as ``10x5s2,40x5s2p2`` blocks, augmentation fields as ``aug_rotation`` etc.
    """
    return {key: format_value(key, _value(spec, key)) for key in _non_default(spec)}


def spec_from_query(params: Mapping[str, Any], defaults: ExperimentSpec | None = None) -> ExperimentSpec:
    """Read a spec back from URL query parameters written by ``spec_to_query``.

    Parameters
    ----------
    params : mapping
        ``st.query_params`` or a dict (a list value counts by its last item);
        keys that are not settings (``preset``, a page's own settings) are ignored.
    defaults : ExperimentSpec, optional
        Values for the fields the URL does not name (``ExperimentSpec()``).

    Returns
    -------
    ExperimentSpec
        With valid values (the network's size is the page's to check).

    Raises
    ------
    ValueError
        Naming the parameter whose value cannot be used.
    """
    base = defaults if defaults is not None else ExperimentSpec()
    texts = {key: _last(params[key]) for key in params if key in KEYS}
    values = _parse_labelled((key, raw, f"The link's setting {key}={raw!r}") for key, raw in texts.items())
    spec = _build(base, values)
    try:
        spec.validate()  # values only: the page reports an oversized model itself
    except ValueError as exc:
        raise ValueError(f"The link's settings are not valid: {exc}") from None
    return spec


def _last(value: Any) -> str:
    """``st.query_params`` gives the last value; a plain dict may hold a list."""
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else ""
    return str(value)


# ------------------------------------------------------- KEY=VALUE text
def spec_to_settings(spec: ExperimentSpec) -> list[str]:
    """The spec's non-default settings as ``KEY=VALUE`` texts, e.g. ``["conv=10x5s2", "aug_rotation=10"]``."""
    return [f"{key}={value}" for key, value in spec_to_query(spec).items()]


def parse_setting(text: str) -> tuple[str, str]:
    """Split ``"KEY=VALUE"`` into its key and value text.

    Dashes in the key count as underscores (``aug-rotation=10``).

    Raises
    ------
    ValueError
        Without ``=``, or for a key that is no setting (the message lists them).
    """
    key, sep, value = text.partition("=")
    if not sep:
        raise ValueError(f"'{text}' is not KEY=VALUE, e.g. conv=10x5s2,40x5s2p2 or aug_rotation=10.")
    return _check_key(key.strip().replace("-", "_")), value


def apply_settings(spec: ExperimentSpec, settings: Iterable[str]) -> ExperimentSpec:
    """``spec`` with ``KEY=VALUE`` settings applied in order (a later one wins).

    Parameters
    ----------
    spec : ExperimentSpec
        The starting point (defaults, a preset ...).
    settings : iterable of str
        E.g. ``["conv=10x5s2,40x5s2p2", "aug_rotation=10", "hidden=50,50", "raw_pixels=true"]``.

    Returns
    -------
    ExperimentSpec
        Not validated: call ``validate()`` or ``lab.architecture.check_network``.

    Raises
    ------
    ValueError
        For text that is not ``KEY=VALUE``, an unknown key or an unreadable value.
    """
    pairs = [parse_setting(text) for text in settings]
    return _build(spec, _parse_labelled((key, value, f"{key}={value!r}") for key, value in pairs))


# ------------------------------------------------------------ command line
def flag_name(key: str) -> str:
    """The command-line flag of a setting: ``--hidden``, ``--aug-rotation``, ``--lr``, ``--init`` ..."""
    return SETTINGS[_check_key(key)].flag or "--" + key.replace("_", "-")


def add_spec_flags(parser: argparse.ArgumentParser) -> None:
    """Add a flag for every setting, plus ``--set KEY=VALUE`` (repeatable), to ``parser``.

    Every flag defaults to None, meaning "keep the starting spec's value";
    read them back with ``spec_from_flags``. Booleans are switches with a
    ``--no-`` form (``--center``, ``--no-l2-output``); the others take the same
    text as links (``--hidden 50,50``, ``--conv 10x5s2,40x5s2p2``).
    """
    for key in KEYS:
        if _kind(key) is bool:
            parser.add_argument(
                flag_name(key), dest=key, action=argparse.BooleanOptionalAction, default=None, help=SETTINGS[key].cli
            )
        else:
            parser.add_argument(flag_name(key), dest=key, default=None, metavar=_metavar(key), help=SETTINGS[key].cli)
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any setting by its key, e.g. --set conv=10x5s2,40x5s2p2 --set aug_rotation=10 (repeatable; "
        "applied after the flags)",
    )


def _metavar(key: str) -> str:
    special = {"hidden": "WIDTHS", "conv": "BLOCKS", "data": "SOURCE"}
    return special.get(key) or {int: "N", float: "X"}.get(_kind(key), "NAME")


def spec_from_flags(args: argparse.Namespace, defaults: ExperimentSpec | None = None) -> ExperimentSpec:
    """The spec that flags added by ``add_spec_flags`` describe.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments.
    defaults : ExperimentSpec, optional
        The starting point (``ExperimentSpec()``, or a preset's spec): flags not
        given keep its values. ``--set`` settings apply after the flags.

    Returns
    -------
    ExperimentSpec
        Not validated.

    Raises
    ------
    ValueError
        Naming the flag or setting whose value cannot be read.
    """
    base = defaults if defaults is not None else ExperimentSpec()
    given = {key: getattr(args, key) for key in KEYS if getattr(args, key, None) is not None}
    texts = {key: format_value(key, v) if isinstance(v, bool) else v for key, v in given.items()}
    values = _parse_labelled((key, text, f"{flag_name(key)} {text!r}") for key, text in texts.items())
    return apply_settings(_build(base, values), getattr(args, "settings", None) or [])


def spec_to_flags(spec: ExperimentSpec) -> list[str]:
    """Command-line arguments that ``spec_from_flags`` turns back into ``spec`` (non-default settings only)."""
    out = []
    for key in _non_default(spec):
        value = _value(spec, key)
        if isinstance(value, bool):
            out.append(flag_name(key) if value else "--no-" + flag_name(key)[2:])
        else:
            out.append(f"{flag_name(key)}={format_value(key, value)}")
    return out
