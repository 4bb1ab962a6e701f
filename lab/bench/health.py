"""What recording gradient health costs: the trainer with and without it, side by side.

The workloads are the trainer benchmark's: A1 as course 000 runs it (19,800
images, validation_split 0.3, batch 256: few steps an epoch, so the worst case
for a per-epoch probe) and C2 as course 003 (60,000 images, 784-556-156-10
ReLU, Adam, batch 128).
"""

from __future__ import annotations

from lab.architecture import check_network
from lab.bench.workloads import WORKLOADS, workload_data
from lab.nn.trainer import fit_prepared
from lab.spec import ExperimentSpec


def health_workloads() -> dict[str, tuple[ExperimentSpec, int, int]]:
    """The trainer benchmark's workloads, A1 with course 000's batch of 256."""
    spec, n_train, n_test = WORKLOADS["A1"]
    return {**WORKLOADS, "A1": (spec.replace(batch_size=256), n_train, n_test)}


def bench_health_overhead(epochs: int = 5, repeats: int = 3, only: str | None = None) -> dict[str, dict[str, float]]:
    """Time the trainer with and without health recording, side by side, on A1- and C2-sized data.

    Both ways train the same arrays with the same seed; the order alternates
    between repeats and the fastest of each way counts, so that warm-up and a
    busy machine do not favour either.

    Parameters
    ----------
    epochs : int
        Epochs per training (recording has a one-off cost, so short runs pay more).
    repeats : int
        Trainings per way and workload.
    only : str, optional
        ``"A1"`` or ``"C2"`` alone.

    Returns
    -------
    dict
        Per workload: ``ratio`` (recorded / plain training seconds, fastest of
        each), ``plain_s``, ``recorded_s``, ``record_s`` (seconds spent inside the
        recorder) and ``record_share`` (``record_s`` over the rest of that
        training: the overhead measured inside one run, which a busy machine
        disturbs less than the ratio of two runs).
    """
    out = {}
    workloads = health_workloads()
    for name in [only] if only else list(workloads):
        spec, n_train, n_test = workloads[name]
        spec = spec.replace(epochs=epochs)
        data, checked = workload_data(spec, n_train, n_test), check_network(spec)
        times: dict[bool, list[float]] = {False: [], True: []}
        record_s, shares = [], []
        for repeat in range(repeats):
            for record in (False, True) if repeat % 2 == 0 else (True, False):
                result = fit_prepared(checked, data, record_health=record)
                times[record].append(result.train_seconds)
                if record:
                    inside = result.health["record_seconds"]
                    record_s.append(inside)
                    shares.append(inside / (result.train_seconds - inside))
        plain, recorded = min(times[False]), min(times[True])
        out[name] = {
            "ratio": round(recorded / plain, 3),
            "plain_s": round(plain, 2),
            "recorded_s": round(recorded, 2),
            "record_s": round(min(record_s), 3),
            "record_share": round(min(shares), 3),
        }
    return out
