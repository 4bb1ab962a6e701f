"""What one training may cost on a shared server: limits no link or widget can get past.

On a class server any student can open any link, so the server, not the page,
decides how big a training may be. The operator sets the limits in the
environment or in ``.streamlit/secrets.toml`` (the environment wins); the app
checks every spec against them before anything is queued (``JobManager``), and
the trainer stops a training that reaches the time limit as a Stop press would,
within a second, mid-epoch if need be. The command line applies the same settings
from the environment unless ``--no-limits`` lifts them.

The limits bound the work, not only its description: besides epochs and weights,
what one training computes (multiply-adds per image x training images x epochs)
and what one batch holds in memory (every layer's output for a batch of images,
and the weights) are estimated from the spec alone (``lab.architecture``), before
anything is prepared or queued.

Settings (``0`` lifts one limit):

- ``MLP_LAB_MAX_EPOCHS`` (default 200: the course's longest run is 100)
- ``MLP_LAB_PARAM_BUDGET`` (default 5,000,000 weights)
- ``MLP_LAB_MAX_COMPUTE`` (default 3,000 billion multiply-adds in one training: series B's deep
  CNNs, the course's costliest presets, take 2,514 billion on MNIST at the course's 100 epochs)
- ``MLP_LAB_MAX_BATCH_MEMORY_MB`` (default 1,024 MB for one batch: the course's presets need at
  most 140 MB; batches of ``lab.nn.forward.EVAL_BATCH`` images when validating count too)
- ``MLP_LAB_MAX_TRAIN_SECONDS`` (default 600: ten minutes of training, queue time excluded)
- ``MLP_LAB_MAX_QUEUED`` (default 3 trainings queued or running per visitor: per client
  address, so a new tab does not reset it; per browser session where there is no address)
- ``MLP_LAB_MAX_SERVER_QUEUE`` (default 30 trainings and searches queued or running on the
  whole server)
- ``MLP_LAB_MAX_SEARCH_EPOCHS`` (default 200: trials x epochs per trial of one Tune search)
- ``MLP_LAB_TUNE_LOCAL_RAY`` (default 0: a server that trains in-process does not start an
  embedded Ray for the Tune page; 1 allows it)
- ``MLP_LAB_QUEUE_BY_ADDRESS`` (default 1: the per-visitor limit counts per client address;
  0 counts per browser session, for a class whose browsers all reach the server from one address)
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

from lab.architecture import (
    DEFAULT_PARAM_BUDGET,
    NUM_CLASSES,
    CheckedSpec,
    activations,
    batch_memory_bytes,
    check_network,
    multiply_adds,
)
from lab.data.sources import PROJECT_DATA_DIR, check_data_allowed
from lab.nn.forward import EVAL_BATCH
from lab.spec import ExperimentSpec

MAX_EPOCHS_ENV = "MLP_LAB_MAX_EPOCHS"
PARAM_BUDGET_ENV = "MLP_LAB_PARAM_BUDGET"
MAX_COMPUTE_ENV = "MLP_LAB_MAX_COMPUTE"
MAX_BATCH_MEMORY_ENV = "MLP_LAB_MAX_BATCH_MEMORY_MB"
MAX_TRAIN_SECONDS_ENV = "MLP_LAB_MAX_TRAIN_SECONDS"
MAX_QUEUED_ENV = "MLP_LAB_MAX_QUEUED"
MAX_SERVER_QUEUE_ENV = "MLP_LAB_MAX_SERVER_QUEUE"
MAX_SEARCH_EPOCHS_ENV = "MLP_LAB_MAX_SEARCH_EPOCHS"
TUNE_LOCAL_RAY_ENV = "MLP_LAB_TUNE_LOCAL_RAY"
QUEUE_BY_ADDRESS_ENV = "MLP_LAB_QUEUE_BY_ADDRESS"
DATA_ROOTS_ENV = "MLP_LAB_DATA_ROOTS"
STORE_MB_ENV = "MLP_LAB_STORE_MB"

BILLION = 1_000_000_000
MB = 1024 * 1024
DEFAULT_MAX_EPOCHS = 200
# Series B's deep CNNs (B7-B11: 4.7 million multiply-adds an image, 5,400 training images, 100 epochs) take
# 2,514 billion, the most of any course preset; a network that costs more would not finish within the
# default time limit on a 2-core server anyway (``python -m lab bench``: about 20-40 billion a second).
DEFAULT_MAX_COMPUTE = 3_000 * BILLION
# The course's presets need at most 140 MB (B10, validating in batches of 2,048 images); the network of
# issue 26 (a 1,024-filter convolution at full resolution) 6,695 MB: it peaked at 4.8 GB.
DEFAULT_MAX_BATCH_MEMORY_MB = 1024
DEFAULT_MAX_TRAIN_SECONDS = 600.0
DEFAULT_MAX_QUEUED = 3
DEFAULT_STORE_MB = 2000  # a course's presets take about 100 MB; a term of a class's runs fits
DEFAULT_MAX_SERVER_QUEUE = 30
DEFAULT_MAX_SEARCH_EPOCHS = 200
# Training images of each source, known without reading it; an ``idx:`` folder counts as MNIST's size.
SOURCE_TRAIN_IMAGES = {"sample": 4_000, "mnist": 60_000, "fashion": 60_000}
IDX_TRAIN_IMAGES = 60_000


class LimitExceeded(ValueError):
    """A training the server's limits do not allow; the message names the limit and the setting."""


