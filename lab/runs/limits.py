"""What one training may cost on a shared server: limits no link or widget can get past.

On a class server any student can open any link, so the server, not the page,
decides how big a training may be. The operator sets the limits in the
environment or in ``.streamlit/secrets.toml`` (the environment wins); the app
checks every spec against them before anything is queued (``JobManager``), and
the trainer stops a training that reaches the time limit as a Stop press would.
The command line applies the same settings from the environment unless
``--no-limits`` lifts them.

Settings (``0`` lifts one limit):

- ``MLP_LAB_MAX_EPOCHS`` (default 200: the course's longest run is 100)
- ``MLP_LAB_PARAM_BUDGET`` (default 5,000,000 weights)
- ``MLP_LAB_MAX_TRAIN_SECONDS`` (default 600: ten minutes of training, queue time excluded)
- ``MLP_LAB_MAX_QUEUED`` (default 3 trainings queued or running per browser session)
- ``MLP_LAB_DATA_ROOTS`` (folders, separated by ``os.pathsep``, where ``idx:`` data may
  lie besides the project's ``data/`` folder)
- ``MLP_LAB_STORE_MB`` (default 2,000 MB: the run store's disk budget; no new training once it is used up)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.architecture import DEFAULT_PARAM_BUDGET, CheckedSpec, check_network
from lab.data.sources import PROJECT_DATA_DIR, check_data_allowed
from lab.spec import ExperimentSpec

MAX_EPOCHS_ENV = "MLP_LAB_MAX_EPOCHS"
PARAM_BUDGET_ENV = "MLP_LAB_PARAM_BUDGET"
MAX_TRAIN_SECONDS_ENV = "MLP_LAB_MAX_TRAIN_SECONDS"
MAX_QUEUED_ENV = "MLP_LAB_MAX_QUEUED"
DATA_ROOTS_ENV = "MLP_LAB_DATA_ROOTS"
STORE_MB_ENV = "MLP_LAB_STORE_MB"

DEFAULT_MAX_EPOCHS = 200
DEFAULT_MAX_TRAIN_SECONDS = 600.0
DEFAULT_MAX_QUEUED = 3
DEFAULT_STORE_MB = 2000  # a course's presets take about 100 MB; a term of a class's runs fits


class LimitExceeded(ValueError):
    """A training the server's limits do not allow; the message names the limit and the setting."""


