"""What a challenge allows: its data and limits, and why a run is refused (``check_entry``)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from lab.spec import ExperimentSpec

DEFAULT_MAX_PARAMS = 100_000
DEFAULT_MAX_EPOCHS = 20


class EntryRefused(ValueError):
    """A run that may not enter a challenge; the message names the rule (a limit, the data, the deadline)."""


@dataclass(frozen=True)
class Challenge:
    """One class challenge.

    Attributes
    ----------
    challenge_id : int
        Its number in the board (1, 2, ...).
    title : str
        What the teacher called it.
    data : str
        The data every entry must have trained on (``sample`` or ``mnist``): its held-out digits score them.
    max_params, max_epochs : int
        The limits: a network of at most ``max_params`` parameters, trained for at most ``max_epochs`` epochs.
    ends : float
        When submissions stop (``time.time()`` seconds).
    opened : float
        When the teacher opened it.
    closed : bool
        Closed by the teacher (no more entries, whatever ``ends`` says).
    revealed : bool
        The private scores are shown to everyone.
    """

    challenge_id: int
    title: str
    data: str
    max_params: int
    max_epochs: int
    ends: float
    opened: float
    closed: bool = False
    revealed: bool = False

    def accepting(self, now: float | None = None) -> bool:
        """Whether entries are taken now: not closed, and before the end time."""
        return not self.closed and (time.time() if now is None else now) < self.ends

    def limits_text(self) -> str:
        """The limits in words: ``at most 100,000 parameters and 20 epochs, on the sample``."""
        return f"at most {self.max_params:,} parameters and {self.max_epochs} epochs, trained on '{self.data}'"


def check_entry(
    challenge: Challenge,
    spec: ExperimentSpec,
    params: int,
    *,
    diverged: bool,
    nickname: str,
    trained_by: str,
    now: float | None = None,
) -> None:
    """Refuse a run that may not enter ``challenge``, with a message naming the rule; return quietly otherwise.

    Parameters
    ----------
    challenge : Challenge
        The challenge entered.
    spec, params, diverged
        The run: its spec, its parameter count, and whether its training diverged.
    nickname : str
        Who submits it ("" for a session with no nickname).
    trained_by : str
        The nickname credited with training it ("" for none): a student enters their own runs only.

    Raises
    ------
    EntryRefused
        For a challenge no longer taking entries, no nickname, another's run, other data, a diverged
        run, or a limit passed (the message names the limit and the run's own figure).
    """
    if challenge.closed:
        raise EntryRefused(f"The challenge '{challenge.title}' is closed: it takes no more entries.")
    if not challenge.accepting(now):
        raise EntryRefused(f"The challenge '{challenge.title}' has ended: it takes no more entries.")
    if not nickname:
        raise EntryRefused("Pick a nickname first (in the sidebar): entries are listed by nickname.")
    if trained_by != nickname:
        whose = f"by '{trained_by}'" if trained_by else "before anyone picked a nickname, or by the teacher"
        raise EntryRefused(f"This run was trained {whose}: enter a run you trained yourself under '{nickname}'.")
    if spec.data != challenge.data:
        raise EntryRefused(f"This run trained on '{spec.data}'; the challenge is on '{challenge.data}'.")
    if params > challenge.max_params:
        raise EntryRefused(
            f"This network has {params:,} parameters, more than the challenge's limit of "
            f"{challenge.max_params:,} parameters: make it smaller."
        )
    if spec.epochs > challenge.max_epochs:
        raise EntryRefused(
            f"This run trains {spec.epochs} epochs, more than the challenge's limit of {challenge.max_epochs} epochs."
        )
    if diverged:
        raise EntryRefused("This run diverged: it has no score to enter.")
