"""What recording snapshots costs (``lab.nn.snapshots``): training with and without, side by side; the film's size.

Three workloads on the offline sample, 10 epochs each: A1 (the course's preset: 4 x Dense(50)
sigmoid, SGD, batch 256, raw 0-255 pixels; few steps an epoch, so the worst case for a
per-snapshot cost), the default setup (784-128-10 ReLU, Adam, batch 32) and B7 (three
convolutions, then Dense(50); the heaviest forward pass per snapshot).
"""

from __future__ import annotations

from lab.architecture import check_network
from lab.catalog.presets import get_preset
from lab.data.prepare import prepare
from lab.nn.snapshots import film_bytes
from lab.nn.trainer import fit_prepared
from lab.spec import ExperimentSpec

WORKLOADS = ("A1", "default", "B7")


def snapshot_workload(name: str, epochs: int = 10) -> ExperimentSpec:
    """One workload's spec (``A1``, ``default`` or ``B7``) on the offline sample, ``epochs`` long, no early stop."""
    spec = ExperimentSpec() if name == "default" else get_preset(name, data="sample").spec
    return spec.replace(epochs=epochs, early_stopping=0)


def bench_snapshots(epochs: int = 10, repeats: int = 2, only: str | None = None) -> dict[str, dict[str, float]]:
    """Time the trainer with and without recording snapshots, side by side, and size the film it stores.

    Both ways train the same arrays with the same seed (the same numbers); the order
    alternates between repeats and the fastest of each way counts, so that warm-up and a
    busy machine favour neither. Health recording stays on in both, as in every training.

    Parameters
    ----------
    epochs : int
        Epochs per training.
    repeats : int
        Trainings per way and workload.
    only : str, optional
        One of ``WORKLOADS``.

    Returns
    -------
    dict
        Per workload: ``plain_s`` and ``recorded_s`` (fastest training of each way), ``ratio``
        (recorded / plain), ``record_s`` (seconds inside the recorder, fewest), ``record_share``
        (``record_s`` over the rest of that training: the overhead measured within one run,
        which a busy machine disturbs less than the ratio of two), ``snapshots`` and
        ``stored_mb`` (``snapshots.npz`` in MB).
    """
    out = {}
    for name in [only] if only else list(WORKLOADS):
        spec = snapshot_workload(name, epochs)
        data, checked = prepare(spec), check_network(spec)
        fit_prepared(checked, data, record_snapshots=False)  # warm: the loop is traced once per process
        times: dict[bool, list[float]] = {False: [], True: []}
        inside, shares, film = [], [], None
        for repeat in range(repeats):
            for record in (False, True) if repeat % 2 == 0 else (True, False):
                result = fit_prepared(checked, data, record_snapshots=record)
                times[record].append(result.train_seconds)
                if record:
                    film = result.film
                    inside.append(film.record_seconds)
                    shares.append(film.record_seconds / (result.train_seconds - film.record_seconds))
        plain, recorded = min(times[False]), min(times[True])
        out[name] = {
            "plain_s": round(plain, 2),
            "recorded_s": round(recorded, 2),
            "ratio": round(recorded / plain, 3),
            "record_s": round(min(inside), 3),
            "record_share": round(min(shares), 3),
            "snapshots": len(film),
            "stored_mb": round(len(film_bytes(film)) / 1e6, 3),
        }
    return out


def snapshot_lines(figures: dict[str, dict[str, float]], epochs: int = 10) -> list[str]:
    """One line per workload, as ``python -m lab bench`` prints them."""
    return [
        f"snapshots {name}: {epochs} epochs {f['plain_s']:.2f} s without recording, {f['recorded_s']:.2f} s with "
        f"-> x{f['ratio']:.3f} ({f['record_s']:.2f} s inside the recorder = {f['record_share']:.1%} of training); "
        f"{f['snapshots']:.0f} snapshots stored in {f['stored_mb']:.2f} MB"
        for name, f in figures.items()
    ]
