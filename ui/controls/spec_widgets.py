"""Widgets for every setting of an ExperimentSpec, made from the settings' descriptions.

``spec_controls`` draws the data, model and training groups and returns the spec
they describe; any page can reuse it (with its own ``key_prefix``). Each control
is made from its ``lab.spec.SETTINGS`` entry (label, help, widget, when it applies):
a setting added to the spec appears here without a line of this module changing.
Three settings are laid out by hand (``custom`` widgets): the data source (a source
and a folder), the hidden layers (a count and widths) and the conv blocks (the CNN
page's ``ui.cnn.conv_widgets``). The spec in the URL is ``ui.app.url``'s.

Widgets take their values from session state (seeded from a spec by
``seed_controls``), never from a ``value=`` argument, so that a link, a preset
or a stored run can set them without Streamlit's "default value and session
state" conflict.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from lab.setting import GROUPS, Setting
from lab.spec import AUG_PREFIX, SETTINGS, SOURCE_NAMES, SOURCE_TRAIN_IMAGES, Augmentation, ExperimentSpec, subset_size
from ui.controls.lesson import lesson as current_lesson
from ui.controls.lesson import locked as lesson_locked

MAX_HIDDEN_LAYERS = int(SETTINGS["hidden"].bounds[1])  # as many as the spec takes
# Help for the parts of the hand-laid controls (the setting's own help goes on its first part).
PART_HELP = {
    "idx_folder": "A folder holding train-images, train-labels, t10k-images and t10k-labels IDX files (.gz or not).",
    "width": "How many units each hidden layer has: more units can learn more patterns but have more weights to fit.",
    "per_layer": "Give each hidden layer its own number of units (for example 580, 325, 125).",
    "width_i": "Units in this hidden layer.",
}
# Widgets of the hand-laid controls, and the setting each one sets (a lesson locks them with it).
_PARTS = {"data_source": "data", "idx_folder": "data", "n_hidden": "hidden", "width": "hidden", "per_layer": "hidden"}


# ------------------------------------------------------- session state seeding
def control_values(spec: ExperimentSpec) -> dict[str, Any]:
    """The widget values (by widget name, without prefix) that show ``spec``."""
    source = spec.data.split(":", 1)[0] if spec.data.startswith("idx:") else spec.data
    widths = tuple(spec.hidden)
    values: dict[str, Any] = {
        "data_source": source,
        "idx_folder": spec.data[4:] if source == "idx" else "",
        "n_hidden": len(widths),
        "width": widths[0] if widths else 50,
        "per_layer": len(set(widths)) > 1,
    }
    for i, w in enumerate(widths, start=1):
        values[f"width_{i}"] = int(w)
    settings = spec.settings()
    values.update({key: settings[key] for key, s in SETTINGS.items() if s.widget.kind != "custom"})
    return values


def seed_controls(spec: ExperimentSpec, key_prefix: str = "") -> None:
    """Set every control to show ``spec`` (call before the widgets are drawn, or from a callback)."""
    for name, value in control_values(spec).items():
        st.session_state[key_prefix + name] = value
    for i in range(len(spec.hidden) + 1, MAX_HIDDEN_LAYERS + 1):
        st.session_state.pop(f"{key_prefix}width_{i}", None)


# ------------------------------------------------------------------ widgets
def spec_controls(defaults: ExperimentSpec, key_prefix: str = "") -> ExperimentSpec:
    """Draw a control for every setting of the data, model and training groups; return the spec they describe.

    Parameters
    ----------
    defaults : ExperimentSpec
        Values for controls not set yet in this session, and for the settings not drawn here (the conv
        blocks and augmentation: a page draws its own), which pass into the result unchanged.
    key_prefix : str
        Prefix of every widget key, so that two pages keep separate settings.

    Returns
    -------
    ExperimentSpec
        Not validated: call ``validate()`` (the parameter budget may be exceeded).
    """
    p = key_prefix
    for name, value in control_values(defaults).items():
        st.session_state.setdefault(p + name, value)
    values: dict[str, Any] = {}
    for group in ("data", "model", "training"):
        keys = group_keys(group)
        with st.expander(group.capitalize(), expanded=_lesson_opens(keys)):
            values.update(group_controls(group, p))
    # Settings a choice makes irrelevant (momentum under Adam ...) keep their values, disabled, rather than
    # being reset: a preset's spec must come back with the same run id, or its stored run would not be found.
    return with_settings(defaults, values)


def group_keys(group: str) -> tuple[str, ...]:
    """The settings of one group (``lab.setting.GROUPS``), in the spec's order."""
    if group not in GROUPS:
        raise ValueError(f"Unknown group '{group}'. Choose one of: {', '.join(GROUPS)}.")
    return tuple(key for key, setting in SETTINGS.items() if setting.group == group)