def training_images(spec: ExperimentSpec) -> int:
    """The images ``spec`` trains on each epoch, from its settings alone (no data is read).

    Its subset of the source's training images (``SOURCE_TRAIN_IMAGES``), less the validation share.
    """
    total = SOURCE_TRAIN_IMAGES.get(spec.data, IDX_TRAIN_IMAGES)
    subset = spec.train_subset
    count = total if subset == 1 else round(subset * total) if subset < 1 else int(subset)
    count = min(max(count, NUM_CLASSES), total)
    if spec.val_mode != "test":
        count -= round(count * spec.val_split)
    return count


def training_compute(spec: ExperimentSpec) -> int:
    """Multiply-adds of one training's forward passes: per image (``multiply_adds``) x training images x epochs.

    The backward pass costs about twice as much again, so this is a third of the work; it orders
    trainings by their length on any one machine.
    """
    return multiply_adds(spec) * training_images(spec) * spec.epochs


def batch_memory_mb(spec: ExperimentSpec, params: int | None = None) -> float:
    """MB one batch of ``spec`` takes (``lab.architecture.batch_memory_bytes``).

    Validation and test images go through in batches of ``EVAL_BATCH`` (2,048): without
    gradients, but as many images at once, so the larger of the two batches counts. ``params``:
    the weights, when counted already.
    """
    return batch_memory_bytes(spec, max(spec.batch_size, EVAL_BATCH), params) / MB


