"""What a class waits for on Techniques: one series' quick plan trained from an empty store.

The Techniques page trains a series through ``lab.runs.scheduler``, as ``pretrain`` does; the
benchmark does the same on the offline sample into a temporary store, so nothing
is reused, and reports the wall time with each preset's share of it. It starts
the clock on a warm server, as a class finds it: the app's background warm-up
(``lab.runs.warm``) has imported TensorFlow and read the sample, and so has every
Ray worker (``lab.runs.ray_executor.warm_up``), before anyone presses Train.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from lab.catalog.preset import Preset
from lab.catalog.presets import list_presets
from lab.runs.engine import Executor
from lab.runs.pretrain import pretrain
from lab.runs.store import RunStore
from lab.runs.warm import warm_up
from lab.spec import ExperimentSpec


@dataclass(frozen=True)
class SeriesTiming:
    """Wall time of one series' quick plan trained from scratch, and each run's training time."""

    series: str
    seconds: float
    workers: int
    run_seconds: dict[str, float] = field(default_factory=dict)  # preset name -> its runs' training seconds

    def __str__(self) -> str:
        heaviest = sorted(self.run_seconds.items(), key=lambda item: -item[1])[:3]
        parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in heaviest)
        where = "in-process" if self.workers <= 1 else f"on {self.workers} workers"
        return (
            f"series {self.series} quick mode on the sample, from an empty store on a warm server, {where}: "
            f"{self.seconds:.1f} s ({len(self.run_seconds)} presets; longest {parts})"
        )


def bench_series(series: str = "B", executor: Executor | None = None) -> SeriesTiming:
    """Train ``series``' quick plan on the offline sample into an empty store, as Techniques does.

    Parameters
    ----------
    series : str
        ``A``, ``B``, ``C`` or ``D``.
    executor : Executor, optional
        Where to train (default: here, one run after another).

    Returns
    -------
    SeriesTiming
        The wall time and each preset's training seconds.
    """
    presets = [preset.quick() for preset in list_presets(series, "sample")]
    warm_up()  # this process: the server's warm-up
    if hasattr(executor, "warm_up"):  # Ray: every worker imports TensorFlow and reads the sample first
        executor.warm_up(wait=True)
    run_seconds: dict[str, float] = {}

    def on_event(kind: str, preset: Preset, spec: ExperimentSpec, payload: Any) -> None:
        if kind == "done":
            run_seconds[preset.name] = run_seconds.get(preset.name, 0.0) + payload.train_seconds

    with tempfile.TemporaryDirectory(prefix="mlp-lab-bench-") as home:
        started = time.perf_counter()
        pretrain(presets, RunStore(home), on_event=on_event, executor=executor)
        seconds = time.perf_counter() - started
    workers = executor.workers if executor is not None else 1
    return SeriesTiming(series.upper(), seconds, workers, run_seconds)


def bench_series_on_ray(series: str = "B", workers: int | None = None) -> SeriesTiming:
    """``bench_series`` on an embedded Ray with ``workers`` workers (default: one per core), as a class server runs.

    Ray is started for the measurement and stopped after it; its workers are warmed
    up (TensorFlow imported, the sample read) before the clock starts.
    """
    # Imported here: the rest of the benchmarks never need Ray (a second to import).
    from lab.runs.ray_executor import RayExecutor

    # Not warmed at start: bench_series warms every worker and waits for it, once.
    executor = RayExecutor.start("local", num_cpus=workers or os.cpu_count() or 1, warm=False)
    try:
        return bench_series(series, executor)
    finally:
        executor.close()