def group_controls(group: str, key_prefix: str, columns: int = 1) -> dict[str, Any]:
    """Draw every control of ``group`` (conv blocks excepted) and return their values by setting key.

    ``columns`` > 1 lays them out side by side (augmentation's sliders, on the CNN page).
    """
    p = key_prefix
    state = {key: st.session_state.get(p + key) for key in SETTINGS}  # what 'applies' is judged on
    drawn: dict[str, Any] = {}
    keys = [key for key in group_keys(group) if key != "conv"]
    slots = st.columns(columns) if columns > 1 else None
    for i, key in enumerate(keys):
        with slots[i % columns] if slots else contextlib.nullcontext():
            if key == "data":
                drawn[key] = _data_control(p)
            elif key == "hidden":
                drawn[key] = _hidden_control(p)
            else:
                state[key] = drawn[key] = setting_control(SETTINGS[key], p, state)
    return {key: value for key, value in drawn.items() if value is not None}


def with_settings(spec: ExperimentSpec, values: Mapping[str, Any]) -> ExperimentSpec:
    """``spec`` with settings changed by key (augmentation's ``aug_NAME`` keys included)."""
    aug = {key.removeprefix(AUG_PREFIX): v for key, v in values.items() if key.startswith(AUG_PREFIX)}
    changes = {key: v for key, v in values.items() if not key.startswith(AUG_PREFIX)}
    if aug:
        changes["augmentation"] = Augmentation(**{**spec.augmentation.__dict__, **aug})
    return ExperimentSpec(**{**spec.__dict__, **changes})


def setting_control(setting: Setting, key_prefix: str, state: Mapping[str, Any]) -> Any:
    """Draw the control of one setting; its value (typed as the spec's field), or its current one when hidden.

    ``state`` holds every setting's current value by key: a setting that does not apply under it
    (momentum under Adam) is greyed out, or hidden when its widget says so.
    """
    key, widget = setting.key, setting.widget
    applies = setting.applies({k: (v if v is not None else SETTINGS[k].default) for k, v in state.items()})
    current = st.session_state.get(key_prefix + key, setting.default)
    if widget.hide_when_off and not applies:
        return current
    args = widget_args(key_prefix + key, setting.help, widget.options or None, field=key, disabled=not applies)
    label = widget.label or setting.label
    if widget.kind == "select":
        value = st.selectbox(label, format_func=widget.show, **args)
    elif widget.kind == "steps":
        value = st.select_slider(label, format_func=_formatter(setting, key_prefix), **args)
    elif widget.kind == "slider":
        kind = type(setting.default)
        top = max(kind(widget.high), current)  # a link may go past the slider's usual end
        value = st.slider(label, min_value=kind(widget.low), max_value=top, step=kind(widget.step), **args)
    elif widget.kind == "number":
        value = st.number_input(label, min_value=int(widget.low), step=int(widget.step), **args)
    elif widget.kind == "checkbox":
        value = st.checkbox(label, **args)
    else:  # pragma: no cover - a new custom widget is laid out by hand in group_controls
        raise ValueError(f"No control for custom setting '{key}': lay it out by hand.")
    return type(setting.default)(value)


