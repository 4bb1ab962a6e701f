"""Numbers and states in words, as every page writes them."""

from __future__ import annotations

import math

DIVERGED_TEXT = (
    "Training diverged: the loss became NaN or exploded. These are **exploding gradients**: "
    "each update was so large that the weights overshot and grew without bound. "
    "Lower the learning rate (try 10x smaller), or add batch normalization."
)
MISSING = "—"  # a number that is not there (not trained, or NaN)


def fmt_seconds(seconds: float) -> str:
    """``42 s`` or ``3 min 05 s``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def fmt_percent(value: float | None) -> str:
    """``93.12%``, or a dash for a missing or non-finite value (a diverged run)."""
    return f"{value:.2%}" if value is not None and math.isfinite(value) else MISSING


def fmt_loss(value: float) -> str:
    """``0.2345``, or ``NaN`` for a diverged run."""
    return f"{value:.4f}" if math.isfinite(value) else "NaN"