@dataclass(frozen=True)
class Limits:
    """The server's limits; None means no limit.

    Attributes
    ----------
    max_epochs : int | None
        The most epochs one training may ask for.
    max_params : int | None
        The most weights a network may have.
    max_compute : int | None
        The most multiply-adds one training may take (``training_compute``).
    max_batch_memory_mb : int | None
        The most MB one batch may take (``batch_memory_mb``).
    max_train_seconds : float | None
        The longest one training may run before it is stopped (kept, marked ``time limit``).
    max_queued : int | None
        The most trainings one visitor may have queued or running at once.
    max_server_queue : int | None
        The most trainings and searches the whole server may have queued or running at once.
    max_search_epochs : int | None
        The most trials x epochs per trial one search may ask for.
    tune_local_ray : bool
        Whether the Tune page may start an embedded Ray on a server that trains in-process.
    queue_by_address : bool
        Whether ``max_queued`` counts per client address (else per browser session).
    data_roots : tuple[Path, ...] | None
        Folders under which ``idx:`` data may lie; None: any folder (the command line).
    store_mb : int | None
        The run store's disk budget in MB (10**6 bytes): no new training is accepted once it is used up.
    """

    max_epochs: int | None = DEFAULT_MAX_EPOCHS
    max_params: int | None = DEFAULT_PARAM_BUDGET
    max_compute: int | None = DEFAULT_MAX_COMPUTE
    max_batch_memory_mb: int | None = DEFAULT_MAX_BATCH_MEMORY_MB
    max_train_seconds: float | None = DEFAULT_MAX_TRAIN_SECONDS
    max_queued: int | None = DEFAULT_MAX_QUEUED
    max_server_queue: int | None = DEFAULT_MAX_SERVER_QUEUE
    max_search_epochs: int | None = DEFAULT_MAX_SEARCH_EPOCHS
    tune_local_ray: bool = False
    queue_by_address: bool = True
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

        def switch(name: str, default: bool) -> bool:
            text = setting(name).lower()
            if not text:
                return default
            if text not in ("0", "1", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(f"The setting {name}={setting(name)!r} must be 1 (on) or 0 (off).")
            return text in ("1", "true", "yes", "on")

        extra = [Path(p).expanduser() for p in setting(DATA_ROOTS_ENV).split(os.pathsep) if p.strip()]
        seconds = number(MAX_TRAIN_SECONDS_ENV, DEFAULT_MAX_TRAIN_SECONDS)
        compute = number(MAX_COMPUTE_ENV, DEFAULT_MAX_COMPUTE // BILLION)  # set in billions
        return cls(
            max_epochs=number(MAX_EPOCHS_ENV, DEFAULT_MAX_EPOCHS),
            max_params=number(PARAM_BUDGET_ENV, DEFAULT_PARAM_BUDGET),
            max_compute=compute * BILLION if compute is not None else None,
            max_batch_memory_mb=number(MAX_BATCH_MEMORY_ENV, DEFAULT_MAX_BATCH_MEMORY_MB),
            max_train_seconds=float(seconds) if seconds is not None else None,
            max_queued=number(MAX_QUEUED_ENV, DEFAULT_MAX_QUEUED),
            max_server_queue=number(MAX_SERVER_QUEUE_ENV, DEFAULT_MAX_SERVER_QUEUE),
            max_search_epochs=number(MAX_SEARCH_EPOCHS_ENV, DEFAULT_MAX_SEARCH_EPOCHS),
            tune_local_ray=switch(TUNE_LOCAL_RAY_ENV, False),
            queue_by_address=switch(QUEUE_BY_ADDRESS_ENV, True),
            data_roots=(PROJECT_DATA_DIR, *extra),
            store_mb=number(STORE_MB_ENV, DEFAULT_STORE_MB),
        )

    @classmethod
    def unlimited(cls) -> Limits:
        """No limit at all: the command line's ``--no-limits``."""
        return cls(
            max_epochs=None,
            max_params=None,
            max_compute=None,
            max_batch_memory_mb=None,
            max_train_seconds=None,
            max_queued=None,
            max_server_queue=None,
            max_search_epochs=None,
            tune_local_ray=True,
            data_roots=None,
            store_mb=None,
        )

    def check(self, spec: ExperimentSpec | CheckedSpec) -> CheckedSpec:
        """Refuse a spec beyond a limit (epochs, weights, compute, memory, data folder) before anything trains.

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
        self._check_memory(checked)
        self._check_compute(spec)
        try:
            check_data_allowed(spec.data, self.data_roots)
        except ValueError as exc:
            raise LimitExceeded(str(exc)) from None
        return checked

    def _check_memory(self, checked: CheckedSpec) -> None:
        if self.max_batch_memory_mb is None:
            return
        spec = checked.spec
        needed = batch_memory_mb(spec, checked.params)
        if needed > self.max_batch_memory_mb:
            raise LimitExceeded(
                f"This network needs about {needed:,.0f} MB for one batch ({activations(spec):,} values an image, "
                f"in batches of up to {max(spec.batch_size, EVAL_BATCH):,} images), more than this server allows "
                f"({self.max_batch_memory_mb:,} MB, the limit {MAX_BATCH_MEMORY_ENV}): use fewer filters or units, "
                "or shrink the image sooner (a stride or pooling in the first blocks)."
            )

    def _check_compute(self, spec: ExperimentSpec) -> None:
        if self.max_compute is None:
            return
        needed = training_compute(spec)
        if needed > self.max_compute:
            raise LimitExceeded(
                f"Training this network {spec.epochs} epochs on {training_images(spec):,} images takes "
                f"{needed / BILLION:,.0f} billion multiply-adds ({multiply_adds(spec):,} an image), more than this "
                f"server allows ({self.max_compute / BILLION:,.0f} billion, the limit {MAX_COMPUTE_ENV}): train "
                "fewer epochs or on fewer images, or use a smaller network (fewer filters, a stride or pooling sooner)."
            )

    def check_queue(self, queued: int) -> None:
        """Refuse one more training to a visitor that has ``queued`` trainings queued or running.

        Raises
        ------
        LimitExceeded
            When ``queued`` already reaches ``max_queued``.
        """
        if self.max_queued is not None and queued >= self.max_queued:
            raise LimitExceeded(
                f"You already have {queued} trainings queued or running, the most one visitor may have on this "
                f"server ({self.max_queued}, the limit {MAX_QUEUED_ENV}): wait for one to finish, or stop one."
            )

    def check_server(self, busy: int) -> None:
        """Refuse more work to a server that has ``busy`` trainings and searches queued or running.

        Raises
        ------
        LimitExceeded
            When ``busy`` already reaches ``max_server_queue``.
        """
        if self.max_server_queue is not None and busy >= self.max_server_queue:
            raise LimitExceeded(
                f"The server has {busy} trainings waiting or running, the most it takes at once "
                f"({self.max_server_queue}, the limit {MAX_SERVER_QUEUE_ENV}): try again in a minute."
            )

    def check_search(self, trials: int, epochs: int) -> None:
        """Refuse a search of ``trials`` trials of up to ``epochs`` epochs beyond the search budget or the epochs.

        Raises
        ------
        LimitExceeded
            Naming the limit, the trial-epochs asked for and what to change.
        """
        if self.max_epochs is not None and epochs > self.max_epochs:
            raise LimitExceeded(
                f"{epochs} epochs per trial is more than this server allows ({self.max_epochs}, the limit "
                f"{MAX_EPOCHS_ENV}): choose {self.max_epochs} epochs or fewer."
            )
        if self.max_search_epochs is not None and trials * epochs > self.max_search_epochs:
            raise LimitExceeded(
                f"{trials} trials of up to {epochs} epochs is {trials * epochs:,} trial-epochs, more than one search "
                f"may take on this server ({self.max_search_epochs:,}, the limit {MAX_SEARCH_EPOCHS_ENV}): "
                "ask for fewer trials or fewer epochs per trial."
            )

    def rows(self) -> list[tuple[str, str, str]]:
        """(limit, value, setting) for each limit, as the teacher's panel and the README list them."""

        def text(value: float | None, unit: str = "") -> str:
            return "no limit" if value is None else f"{value:,.0f}{unit}"

        roots = "any folder" if self.data_roots is None else ", ".join(str(r) for r in self.data_roots)
        compute = None if self.max_compute is None else self.max_compute / BILLION
        return [
            ("Most epochs of one training", text(self.max_epochs), MAX_EPOCHS_ENV),
            ("Most parameters of one network", text(self.max_params), PARAM_BUDGET_ENV),
            ("Most compute of one training (billion multiply-adds)", text(compute), MAX_COMPUTE_ENV),
            ("Most memory of one batch", text(self.max_batch_memory_mb, " MB"), MAX_BATCH_MEMORY_ENV),
            ("Longest training (seconds)", text(self.max_train_seconds, " s"), MAX_TRAIN_SECONDS_ENV),
            ("Most trainings queued per visitor", text(self.max_queued), MAX_QUEUED_ENV),
            ("Most trainings and searches queued on the server", text(self.max_server_queue), MAX_SERVER_QUEUE_ENV),
            ("Most trial-epochs of one search", text(self.max_search_epochs), MAX_SEARCH_EPOCHS_ENV),
            ("Tune may start Ray on an in-process server", "yes" if self.tune_local_ray else "no", TUNE_LOCAL_RAY_ENV),
            ("Queue limit counted per", "client address" if self.queue_by_address else "browser session",
             QUEUE_BY_ADDRESS_ENV),  # fmt: skip
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
