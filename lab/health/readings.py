"""Read a run's recorded health without TensorFlow: tables for charts and single numbers.

``lab.health.recorder`` records the health of a network as it trains into a plain
JSON-ready dict (``RunResult.health``); everything here reads that dict, so a
page shows a stored run's gradients without importing TensorFlow. Tables are
pandas frames, imported only when asked for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def layer_names(health: dict[str, Any]) -> list[str]:
    """Layers with a kernel, input side first."""
    return [layer["name"] for layer in health.get("layers", [])]


def layer_frame(health: dict[str, Any]) -> pd.DataFrame:
    """One row per layer and epoch: ``layer, position, epoch`` and every recorded number (NaN where None)."""
    import pandas as pd  # lazy: reading single numbers needs no pandas

    rows = []
    epochs = health.get("epochs", [])
    for position, layer in enumerate(health.get("layers", [])):
        for i, epoch in enumerate(epochs):
            row = {"layer": layer["name"], "position": position, "epoch": epoch}
            for key in ("grad_norm", "weight_norm", "update_ratio", "act_mean", "act_std", "saturated", "dead"):
                values = layer.get(key) or []
                value = values[i] if i < len(values) else None
                row[key] = math.nan if value is None else float(value)
            rows.append(row)
    return pd.DataFrame(rows)


def histogram_frame(health: dict[str, Any], epoch: int) -> pd.DataFrame:
    """Activation histograms at ``epoch`` (the nearest recorded one before it): ``layer, bin_start, bin_end, share``."""
    import pandas as pd  # lazy: reading single numbers needs no pandas

    index = recorded_index(health, epoch)
    rows = []
    for layer in health.get("layers", []):
        edges, hists = layer.get("hist_edges"), layer.get("hist") or []
        if not edges or index is None or index >= len(hists) or hists[index] is None:
            continue
        for start, end, share in zip(edges[:-1], edges[1:], hists[index], strict=True):
            rows.append({"layer": layer["name"], "bin_start": start, "bin_end": end, "share": share})
    return pd.DataFrame(rows, columns=["layer", "bin_start", "bin_end", "share"])


def recorded_index(health: dict[str, Any], epoch: int) -> int | None:
    """Position of ``epoch`` in the record, or of the last epoch before it (a run that stopped early)."""
    epochs = health.get("epochs", [])
    before = [i for i, e in enumerate(epochs) if e <= epoch]
    return before[-1] if before else None


def gradient_spread(health: dict[str, Any], epoch: int = 0) -> float | None:
    """How many times larger the output layer's gradient norm is than the first layer's at ``epoch``.

    Far above 1: vanishing gradients (the first layers barely learn); far below
    1: the gradient grows on its way back (exploding). None when either is
    missing, zero or not finite.
    """
    index = recorded_index(health, epoch)
    layers = health.get("layers", [])
    if index is None or len(layers) < 2:
        return None
    first, last = layers[0]["grad_norm"][index], layers[-1]["grad_norm"][index]
    if first is None or last is None or first <= 0 or last <= 0:
        return None
    return float(last) / float(first)


def layer_value(health: dict[str, Any], layer: str, key: str, epoch: int) -> float | None:
    """One recorded number (None when missing or not finite)."""
    index = recorded_index(health, epoch)
    for entry in health.get("layers", []):
        if entry["name"] == layer and index is not None:
            values = entry.get(key) or []
            return values[index] if index < len(values) else None
    return None


def finite_range(healths: Sequence[dict[str, Any]], key: str = "grad_norm") -> tuple[float, float] | None:
    """Smallest and largest positive finite ``key`` over several runs: one color scale for all."""
    values = [
        float(v)
        for health in healths
        for layer in health.get("layers", [])
        for v in (layer.get(key) or [])
        if v is not None and v > 0 and math.isfinite(v)
    ]
    return (min(values), max(values)) if values else None


def recording_overhead(health: dict[str, Any], train_seconds: float) -> float | None:
    """Recording time as a share of the training time without it (0.05 = 5% slower)."""
    seconds = health.get("record_seconds")
    if seconds is None or train_seconds <= seconds:
        return None
    return float(seconds) / (train_seconds - float(seconds))
