"""``python -m lab runs [list|delete RUN_ID ...]``: the run store from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from lab.runs.store import RunStore


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``runs`` on ``python -m lab``'s subcommands."""
    p = subparsers.add_parser("runs", help="list or delete stored runs")
    p.add_argument("action", nargs="?", default="list", choices=["list", "delete"])
    p.add_argument("run_ids", nargs="*", help="run ids to delete")
    p.add_argument("--json", action="store_true")
    p.add_argument("--home", help="run store folder")
    return p


def run(args: argparse.Namespace) -> int:
    """``runs list|delete``."""
    store = RunStore(args.home)
    if args.action == "delete":
        if not args.run_ids:
            print("Name the run ids to delete (see `python -m lab runs`).", file=sys.stderr)
            return 2
        missing = [r for r in args.run_ids if not store.delete(r)]
        for run_id in missing:
            print(f"No run {run_id} in {store.home}", file=sys.stderr)
        return 1 if missing else 0
    infos = store.list()
    if args.json:
        print(json.dumps([{"run_id": i.run_id, "summary": i.spec.summary(), **i.metrics} for i in infos]))
        return 0
    if not infos:
        print(f"No runs stored in {store.home}.")
    for info in infos:
        acc = "diverged" if info.metrics.get("diverged") else f"{info.test_accuracy:.4f}"
        print(f"{info.run_id}  {acc:>8}  {info.metrics.get('train_seconds', 0):7.1f}s  {info.spec.summary()}")
    return 0
