"""A series' lesson as claims our numbers can confirm, and whether quick mode is meant to show each.

A claim compares presets by what the course table shows: test accuracy, the
gap between training and test accuracy (over-fitting), or an ensemble's vote
against its members. Each series module lists its claims (``Series.claims``):
they are the only statement of the lessons. ``check_claims`` reads them on a
table's numbers, for the Techniques page (which part of the lesson the results
show, and which needs the full run) and for REPRODUCTION.md alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

BELOW = "below"  # the preset's test accuracy stays below `value` (near chance)
BEATS = "beats"  # its test accuracy is above `other`'s by more than `value`
OVERFITS = "overfits"  # its training accuracy is above its test accuracy by more than `value`
NARROWS = "narrows"  # its train/test gap is smaller than `other`'s
VOTES = "votes"  # an ensemble: its vote's test accuracy is at least its members' average, less `value`
KINDS = (BELOW, BEATS, OVERFITS, NARROWS, VOTES)
# An ensemble whose members all agree scores exactly their average; rounding must not call that a loss.
_EPSILON = 1e-9


@dataclass(frozen=True)
class Claim:
    """One sentence of a series' lesson, checkable on our numbers.

    Attributes
    ----------
    text : str
        The sentence, naming the presets: "ReLU (A3) learns where A1 does not".
    kind : str
        ``below``, ``beats``, ``overfits``, ``narrows`` or ``votes`` (see the constants).
    preset : str
        The preset the sentence is about.
    other : str
        The preset it is compared with (``beats``, ``narrows``).
    value : float
        The threshold or margin, as a share (0.2 = 20 points).
    quick : bool
        Whether quick mode's runs are meant to show it; False: it needs the course's full length.
    """

    text: str
    kind: str
    preset: str
    other: str = ""
    value: float = 0.0
    quick: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Unknown claim kind '{self.kind}'. Choose one of: {', '.join(KINDS)}.")
        if self.kind in (BEATS, NARROWS) and not self.other:
            raise ValueError(f"A '{self.kind}' claim compares two presets: name the other one.")

    @property
    def presets(self) -> tuple[str, ...]:
        """The presets whose numbers the claim needs."""
        return (self.preset, self.other) if self.other else (self.preset,)


@dataclass(frozen=True)
class Numbers:
    """What the table shows of one preset.

    Attributes
    ----------
    accuracy : float or None
        Test accuracy (an ensemble's soft vote); None until every run is stored, or when it diverged.
    train_accuracy : float or None
        Training accuracy of the weights kept; None (or NaN) when unknown.
    members : tuple of float
        An ensemble's members' test accuracies; empty for a single run.
    """

    accuracy: float | None
    train_accuracy: float | None = None
    members: tuple[float, ...] = ()

    @property
    def gap(self) -> float | None:
        """Training minus test accuracy; None when either is missing."""
        if self.accuracy is None or self.train_accuracy is None or not math.isfinite(self.train_accuracy):
            return None
        return self.train_accuracy - self.accuracy


@dataclass(frozen=True)
class ClaimCheck:
    """A claim read on our numbers.

    Attributes
    ----------
    claim : Claim
    holds : bool or None
        True or False on the numbers; None while a preset it needs has no result.
    detail : str
        The numbers it rests on: ``A3 86.1% vs A1 11.4%``.
    """

    claim: Claim
    holds: bool | None
    detail: str


def check_claim(claim: Claim, numbers: Mapping[str, Numbers]) -> ClaimCheck:
    """Whether ``numbers`` (preset name -> its numbers) show ``claim``."""
    mine, theirs = numbers.get(claim.preset), numbers.get(claim.other)
    if claim.kind == VOTES:
        if mine is None or mine.accuracy is None or not mine.members:
            return ClaimCheck(claim, None, "")
        average = sum(mine.members) / len(mine.members)
        members = ", ".join(f"{m:.1%}" for m in mine.members)
        detail = f"{claim.preset} {mine.accuracy:.1%} vs its members {members} (average {average:.1%})"
        return ClaimCheck(claim, mine.accuracy >= average - claim.value - _EPSILON, detail)
    if claim.kind in (BELOW, BEATS):
        acc = mine.accuracy if mine else None
        if claim.kind == BELOW:
            if acc is None:
                return ClaimCheck(claim, None, "")
            return ClaimCheck(claim, acc < claim.value, f"{claim.preset} {acc:.1%}")
        other = theirs.accuracy if theirs else None
        if acc is None or other is None:
            return ClaimCheck(claim, None, "")
        detail = f"{claim.preset} {acc:.1%} vs {claim.other} {other:.1%}"
        return ClaimCheck(claim, acc > other + claim.value, detail)
    gap = mine.gap if mine else None
    if claim.kind == OVERFITS:
        if gap is None or mine is None:
            return ClaimCheck(claim, None, "")
        detail = f"{claim.preset} training {mine.train_accuracy:.1%}, test {mine.accuracy:.1%}"
        return ClaimCheck(claim, gap > claim.value, detail)
    other_gap = theirs.gap if theirs else None
    if gap is None or other_gap is None:
        return ClaimCheck(claim, None, "")
    detail = f"gap {claim.preset} {gap * 100:+.1f} points vs {claim.other} {other_gap * 100:+.1f}"
    return ClaimCheck(claim, gap < other_gap, detail)


def check_claims(claims: Sequence[Claim], numbers: Mapping[str, Numbers]) -> list[ClaimCheck]:
    """Every claim read on ``numbers``, in order."""
    return [check_claim(claim, numbers) for claim in claims]
