"""``python -m lab runs [list|delete RUN_ID ...]``: the run store from the command line.

``list`` asks the store's index (``RunStore.table``): filtered by data, preset, kind of
network or nickname, sorted by any column, at most ``--limit`` runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from lab.runs.store import SORT_COLUMNS, RunStore


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``runs`` on ``python -m lab``'s subcommands."""
    p = subparsers.add_parser("runs", help="list or delete stored runs")
    p.add_argument("action", nargs="?", default="list", choices=["list", "delete"])
    p.add_argument("run_ids", nargs="*", help="run ids to delete")
    p.add_argument("--json", action="store_true")
    p.add_argument("--home", help="run store folder")
    p.add_argument("--data", help="only runs on this data (sample, mnist, fashion, ...)")
    p.add_argument("--preset", help="only runs of this course preset (e.g. A1)")
    p.add_argument("--kind", choices=["mlp", "cnn"], help="only this kind of network")
    p.add_argument("--by", dest="trained_by", help="only runs trained by this nickname")
    p.add_argument(
        "--sort", choices=SORT_COLUMNS, default="created", help="sort column, largest first (default: newest first)"
    )
    p.add_argument("--limit", type=int, help="at most this many runs")
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
    store.refresh(full=True)  # the command line lists what the folders hold now, runs edited in place included
    filters = {k: getattr(args, k, None) for k in ("data", "preset", "kind", "trained_by")}
    page = store.table(**filters, sort=getattr(args, "sort", "created"), limit=getattr(args, "limit", None))
    infos = page.rows
    if args.json:
        print(
            json.dumps(
                [
                    {"run_id": i.run_id, "summary": i.spec.summary(), "trained_by": i.trained_by, **i.metrics}
                    for i in infos
                ]
            )
        )
        return 0
    if not infos:
        print(
            f"No runs stored in {store.home}." if page.total == 0 and not any(filters.values()) else "No run matches."
        )
    for info in infos:
        acc = "diverged" if info.metrics.get("diverged") else f"{info.test_accuracy:.4f}"
        by = f"  by {info.trained_by}" if info.trained_by else ""
        print(f"{info.run_id}  {acc:>8}  {info.metrics.get('train_seconds', 0):7.1f}s  {info.spec.summary()}{by}")
    if len(infos) < page.total:
        print(f"({len(infos)} of {page.total} runs shown)")
    return 0
