"""What the run index buys a class: a store of 100,000 runs answered as fast as one of ten.

``bench_index`` writes a store of synthetic runs (one real run trained once, its model,
arrays and health record hard-linked into every folder; each folder its own spec and
``result.json`` with a 20-epoch history), then times, side by side with a 10-run store:

- opening the store (index present) and listing the best 30 digit models, as the Draw
  page does (the issue's target: at most 20 ms);
- one page run of Draw, Techniques and Gradients (AppTest, in a fresh interpreter: the
  lab never imports Streamlit), after a first run that loaded the models;
- building the index from scratch from the folders.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lab.runs.store import RunStore
from lab.spec import ExperimentSpec

RUNS = 100_000
SMALL = 10
MODELS_SHOWN = 30  # the models the Draw page puts into the browser (pages/draw.py MAX_TABLE_MODELS)
PAGES = ("draw", "techniques", "gradients")
TEMPLATE = ExperimentSpec(hidden=(16,), epochs=1, seed=0, train_subset=0.2)  # the one real run, trained in seconds
EPOCHS = 20  # each synthetic run's history, as a class's runs have
HEALTH_EVERY = 5  # one run in five has a gradient-health record: two in the 10-run store, as the page shows a pair
FASHION_EVERY = 20  # one run in twenty is on Fashion-MNIST (not a digit model)
REPO = Path(__file__).resolve().parents[2]
BENCH_DIR_ENV = "MLP_LAB_BENCH_DIR"
COMPLETE = ".complete"  # written into the big store once all its folders are: a later run reuses it

# Times one page's reruns in a fresh interpreter; prints {"seconds": [...]} last.
PAGE_SCRIPT = """
import json, os, statistics, sys, time
sys.path.insert(0, {repo!r})
os.environ["MLP_LAB_HOME"] = sys.argv[1]
import streamlit as st
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({page!r}, default_timeout=600)
at.run()  # first run: imports, the models loaded and cached
assert not at.exception, at.exception
seconds = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    at.run()
    seconds.append(time.perf_counter() - start)
    assert not at.exception, at.exception
