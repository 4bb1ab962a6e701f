"""``python -m lab pretrain``: train course presets into the run store, one status line on stderr."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lab.architecture import check_network
from lab.catalog.presets import Preset, course_presets, resolve_presets
from lab.cli.engine import add_engine_flag, engine_from_args
from lab.runs.pretrain import pretrain
from lab.runs.store import RunStore
from lab.spec import ExperimentSpec


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``pretrain`` on ``python -m lab``'s subcommands."""
    p = subparsers.add_parser(
        "pretrain",
        help="train course presets into the run store before class (stored ones are skipped)",
        description="Train presets into the run store so that pages show them at once. "
        "Examples: --series A   --presets A1,A3   --all   --series D --epochs 20",
    )
    p.add_argument("--series", help="one or more series, comma-separated: A, B, C, D")
    p.add_argument("--presets", help="preset names, comma-separated, e.g. A1,A3,B2")
    p.add_argument("--all", action="store_true", help="every preset")
    p.add_argument("--data", help="data source (default: MNIST when cached, else the offline sample)")
    p.add_argument("--epochs", type=int, default=0, help="cap each preset's epochs (0 = the course's length)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="quick mode's plan, as the Techniques page trains it (the lesson in minutes; the page then shows these)",
    )
    p.add_argument("--home", help="run store folder (default $MLP_LAB_HOME or ./runs)")
    p.add_argument("--list", action="store_true", help="list the presets and exit")
    add_engine_flag(p)
    return p


def run(args: argparse.Namespace) -> int:
    """``pretrain``: train the chosen presets into the store with progress on stderr."""
    if args.list:
        for preset in course_presets():
            print(f"{preset.name:4} {preset.title:32} {preset.course_figure_text():>14}  {preset.change}")
        return 0
    if not (args.series or args.presets or args.all):
        print("Say what to train: --series A, --presets A1,A3 or --all (see --list).", file=sys.stderr)
        return 2
    cap = check_epochs_cap(args.epochs)
    chosen = resolve_presets(args.presets, args.series, args.data)
    presets = [(p.quick() if args.quick else p).capped(cap) for p in chosen]
    for preset in presets:
        for spec in preset.member_specs():
            check_network(spec)
    started = time.perf_counter()
    with engine_from_args(args) as executor, PretrainProgress.for_presets(presets) as progress:
        results = pretrain(presets, RunStore(args.home), on_event=progress, executor=executor)
    print(
        f"{len(presets)} presets ready in {time.perf_counter() - started:.0f} s "
        f"({progress.trained} trained, {progress.skipped} already stored):",
        file=sys.stderr,
    )
    for preset in presets:
        runs = results.get(preset.name, [])
        accs = ", ".join(f"{r.test_accuracy:.4f}" for r in runs)
        print(f"{preset.name:4} {preset.title:32} test accuracy {accs}  (course {preset.course_figure_text()})")
    return 0


def check_epochs_cap(epochs: int) -> int:
    """``--epochs`` of ``pretrain`` and ``reproduce``: 0 (the course's length) or more.

    Raises
    ------
    ValueError
        For a negative cap.
    """
    if epochs < 0:
        raise ValueError("--epochs must be 0 (the course's length) or more.")
    return epochs


@dataclass
class PretrainProgress:
    """One status line on stderr: ``[3/9] A3 ReLU  epoch 12/100  val_acc 0.91  ~20 s left``.

    Pass it as ``on_event`` to ``lab.runs.pretrain.pretrain``; as a context
    manager it clears the line at the end, also when training fails. Events
    may come from several threads at once (presets training in parallel on Ray).
    """

    total: int
    done: int = 0
    trained: int = 0
    skipped: int = 0
    _last: float = field(default=0.0)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def for_presets(cls, presets: Sequence[Preset]) -> PretrainProgress:
        """A progress line counting every run the presets need (ensemble members each count)."""
        return cls(sum(len(p.member_specs()) for p in presets))

    def __enter__(self) -> PretrainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()

    def __call__(self, kind: str, preset: Preset, spec: ExperimentSpec, payload: Any) -> None:
        with self._lock:
            self._event(kind, preset, spec, payload)

    def _event(self, kind: str, preset: Preset, spec: ExperimentSpec, payload: Any) -> None:
        head = f"[{self.done + 1}/{self.total}] {preset.name} {preset.title}"
        if preset.ensemble:
            head += f" (seed {spec.seed})"
        if kind == "skip":
            self.done += 1
            self.skipped += 1
            self._line(f"{head}: already stored, test accuracy {payload.test_accuracy:.4f}", end=True)
        elif kind == "start":
            self._last = time.perf_counter()
            self._line(f"{head}: {spec.summary()} ...", end=not sys.stderr.isatty())
        elif kind == "epoch":
            now = time.perf_counter()
            # Twice a second on a terminal is plenty, even for 1,000 tiny epochs; a log gets a line every 10 s.
            interval = 0.5 if sys.stderr.isatty() else 10.0
            if now - self._last < interval:
                return
            self._last = now
            acc = payload.logs.get("val_accuracy", payload.logs.get("accuracy", float("nan")))
            self._line(f"{head}: epoch {payload.epoch}/{payload.epochs}  val_acc {acc:.4f}  ~{payload.eta:.0f} s left")
        elif kind == "done":
            self.done += 1
            self.trained += 1
            self._line(f"{head}: test accuracy {payload.test_accuracy:.4f} in {payload.train_seconds:.1f} s", end=True)

    def _line(self, text: str, end: bool = False) -> None:
        if sys.stderr.isatty():
            sys.stderr.write("\r\033[K" + text + ("\n" if end else ""))
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def finish(self) -> None:
        """Clear the status line on a terminal."""
        if sys.stderr.isatty():
            sys.stderr.write("\r\033[K")
