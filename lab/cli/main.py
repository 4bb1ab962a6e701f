"""The command line: ``python -m lab train|runs|bench ...``.

Everything a page shows can be computed here with the same code. Progress goes
to stderr, results to stdout (one JSON object with ``--json``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import Any

from lab.architecture import validate_network
from lab.spec import ExperimentSpec


def _widths(text: str) -> tuple[int, ...]:
    text = text.strip()
    if not text:
        return ()
    try:
        return tuple(int(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--hidden takes comma-separated widths like 50,50 (got '{text}')") from None


# flag -> (spec field, type, help); None defaults mean "keep the preset's / spec's value"
_SPEC_FLAGS: dict[str, tuple[str, Any, str]] = {
    "--data": ("data", str, "sample, mnist, fashion or idx:DIR"),
    "--train-subset": ("train_subset", float, "fraction (<=1) or number of training images"),
    "--subset-mode": ("subset_mode", str, "random, every or first"),
    "--test-subset": ("test_subset", int, "first N test images (0 = all)"),
    "--val-split": ("val_split", float, "validation fraction"),
    "--val-mode": ("val_mode", str, "random, last (Keras' validation_split) or test"),
    "--hidden": ("hidden", _widths, "comma-separated hidden widths, empty for none"),
    "--activation": ("activation", str, "sigmoid, tanh, relu, elu, selu, leaky_relu, softplus, linear"),
    "--init": ("initializer", str, "kernel initializer, e.g. he_normal"),
    "--optimizer": ("optimizer", str, "sgd, adam, rmsprop or adagrad"),
    "--lr": ("learning_rate", float, "learning rate"),
    "--momentum": ("momentum", float, "SGD momentum"),
    "--batch-size": ("batch_size", int, "mini-batch size"),
    "--epochs": ("epochs", int, "epochs"),
    "--dropout": ("dropout", float, "dropout rate after each hidden activation"),
    "--l2": ("l2", float, "L2 penalty on the kernels"),
    "--batchnorm": ("batchnorm", str, "none, before or after (the activation)"),
    "--early-stopping": ("early_stopping", int, "patience in epochs (0 = off)"),
    "--output": ("output", str, "softmax_ce or sigmoid_mse"),
    "--seed": ("seed", int, "random seed"),
}


def spec_from_args(args: argparse.Namespace) -> ExperimentSpec:
    """Build the spec from ``--preset`` (if any) and the flags given."""
    base = ExperimentSpec()
    if getattr(args, "preset", None):
        from lab.catalog.presets import get_preset

        base = get_preset(args.preset).spec
    changes = {}
    for flag, (name, _, _) in _SPEC_FLAGS.items():
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None:
            changes[name] = value
    if getattr(args, "center", False):
        changes["center"] = True
    if getattr(args, "nesterov", False):
        changes["nesterov"] = True
    return dataclasses.replace(base, **changes)


def _add_train(sub: Any) -> None:
    p = sub.add_parser("train", help="train a spec (or return it from the run store)")
    p.add_argument("--preset", help="start from a course preset, e.g. A3 (other flags override it)")
    for flag, (_, kind, text) in _SPEC_FLAGS.items():
        p.add_argument(flag, type=kind, default=None, help=text)
    p.add_argument("--center", action="store_true", help="subtract the training mean")
    p.add_argument("--nesterov", action="store_true", help="Nesterov momentum (SGD)")
    p.add_argument("--retrain", action="store_true", help="train again even if stored")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--home", help="run store folder (default $MLP_LAB_HOME or ./runs)")


def run_train(args: argparse.Namespace) -> int:
    """``train``: train or fetch a run, print its summary."""
    from lab.runs.store import RunStore
    from lab.runs.training import get_or_train

    spec = validate_network(spec_from_args(args))
    store = RunStore(args.home)
    if args.retrain:
        store.delete(spec.run_id)
    print(f"{spec.run_id}  {spec.summary()}", file=sys.stderr)
    result = get_or_train(spec, store, on_epoch=_print_epoch, on_wait=None)
    payload = {
        "run_id": result.run_id,
        "spec": spec.to_dict(),
        "history": result.history,
        "from_store": result.from_store,
        **{k: v for k, v in result.metrics().items() if k != "run_id"},
    }
    if args.json:
        print(json.dumps(payload))
    else:
        state = "diverged (exploding gradients: lower the learning rate)" if result.diverged else "done"
        print(
            f"{result.run_id}: test accuracy {result.test_accuracy:.4f}, test loss {result.test_loss:.4f}, "
            f"{result.epochs_run} epochs, {result.params:,} parameters, {result.train_seconds:.1f} s"
            f"{' (from the store)' if result.from_store else ''}: {state}"
        )
    return 0


def _print_epoch(report: Any) -> None:
    logs = report.logs
    print(
        f"epoch {report.epoch}/{report.epochs}  loss {logs.get('loss', float('nan')):.4f}  "
        f"acc {logs.get('accuracy', float('nan')):.4f}  val_acc {logs.get('val_accuracy', float('nan')):.4f}  "
        f"{report.elapsed:.1f}s elapsed, ~{report.eta:.0f}s left",
        file=sys.stderr,
    )


def _add_runs(sub: Any) -> None:
    p = sub.add_parser("runs", help="list or delete stored runs")
    p.add_argument("action", nargs="?", default="list", choices=["list", "delete"])
    p.add_argument("run_ids", nargs="*", help="run ids to delete")
    p.add_argument("--json", action="store_true")
    p.add_argument("--home", help="run store folder")


def run_runs(args: argparse.Namespace) -> int:
    """``runs list|delete``."""
    from lab.runs.store import RunStore

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


def _add_bench(sub: Any) -> None:
    p = sub.add_parser("bench", help="measure the trainer against the course's plain model.fit")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--only", choices=["A1", "C2"], help="one workload only")


def run_bench(args: argparse.Namespace) -> int:
    """``bench``: side-by-side timings and ratios."""
    from lab.bench.trainer import run_all

    run_all(epochs=args.epochs, repeats=args.repeats, only=args.only)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m lab``."""
    parser = argparse.ArgumentParser(prog="python -m lab", description="MLP Lab from the command line.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_runs(sub)
    _add_bench(sub)
    handlers = {"train": run_train, "runs": run_runs, "bench": run_bench}
    for name, module in (("predict", "lab.analysis.predictor"), ("pretrain", "lab.catalog.presets"), ("import-mnist", "lab.data.mnist_import")):
        extra = _optional_command(sub, name, module)
        if extra is not None:
            handlers[name] = extra
    args = parser.parse_args(argv)
    try:
        return handlers[args.command](args)
    except ValueError as exc:  # bad input: a message, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _optional_command(sub: Any, name: str, module_name: str) -> Any:
    """Subcommands that live beside their feature (``add_NAME_parser`` / ``run_NAME``)."""
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    attr = name.replace("-", "_")
    adder = getattr(module, f"add_{attr}_parser", None)
    runner = getattr(module, f"run_{attr}", None)
    if adder is None or runner is None:
        return None
    adder(sub)
    return runner