print(json.dumps({{"seconds": seconds}}))
"""


@dataclass(frozen=True)
class IndexBench:
    """The figures of ``bench_index``.

    Attributes
    ----------
    runs : int
        Runs in the big store.
    build_seconds : float or None
        Writing the big store's folders (plain file writes and hard links); None when an earlier
        run's store was reused.
    rebuild_seconds : float
        Building its index from scratch (every folder read and checked).
    open_best_ms, small_open_best_ms : float
        Median of opening the store and listing the best 30 digit models, big and 10-run store.
    pages : dict
        Page name -> (seconds on the 10-run store, seconds on the big store): the fastest rerun.
    draw_30 : float or None
        Draw's rerun on a 30-run store: the page puts the best 30 models into the browser, so
        against 10 runs it carries 3 times the weights whatever the index does; this is the
        figure with the same 30 models as the big store.
    """

    runs: int
    build_seconds: float | None
    rebuild_seconds: float
    open_best_ms: float
    small_open_best_ms: float
    pages: dict[str, tuple[float, float]]
    draw_30: float | None = None

    def __str__(self) -> str:
        pages = "; ".join(f"{name} {small:.3f} s vs {big:.3f} s" for name, (small, big) in self.pages.items())
        built = "reused" if self.build_seconds is None else f"written in {self.build_seconds:.1f} s"
        return (
            f"{self.runs:,} runs {built}; index rebuilt from scratch in "
            f"{self.rebuild_seconds:.1f} s; open the store + best 30 for Draw: {self.open_best_ms:.1f} ms "
            f"({self.small_open_best_ms:.1f} ms with {SMALL} runs); one page run, {SMALL} runs vs "
            f"{self.runs:,}: {pages}"
            + (
                ""
                if self.draw_30 is None
                else f"; draw on {MODELS_SHOWN} runs (the same {MODELS_SHOWN} models) {self.draw_30:.3f} s"
            )
        )


def template_run(home: Path) -> Path:
    """Train ``TEMPLATE`` once into ``home``: the real files every synthetic run links to."""
    from lab.architecture import check_network  # lazy: the trainer imports TensorFlow
    from lab.runs.training import train_and_save

    return train_and_save(check_network(TEMPLATE), RunStore(home)).path


def write_runs(home: Path, template: Path, count: int, seed: int = 0, threads: int = 8) -> None:
    """Write ``count`` complete run folders into ``home``, linked to ``template``'s big files, without the store.

    Each has its own spec (``TEMPLATE`` with another seed, so another run id), a ``result.json``
    of its own (a test accuracy drawn at random, a 20-epoch history) and a creation time one
    second after the last. Hard links cost no disk; where they are refused, copies. Several
    threads write at once: creating a file waits on the disk far more than on Python.
    """
    home.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    accuracies = rng.uniform(0.1, 0.99, count).round(4)
    base = time.time() - count
    chunks = [range(start, min(start + 1000, count)) for start in range(0, count, 1000)]
    with ThreadPoolExecutor(threads) as pool:
        for done in pool.map(lambda chunk: _write_chunk(home, template, chunk, accuracies, base), chunks):
            del done


def _write_chunk(home: Path, template: Path, indices: range, accuracies: np.ndarray, base: float) -> None:
    epochs = np.arange(1, EPOCHS + 1)
    for i in indices:
        data = "fashion" if i % FASHION_EVERY == FASHION_EVERY - 1 else TEMPLATE.data
        spec = TEMPLATE.replace(seed=1 + i, data=data, epochs=EPOCHS)
        folder = home / spec.run_id
        folder.mkdir()
        accuracy = float(accuracies[i])
        val = (accuracy * (1 - np.exp(-epochs / 4))).round(4).tolist()
        losses = (1 / epochs).round(4).tolist()
        history = {"loss": losses, "accuracy": val, "val_loss": losses, "val_accuracy": val}
        metrics = {
            "run_id": spec.run_id, "test_accuracy": accuracy, "test_loss": round(1 - accuracy, 4), "epochs_run": EPOCHS,
            "best_epoch": None, "train_seconds": 12.5, "diverged": False, "stopped": False, "params": 12_730,
            "created": base + i, "stop_reason": "",
        }  # fmt: skip
        (folder / "spec.json").write_text(spec.to_json())
        names = ["arrays.npz", "model.keras"] + (["health.json"] if i % HEALTH_EVERY == 0 else [])
        for name in names:
            _link(template / name, folder / name)
        (folder / "result.json").write_text(json.dumps({"format": 1, "metrics": metrics, "history": history}))


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def time_open_best(home: Path, repeats: int = 20) -> float:
    """Median milliseconds of ``RunStore(home).best_digit_runs(30)`` (a fresh store object each time)."""
    RunStore(home).best_digit_runs(30)  # the index is up to date before timing
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        RunStore(home).best_digit_runs(30)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def time_page(page: str, home: Path, reruns: int = 5) -> float:
    """The fastest of ``reruns`` reruns of a page under AppTest, against the store in ``home`` (fresh interpreter).

    The fastest, not the median: on a shared machine other work only ever adds time, and the
    figure is what the page itself costs.
    """
    script = PAGE_SCRIPT.format(repo=str(REPO), page=str(REPO / "pages" / f"{page}.py"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script, str(home), str(reruns)], capture_output=True, text=True,
                          timeout=900, check=True, env=env)  # fmt: skip
    return min(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


def bench_folder() -> Path:
    """Where the benchmark keeps its stores: ``$MLP_LAB_BENCH_DIR``, else ``~/.cache/mlp-lab/index-bench``."""
    return Path(os.environ.get(BENCH_DIR_ENV) or Path.home() / ".cache" / "mlp-lab" / "index-bench")


def bench_index(runs: int = RUNS, folder: str | Path | None = None, pages: tuple[str, ...] = PAGES) -> IndexBench:
    """Build a ``runs``-run store and a 10-run store (once), and time what the index answers on each.

    The big store is written once and kept (``bench_folder()``): writing 100,000 folders waits on
    the disk for minutes on a small virtual machine, while everything timed here reads them.
    A later run finds it complete and reuses it (``build_seconds`` is then None).

    Parameters
    ----------
    runs : int, default 100,000
        Runs in the big store.
    folder : str or Path, optional
        Where to build and keep the stores; default ``bench_folder()``.
    pages : tuple of str
        The pages timed under AppTest (names of ``pages/*.py``).
    """
    root = Path(folder) if folder is not None else bench_folder()
    template_home = root / "template"
    template = template_home / TEMPLATE.run_id
    if not (template / "result.json").is_file():
        template = template_run(template_home)
    small, big = root / "small", root / f"big-{runs}"
    shutil.rmtree(small, ignore_errors=True)
    write_runs(small, template, SMALL)
    build = None
    layout = f"{runs} runs, health every {HEALTH_EVERY}, fashion every {FASHION_EVERY}, {EPOCHS} epochs"
    if not (big / COMPLETE).is_file() or (big / COMPLETE).read_text() != layout:
        shutil.rmtree(big, ignore_errors=True)
        start = time.perf_counter()
        write_runs(big, template, runs)
        build = time.perf_counter() - start
        (big / COMPLETE).write_text(layout)
    RunStore(small).rebuild_index()
    start = time.perf_counter()
    indexed = RunStore(big).rebuild_index()
    rebuild = time.perf_counter() - start
    if indexed != runs:
        raise RuntimeError(f"{big} indexed {indexed} runs, not {runs}: delete the folder and run again.")
    big_ms, small_ms = time_open_best(big), time_open_best(small)
    timed = {page: (time_page(page, small), time_page(page, big)) for page in pages}
    draw_30 = None
    if "draw" in pages:
        thirty = root / f"small-{MODELS_SHOWN}"
        shutil.rmtree(thirty, ignore_errors=True)
        write_runs(thirty, template, MODELS_SHOWN)
        draw_30 = time_page("draw", thirty)
    return IndexBench(runs, build, rebuild, big_ms, small_ms, timed, draw_30)
