"""The README's Tune figures: one search from series B's MLP setup (B5) on the sample, with 1 and with 2 workers.

24 trials of up to 20 epochs, Optuna's TPE and ASHA, each worker count on a fresh run
store of its own (so that the second search trains rather than reuses); then B5 itself,
capped at the same 20 epochs, on the same data. Prints one JSON object per line.

Usage: ``python scripts/tune_figures.py OUT_DIR``
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import ray

from lab.catalog.presets import get_preset
from lab.runs.engines import get_or_train
from lab.runs.store import RunStore
from lab.search.runner import ensure_ray, run_search
from lab.search.space import SearchSpace

SEARCH = "lr=1e-3:3e-1:log,dropout=0:0.5,units=64:512:log,layers=1:3,batch_size=32|50|128"
TRIALS, EPOCHS, SEED = 24, 20, 0


def main(out: Path) -> None:
    base = get_preset("B5", "sample").spec
    space = SearchSpace.parse(SEARCH)
    for workers in (1, 2):
        ensure_ray("local", num_cpus=workers)
        store = RunStore(out / f"runs-{workers}")
        result = run_search(base, space, trials=TRIALS, epochs=EPOCHS, concurrency=workers, seed=SEED, store=store)
        ray.shutdown()
        runs = [store.get(t.run_id) for t in result.trials]
        trained_seconds = sum(r.train_seconds for r in runs if r is not None)
        per_epoch = trained_seconds / max(result.epochs_trained, 1)
        row = {
            "workers": workers,
            "wall_seconds": round(result.wall_seconds, 1),
            "epochs_trained": result.epochs_trained,
            "epochs_budget": result.epochs_budget,
            "fit_seconds_total": round(trained_seconds, 1),
            "fit_seconds_per_epoch": round(per_epoch, 3),
            "states": {s: sum(t.state == s for t in result.trials) for s in {t.state for t in result.trials}},
            **{k: result.as_dict()[k] for k in ("run_id", "val_accuracy", "test_accuracy", "importances")},
            "best": result.best_spec.summary(),
        }
        print(json.dumps(row), flush=True)
    start = time.perf_counter()
    b5 = get_or_train(get_preset("B5", "sample").capped(EPOCHS).spec, RunStore(out / "runs-b5"))
    print(json.dumps({
        "b5_on_sample": b5.run_id, "epochs_run": b5.epochs_run, "test_accuracy": b5.test_accuracy,
        "val_accuracy": b5.history["val_accuracy"][(b5.best_epoch or b5.epochs_run) - 1],
        "seconds": round(time.perf_counter() - start, 1),
    }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main(Path(sys.argv[1]))
