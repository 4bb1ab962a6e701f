"""A challenge's leaderboard: the entries ranked (public score, or private once revealed), and the settings
each entry chose as numbers, for a parallel-coordinates view of which settings the winners share."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lab.challenge.board import Entry

# The settings the parallel-coordinates view draws, each as one number per entry (axis title -> value).
FEATURES = (
    "Parameters (log10)",
    "Hidden layers",
    "Conv blocks",
    "Epochs",
    "Learning rate (log10)",
    "Batch size (log2)",
    "Dropout",
    "L2 (log10)",
)


@dataclass(frozen=True)
class Standing:
    """One entry's place: ``rank`` by the score the leaderboard shows, and ``public_rank`` for comparison."""

    rank: int
    public_rank: int
    entry: Entry


def standings(entries: Sequence[Entry], revealed: bool) -> list[Standing]:
    """The entries ranked by public score, or by private score once ``revealed`` (ties share a rank)."""
    public_rank = _ranks(entries, lambda e: e.public)
    key = (lambda e: e.private) if revealed else (lambda e: e.public)
    ranks = _ranks(entries, key)
    ordered = sorted(entries, key=lambda e: (ranks[e.entry_id], e.submitted, e.entry_id))
    return [Standing(ranks[e.entry_id], public_rank[e.entry_id], e) for e in ordered]


def _ranks(entries: Sequence[Entry], score: Callable[[Entry], float]) -> dict[int, int]:
    """Competition ranking (1, 2, 2, 4): an entry's rank is one more than the entries scoring strictly higher."""
    scores = [score(e) for e in entries]
    return {e.entry_id: 1 + sum(s > score(e) for s in scores) for e in entries}


def features(entry: Entry) -> dict[str, float]:
    """The settings of ``entry`` as numbers, by ``FEATURES`` title (a zero L2 sits at -6, below any used)."""
    spec = entry.spec
    return {
        "Parameters (log10)": math.log10(max(entry.params, 1)),
        "Hidden layers": float(len(spec.hidden)),
        "Conv blocks": float(len(spec.conv)),
        "Epochs": float(spec.epochs),
        "Learning rate (log10)": math.log10(spec.learning_rate),
        "Batch size (log2)": math.log2(spec.batch_size),
        "Dropout": float(spec.dropout),
        "L2 (log10)": math.log10(spec.l2) if spec.l2 > 0 else -6.0,
    }
