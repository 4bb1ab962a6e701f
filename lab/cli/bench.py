"""``python -m lab bench``: the lab's trainer timed against the course's plain ``model.fit``, and the run index.

``--only index`` runs the run index's benchmark alone (a store of ``--index-runs`` synthetic runs).
"""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``bench`` on ``python -m lab``'s subcommands."""
    p = subparsers.add_parser("bench", help="measure the trainer against the course's plain model.fit")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--only", choices=["A1", "C2", "index"], help="one workload only (index: the run index's)")
    p.add_argument("--index-runs", type=int, default=100_000, help="runs in the index benchmark's big store")
    p.add_argument(
        "--snapshots",
        action="store_true",
        help="only what recording snapshots costs (A1, the default setup, B7: 10 epochs with and without) "
        "and the size of the film stored",
    )
    return p


def run(args: argparse.Namespace) -> int:
    """``bench``: side-by-side timings and ratios."""
    # Lazy: the benchmarks import TensorFlow, the other commands need not.
    if args.snapshots:
        from lab.bench.snapshots import WORKLOADS, bench_snapshots, snapshot_lines

        for name in WORKLOADS:  # printed as each is measured
            for line in snapshot_lines(bench_snapshots(repeats=max(args.repeats, 2), only=name)):
                print(line, flush=True)
        return 0
    from lab.bench.suite import run_all

    run_all(epochs=args.epochs, repeats=args.repeats, only=args.only, index_runs=args.index_runs)
    return 0