def _formatter(setting: Setting, key_prefix: str) -> Any:
    if setting.key == "train_subset":  # shares of the chosen source: "10% · 400"
        source = st.session_state.get(key_prefix + "data_source", "sample")
        return lambda value: _subset_label(value, SOURCE_TRAIN_IMAGES.get(source))
    return setting.widget.show


def _lesson_opens(fields: Sequence[str]) -> bool:
    """Whether a group of controls starts open: always, but under a lesson only when it holds one of its controls."""
    editable = current_lesson()
    return editable is None or any(field in editable for field in fields)


def widget_args(
    key: str,
    help_text: str | None,
    options: Sequence[Any] | None = None,
    *,
    field: str | None = None,
    disabled: bool = False,
) -> dict[str, Any]:
    """Common widget arguments: a stable key, help text, kept when hidden or on another page.

    ``options`` gain the widget's current value when they lack it (a link or a
    preset may hold a value the list does not offer). The widget is disabled when
    ``disabled`` or when it sets spec setting ``field`` and the URL's lesson
    leaves that setting fixed (``ui.controls.lesson``).
    """
    locked = field is not None and lesson_locked(field)
    kwargs: dict[str, Any] = {"key": key, "help": help_text, "persist_state": "session", "disabled": disabled or locked}
    if options is not None:
        kwargs["options"] = with_current(options, st.session_state.get(key))
    return kwargs


def with_current(options: Sequence[Any], current: Any) -> list[Any]:
    """The options plus the current value, in order."""
    values = list(options)
    if current is not None and current not in values:
        values.append(current)
        with contextlib.suppress(TypeError):  # mixed types keep the list order
            values.sort()
    return values


def _part(p: str, name: str, options: Sequence[Any] | None = None) -> dict[str, Any]:
    """Arguments of one part of a hand-laid control; the first part carries the setting's own help."""
    field = "hidden" if name.startswith("width_") else _PARTS[name]
    help_text = PART_HELP.get("width_i" if name.startswith("width_") else name) or SETTINGS[field].help
    return widget_args(p + name, help_text, options, field=field)


def _data_control(p: str) -> str:
    source = st.selectbox(SETTINGS["data"].label, format_func=SOURCE_NAMES.get, **_part(p, "data_source", SOURCE_NAMES))
    if source != "idx":
        return source
    folder = st.text_input("IDX folder", placeholder="/path/to/mnist", **_part(p, "idx_folder")).strip()
    return f"idx:{folder}" if folder else "idx:"


def _subset_label(value: float, size: int | None) -> str:
    """The images a subset takes from the source at hand: "10% · 400", "all 4,000 (6,000 asked)"."""
    if size is None:  # an IDX folder: its size is known once it is read
        return f"at most {int(value):,} images" if value > 1 else f"{value:.0%}"
    count = subset_size(size, value)
    if value > 1:
        return f"all {count:,} ({int(value):,} asked)" if value > size else f"{count:,} images"
    return f"{value:.0%} · {count:,}"


def _hidden_control(p: str) -> tuple[int, ...]:
    setting = SETTINGS["hidden"]
    n_hidden = st.slider(setting.label, min_value=0, max_value=MAX_HIDDEN_LAYERS, step=1, **_part(p, "n_hidden"))
    if not n_hidden:
        return ()
    width = st.select_slider("Units per hidden layer", **_part(p, "width", setting.widget.options))
    if not st.toggle("Set each layer's width", **_part(p, "per_layer")):
        return (int(width),) * n_hidden
    columns = st.columns(min(n_hidden, 3))
    widths = []
    for i in range(1, n_hidden + 1):
        st.session_state.setdefault(f"{p}width_{i}", int(width))
        column = columns[(i - 1) % len(columns)]
        widths.append(column.number_input(f"Layer {i}", min_value=1, step=10, **_part(p, f"width_{i}")))
    return tuple(int(w) for w in widths)
