"""``python -m lab reproduce``: train the course presets and write REPRODUCTION.md beside the course's figures."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lab.catalog.presets import get_preset, resolve_presets
from lab.cli.engine import add_engine_flag, engine_from_args
from lab.cli.pretrain import PretrainProgress, check_epochs_cap
from lab.reports.reproduce import DEFAULT_OUTPUT, DEFAULT_PRESETS, reproduce
from lab.runs.store import RunStore


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``reproduce`` on ``python -m lab``'s subcommands."""
    p = subparsers.add_parser(
        "reproduce",
        help="write REPRODUCTION.md: our result for every course preset beside the course's own",
        description="Train (or fetch from the run store) course presets and write REPRODUCTION.md. "
        "--presets B6,B7 adds or updates those rows and keeps every other row.",
    )
    p.add_argument("--presets", help="comma-separated presets to (re)do; default: A, C, D and B1-B5")
    p.add_argument("--series", help="comma-separated series to (re)do")
    p.add_argument("--data", help="data source (default: MNIST when cached, else the offline sample)")
    p.add_argument("--epochs", type=int, default=0, help="cap every preset's epochs (0 = the course's length)")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the document (default REPRODUCTION.md)")
    p.add_argument("--home", help="run store folder (default $MLP_LAB_HOME or ./runs)")
    add_engine_flag(p)
    return p


def run(args: argparse.Namespace) -> int:
    """``reproduce``: train the chosen presets with progress on stderr, then rewrite the document."""
    if args.presets or args.series:
        names = [p.name for p in resolve_presets(args.presets, args.series)]
    else:
        names = DEFAULT_PRESETS
    cap = check_epochs_cap(args.epochs)
    presets = [get_preset(name, args.data).capped(cap) for name in names]
    with engine_from_args(args) as executor, PretrainProgress.for_presets(presets) as progress:
        rows = reproduce(presets, args.output, RunStore(args.home), on_event=progress, executor=executor)
    print(f"Wrote {args.output} ({len(rows)} presets).", file=sys.stderr)
    return 0
