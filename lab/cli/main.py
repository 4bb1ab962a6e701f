"""The command line: ``python -m lab train|runs|bench|predict|pretrain|import-mnist|reproduce|tune ...``.

Everything a page shows can be computed here with the same code. Each
subcommand is one module of ``lab.cli`` with ``add_parser(subparsers)`` and
``run(args)``; this module only assembles them. Progress goes to stderr,
results to stdout (one JSON object with ``--json``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lab.cli import bench, import_mnist, predict, pretrain, reproduce, runs, train, tune

# Subcommand name -> its module, in the order ``--help`` lists them.
COMMANDS = {
    "train": train,
    "runs": runs,
    "bench": bench,
    "predict": predict,
    "pretrain": pretrain,
    "import-mnist": import_mnist,
    "reproduce": reproduce,
    "tune": tune,
}


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m lab`` parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="python -m lab", description="MLP Lab from the command line.")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m lab``; returns the exit status (2 for a bad request)."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command].run(args)
    except ValueError as exc:  # bad input: a message, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
