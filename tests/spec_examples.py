"""A spec with every setting away from its default, made from the settings' own descriptions.

Read from ``lab.spec.SETTINGS``, so that a setting added to the spec is in the example
without anyone writing it here: a door (a link, the widgets, the command line) that
loses a setting then fails its round-trip test.
"""

from __future__ import annotations

from typing import Any

from lab.setting import Setting
from lab.spec import SETTINGS, ConvBlock, ExperimentSpec

# Settings drawn by hand (custom widgets) have no options to pick from: one value each.
_CUSTOM = {
    "data": "idx:/tmp/some folder",
    "conv": (ConvBlock(10, 5, strides=2), ConvBlock(40, 3, padding="valid", pool=2, dropout=0.25, l2=1e-4)),
    "hidden": (50, 25),
}


def _other_value(setting: Setting) -> Any:
    """A value of the setting other than its default, from what its widget offers."""
    if setting.key in _CUSTOM:
        return _CUSTOM[setting.key]
    widget = setting.widget
    if widget.kind == "checkbox":
        return not setting.default
    if widget.options:
        return next(v for v in reversed(widget.options) if v != setting.default)
    if widget.kind == "slider" and widget.high is not None:
        value = round(widget.low + (widget.step or 1) * 3, 6)  # a few steps up: inside every range the lab offers
        return type(setting.default)(value)
    return type(setting.default)(setting.default + 3)  # number boxes: seeds, counts


def every_setting_changed() -> ExperimentSpec:
    """A spec in which every setting differs from its default and applies (momentum under SGD ...)."""
    values = {key: _other_value(setting) for key, setting in SETTINGS.items()}
    for setting in SETTINGS.values():
        need = setting.requires
        if need is not None and not need.holds(values):
            default = SETTINGS[need.key].default
            values[need.key] = next((v for v in need.values if v != default), need.values[0]) if need.values else 1
    spec = ExperimentSpec().replace(**{k: v for k, v in values.items() if not k.startswith("aug_")})
    aug = {k.removeprefix("aug_"): v for k, v in values.items() if k.startswith("aug_")}
    return spec.replace(augmentation=spec.augmentation.__class__(**aug)).validate()
