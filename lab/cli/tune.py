"""``python -m lab tune``: a hyperparameter search on Ray Tune (Optuna's TPE or random, ASHA), as the Tune page runs it.

Example: ``python -m lab tune --base A3 --search "lr=1e-4:1e-1:log,dropout=0:0.5,hidden=64|128|256"
--trials 20 --epochs 10 --data sample --json``. Every trial is a stored run; the
best trial's run id, spec, validation and (once, at the end) test accuracy are printed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from lab.catalog.presets import get_preset
from lab.runs.engine import RAY_ENV, ray_setting
from lab.runs.store import RunStore
from lab.search.runner import SEARCHERS, SearchResult, TrialRow, ensure_ray, run_search
from lab.search.space import SearchSpace
from lab.spec import ExperimentSpec


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``tune`` on ``python -m lab``'s subcommands."""
    p = subparsers.add_parser(
        "tune",
        help="search hyperparameters around a preset on Ray Tune (TPE + ASHA)",
        description="Search hyperparameters around a preset. Knobs: NAME=LOW:HIGH, NAME=LOW:HIGH:log or "
        'NAME=A|B|C, separated by commas, e.g. "lr=1e-4:1e-1:log,dropout=0:0.5,hidden=64|128|256". '
        "Names: any spec key (learning_rate or lr, dropout, l2, batch_size, activation, initializer, optimizer, "
        "batchnorm ...), layers and units, filters (CNNs), aug (augmentation strength, 1 = course B10).",
    )
    p.add_argument("--base", help="course preset to start from, e.g. A3 (default: the lab's default spec)")
    p.add_argument("--search", required=True, help="the knobs and their ranges")
    p.add_argument("--trials", type=int, default=20, help="trainings to try (default 20)")
    p.add_argument("--epochs", type=int, default=10, help="the most epochs per trial (default 10)")
    p.add_argument("--concurrency", type=int, default=0, help="trials at once (default: one per worker)")
    p.add_argument("--searcher", choices=SEARCHERS, default="tpe", help="tpe (Optuna's TPE) or random")
    p.add_argument("--seed", type=int, default=0, help="the sampler's seed (default 0)")
    p.add_argument("--data", help="data source: sample, mnist, fashion or idx:DIR (default: the preset's)")
    p.add_argument("--home", help="run store folder (default $MLP_LAB_HOME or ./runs)")
    p.add_argument(
        "--ray",
        metavar="SETTING",
        help=f"local (an embedded Ray, every core), auto or a cluster address; default ${RAY_ENV}, else local",
    )
    p.add_argument("--workers", type=int, help="workers of an embedded Ray (default: every core)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def base_from_args(args: argparse.Namespace) -> ExperimentSpec:
    """The spec the search starts from: ``--base`` (or the default spec) on ``--data``."""
    base = get_preset(args.base, args.data).spec if args.base else ExperimentSpec()
    return base.replace(data=args.data) if args.data else base


def run(args: argparse.Namespace) -> int:
    """``tune``: run the search, print the best trial."""
    space = SearchSpace.parse(args.search)
    base = base_from_args(args)
    setting = ray_setting() if args.ray is None else args.ray
    # Checked before Ray starts: a bad range costs nothing.
    space.check(base.replace(epochs=max(args.epochs, 1)))
    seen: dict[int, tuple[str, int]] = {}

    def progress(rows: list[TrialRow]) -> None:
        for row in rows:
            if seen.get(row.number, ("", -1))[0] != row.state and row.state != "waiting":
                seen[row.number] = (row.state, row.epoch)
                print(_progress_line(row, rows, args.trials), file=sys.stderr)

    print(f"Searching {space.text()} around {base.summary()}: {args.trials} trials.", file=sys.stderr)
    started = ensure_ray(setting or "local", args.workers)
    try:
        result = _search(args, base, space, progress)
    finally:
        if started:  # a command leaves nothing running
            import ray

            ray.shutdown()
    if args.json:
        print(json.dumps(result.as_dict()))
        return 0
    if result.best is None:
        print("No trial reported a result.")
        return 1
    saved = result.epochs_budget - result.epochs_trained
    print(
        f"best: {result.best.run_id}  {result.best_spec.summary()}\n"
        f"validation accuracy {result.best.val_accuracy:.4f}, test accuracy {result.test_accuracy:.4f} "
        "(the test set, measured once for the best trial, never during the search)\n"
        f"{len(result.trials)} trials in {result.wall_seconds:.1f} s; {result.epochs_trained} of "
        f"{result.epochs_budget} epochs trained ({saved} saved by early stopping)"
    )
    return 0


def _search(args: argparse.Namespace, base: ExperimentSpec, space: SearchSpace, progress: Any) -> SearchResult:
    return run_search(
        base,
        space,
        trials=args.trials,
        epochs=args.epochs,
        concurrency=args.concurrency or (args.workers or 10_000),
        searcher=args.searcher,
        seed=args.seed,
        store=RunStore(args.home),
        on_update=progress,
    )


def _progress_line(row: TrialRow, rows: list[TrialRow], trials: int) -> str:
    settings = ", ".join(f"{k}={_short(v)}" for k, v in row.params.items())
    best = max((r.val_accuracy for r in rows if math.isfinite(r.val_accuracy)), default=math.nan)
    return (
        f"trial {row.number}/{trials} {row.state} at epoch {row.epoch}/{row.epochs}  val {_percent(row.val_accuracy)}"
        f"  best so far {_percent(best)}  ({settings}){' from the store' if row.reused else ''}"
    )


def _percent(value: float) -> str:
    return f"{value:.2%}" if math.isfinite(value) else "-"


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
