"""Train course presets into the run store before class, so that pages show them at once.

``python -m lab pretrain`` (``lab.cli.pretrain``) and the reproduction document
(``lab.reports.reproduce``) both train through here; each run goes through the
one train-and-save path, ``lab.runs.training.get_or_train``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from lab.catalog.presets import Preset
from lab.nn.result import RunResult
from lab.runs.store import RunStore
from lab.runs.training import get_or_train
from lab.spec import ExperimentSpec

PretrainEvent = Callable[[str, Preset, ExperimentSpec, Any], None]
"""``on_event(kind, preset, spec, payload)``: see ``pretrain``."""


def pretrain(
    presets: Sequence[Preset],
    store: RunStore | None = None,
    *,
    on_event: PretrainEvent | None = None,
) -> dict[str, list[RunResult]]:
    """Train every spec of ``presets`` into the store, skipping those already stored.

    Parameters
    ----------
    presets : sequence of Preset
        What to train (ensemble presets train all their members).
    store : RunStore, optional
        Default ``RunStore()`` (``$MLP_LAB_HOME`` or ``./runs``).
    on_event : callable, optional
        ``on_event(kind, preset, spec, payload)`` with kind ``skip`` (payload:
        the stored result), ``start`` (None), ``epoch`` (an EpochReport) or
        ``done`` (the result). A run stopped part-way is trained again.

    Returns
    -------
    dict
        Preset name -> list of RunResult (one per member).
    """
    store = store if store is not None else RunStore()
    notify = on_event or (lambda *args: None)
    results: dict[str, list[RunResult]] = {}
    for preset in presets:
        for spec in preset.member_specs():
            result = get_or_train(
                spec,
                store,
                start=lambda p=preset, s=spec: notify("start", p, s, None),
                on_epoch=lambda report, p=preset, s=spec: notify("epoch", p, s, report),
            )
            notify("skip" if result.from_store else "done", preset, spec, result)
            results.setdefault(preset.name, []).append(result)
    return results