@dataclass(frozen=True)
class Limits:
    """The server's limits; None means no limit.

    Attributes
    ----------
    max_epochs : int | None
        The most epochs one training may ask for.
    max_params : int | None
        The most weights a network may have.
    max_train_seconds : float | None
        The longest one training may run before it is stopped (kept, marked ``time limit``).
    max_queued : int | None
        The most trainings one browser session may have queued or running at once.
    data_roots : tuple[Path, ...] | None
        Folders under which ``idx:`` data may lie; None: any folder (the command line).
    store_mb : int | None
        The run store's disk budget in MB (10**6 bytes): no new training is accepted once it is used up.
    """

    max_epochs: int | None = DEFAULT_MAX_EPOCHS
    max_params: int | None = DEFAULT_PARAM_BUDGET
    max_train_seconds: float | None = DEFAULT_MAX_TRAIN_SECONDS
    max_queued: int | None = DEFAULT_MAX_QUEUED
    data_roots: tuple[Path, ...] | None = field(default=(PROJECT_DATA_DIR,))
    store_mb: int | None = DEFAULT_STORE_MB

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, secrets: Mapping[str, Any] | None = None) -> Limits:
        """The limits the operator set: each setting from ``env`` (default ``os.environ``), else ``secrets``.

        Raises
        ------
        ValueError
            For a setting that is not a whole number of 0 or more (the message names it).
        """
        env = os.environ if env is None else env
        secrets = secrets or {}

        def setting(name: str) -> str:
            value = env.get(name, "")
            return str(value if value != "" else secrets.get(name, "") or "").strip()

        def number(name: str, default: float) -> int | None:
            text = setting(name).replace("_", "").replace(",", "")
            if not text:
                return int(default)
            if not text.isdigit():
                raise ValueError(f"The setting {name}={setting(name)!r} must be a whole number (0 lifts the limit).")
            return int(text) or None

        extra = [Path(p).expanduser() for p in setting(DATA_ROOTS_ENV).split(os.pathsep) if p.strip()]
        seconds = number(MAX_TRAIN_SECONDS_ENV, DEFAULT_MAX_TRAIN_SECONDS)
        return cls(
            max_epochs=number(MAX_EPOCHS_ENV, DEFAULT_MAX_EPOCHS),
            max_params=number(PARAM_BUDGET_ENV, DEFAULT_PARAM_BUDGET),
            max_train_seconds=float(seconds) if seconds is not None else None,
            max_queued=number(MAX_QUEUED_ENV, DEFAULT_MAX_QUEUED),
            data_roots=(PROJECT_DATA_DIR, *extra),
            store_mb=number(STORE_MB_ENV, DEFAULT_STORE_MB),
        )

    @classmethod
    def unlimited(cls) -> Limits:
        """No limit at all: the command line's ``--no-limits``."""
        return cls(
            max_epochs=None, max_params=None, max_train_seconds=None, max_queued=None, data_roots=None, store_mb=None
        )

    def check(self, spec: ExperimentSpec | CheckedSpec) -> CheckedSpec:
        """Refuse a spec beyond a limit (epochs, weights, data folder) before anything trains; return it checked.

        The one seam where a spec becomes a ``CheckedSpec``: its values and its network are
        checked and its weights counted here, once (not again for a spec already checked),
        and the job, the executor and the trainer trust the result.

        Raises
        ------
        LimitExceeded
            Naming the limit, the value asked for and what to change.
        ValueError
            For a spec that is invalid whatever the limits (``check_network``).
        """
        # Every field's value first, and a network that can be built; the size against this server's own limit below.
        checked = spec if isinstance(spec, CheckedSpec) else check_network(spec, None)
        spec = checked.spec
        if self.max_epochs is not None and spec.epochs > self.max_epochs:
            raise LimitExceeded(
                f"{spec.epochs} epochs is more than this server allows ({self.max_epochs}, the limit "
                f"{MAX_EPOCHS_ENV}): choose {self.max_epochs} epochs or fewer."
            )
        if self.max_params is not None and checked.params > self.max_params:
            raise LimitExceeded(
                f"This model has {checked.params:,} parameters, more than the budget this server allows "
                f"({self.max_params:,}, the limit {PARAM_BUDGET_ENV}): use fewer or narrower layers."
            )
        try:
            check_data_allowed(spec.data, self.data_roots)
        except ValueError as exc:
            raise LimitExceeded(str(exc)) from None
        return checked

    def check_queue(self, queued: int) -> None:
        """Refuse one more training to a session that has ``queued`` trainings queued or running.

        Raises
        ------
        LimitExceeded
            When ``queued`` already reaches ``max_queued``.
        """
        if self.max_queued is not None and queued >= self.max_queued:
            raise LimitExceeded(
                f"You already have {queued} trainings queued or running, the most one browser may have on this "
                f"server ({self.max_queued}, the limit {MAX_QUEUED_ENV}): wait for one to finish, or stop one."
            )

    def rows(self) -> list[tuple[str, str, str]]:
        """(limit, value, setting) for each limit, as the teacher's panel and the README list them."""

        def text(value: float | None, unit: str = "") -> str:
            return "no limit" if value is None else f"{value:,.0f}{unit}"

        roots = "any folder" if self.data_roots is None else ", ".join(str(r) for r in self.data_roots)
        return [
            ("Most epochs of one training", text(self.max_epochs), MAX_EPOCHS_ENV),
            ("Most parameters of one network", text(self.max_params), PARAM_BUDGET_ENV),
            ("Longest training (seconds)", text(self.max_train_seconds, " s"), MAX_TRAIN_SECONDS_ENV),
            ("Most trainings queued per browser session", text(self.max_queued), MAX_QUEUED_ENV),
            ("Folders idx: data may come from", roots, DATA_ROOTS_ENV),
            ("Disk budget of the run store (MB)", text(self.store_mb, " MB"), STORE_MB_ENV),
        ]

    def check_store(self, used_bytes: int) -> None:
        """Refuse a new training while the run store takes ``used_bytes``, at or over ``store_mb``.

        A full disk fails every save (and a training's result with it) and can stop the
        server's other work: the budget stops new trainings first, and the teacher frees
        room by deleting runs on the panel.

        Raises
        ------
        LimitExceeded
            When ``used_bytes`` reaches the budget; the message says what to do.
        """
        if self.store_mb is not None and used_bytes >= self.store_mb * 1e6:
            raise LimitExceeded(
                f"The run store is full ({used_bytes / 1e6:,.0f} of {self.store_mb:,} MB, the limit {STORE_MB_ENV}): "
                "ask the teacher to delete runs on the Teacher page. Stored runs still open as usual."
            )
