"""``--ray``: the training engine of the commands that train (``train``, ``pretrain``, ``reproduce``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from lab.runs.engine import RAY_ENV, Executor, ray_setting
from lab.runs.engines import make_executor


def add_engine_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--ray SETTING`` to a subcommand that trains."""
    parser.add_argument(
        "--ray",
        metavar="SETTING",
        help=f"train on Ray workers: local (every core of this machine), auto or a cluster address "
        f"(HOST:6379, ray://HOST:10001); '' trains here; default ${RAY_ENV}, else here, one run at a time",
    )


@contextmanager
def engine_from_args(args: argparse.Namespace) -> Iterator[Executor]:
    """The executor ``--ray`` (or ``$MLP_LAB_RAY``) names, said on stderr, closed at the end.

    A cluster that cannot be reached is a warning, and the command trains here.
    """
    flag = getattr(args, "ray", None)
    executor = make_executor(ray_setting() if flag is None else flag)
    if executor.notice:
        print(f"warning: {executor.notice}", file=sys.stderr)
    elif executor.engine != "in-process":
        status = executor.status()
        print(f"Training {status.description}: {status.workers} workers.", file=sys.stderr)
    try:
        yield executor
    finally:
        executor.close()
