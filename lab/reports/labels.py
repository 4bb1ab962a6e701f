"""Stored runs named in plain words, for selectors, legends and tables people read.

``ExperimentSpec.describe()`` says what a run is ("MLP 128 units, ReLU, Adam, 10
epochs"); these add what tells runs apart in a list: the seed when two runs
differ only by it, then the run id, and the test accuracy. ``summary()`` stays the
compact form (the CLI, tooltips).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from lab.runs.store import RunInfo
from lab.spec import ExperimentSpec


def distinct_descriptions(specs: Sequence[ExperimentSpec]) -> list[str]:
    """Each spec's ``describe()``, with ``seed N`` (then the run id) added where two would read the same."""
    texts = [spec.describe() for spec in specs]
    texts = _where_repeated(texts, [f"seed {spec.seed}" for spec in specs])
    return _where_repeated(texts, [f"run {spec.run_id}" for spec in specs])


def _where_repeated(texts: list[str], extras: list[str]) -> list[str]:
    counts: dict[str, int] = {}
    for text in texts:
        counts[text] = counts.get(text, 0) + 1
    return [f"{text}, {extra}" if counts[text] > 1 else text for text, extra in zip(texts, extras, strict=True)]


def accuracy_words(info: RunInfo) -> str:
    """``93.1% test accuracy`` or ``diverged``."""
    acc = info.test_accuracy
    if info.metrics.get("diverged") or not math.isfinite(acc):
        return "diverged"
    return f"{acc:.1%} test accuracy"


def run_labels(infos: Sequence[RunInfo], max_chars: int | None = None) -> dict[str, str]:
    """Run id -> ``MLP 128 units, ReLU, Adam, 10 epochs · 93.1% test accuracy``, distinct within ``infos``.

    With ``max_chars``, a description longer than that (a box too narrow for it)
    gives way to the compact ``summary()``; ``run_help`` has it whole.
    """
    texts = distinct_descriptions([info.spec for info in infos])
    if max_chars is not None:
        texts = [
            text if len(text) <= max_chars else info.spec.summary() for info, text in zip(infos, texts, strict=True)
        ]
    return {info.run_id: f"{text} · {accuracy_words(info)}" for info, text in zip(infos, texts, strict=True)}


def run_help(info: RunInfo) -> str:
    """The compact form of a run, for a tooltip: its ``summary()`` and its id."""
    return f"{info.spec.summary()} · run {info.run_id}"


def run_description(info: RunInfo) -> str:
    """The whole plain-words description of a run and its id, for the hover text of a box that shows it compact."""
    return f"{info.spec.describe()} · run {info.run_id}"
