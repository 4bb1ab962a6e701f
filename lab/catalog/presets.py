"""Every experiment of the course as a named preset, and how to look them up.

A preset is the course's experiment written as an ``ExperimentSpec``, with what
changed and why, the test accuracy the course reports, and the lesson it draws
(``lab.catalog.preset``). Specs are written for full MNIST, as the course ran
them; ``get_preset`` swaps in the data this machine has
(``lab.data.sources.default_source()``: MNIST when cached, else the offline
5,000-digit sample), and ``Preset.capped`` shortens a run for a class that has
minutes, not hours. Training them into the run store is ``lab.runs.pretrain``.

Series (see ``/work/shared/course/EXPERIMENTS.md``), one module each:

A  the "Advanced MLP" ablation (course files 000 and 001): ``lab.catalog.series_a``
B  CS4487's lecture: widths, depth, CNNs, dropout, L2, augmentation (002): ``series_b``
C  Keras MLPs on full MNIST (003): ``series_c``
D  over-fitting on 500 images, then the improved network (004): ``series_d``

Each series where it makes sense ends with an "everything together" preset
(``together`` names the single-technique presets it should beat): the course's
closing question, "why not try them all together?".
"""

from __future__ import annotations

from collections.abc import Sequence

from lab.catalog import series_a, series_b, series_c, series_d
from lab.catalog.preset import CourseFigure, Preset, Series, figure_high, format_figure
from lab.data.sources import default_source

# The preset types are part of this module's public face: pages and reports import them from here.
__all__ = [
    "SERIES",
    "CourseFigure",
    "Preset",
    "Series",
    "course_presets",
    "figure_high",
    "format_figure",
    "get_preset",
    "list_presets",
    "resolve_presets",
]

_SERIES_MODULES = (series_a, series_b, series_c, series_d)

SERIES: dict[str, Series] = {module.SERIES.key: module.SERIES for module in _SERIES_MODULES}
_PRESETS: list[Preset] = [preset for module in _SERIES_MODULES for preset in module.PRESETS]
_BY_NAME: dict[str, Preset] = {p.name: p for p in _PRESETS}


def _source(data: str | None) -> str:
    return data or default_source()


def get_preset(name: str, data: str | None = None) -> Preset:
    """The preset called ``name`` (case-insensitive), on this machine's data.

    Parameters
    ----------
    name : str
        ``A1`` ... ``D5``.
    data : str, optional
        Data source for its spec; default ``lab.data.sources.default_source()``
        (MNIST when cached, else the offline sample).

    Raises
    ------
    ValueError
        For an unknown name; the message lists the presets.
    """
    preset = _BY_NAME.get(name.strip().upper())
    if preset is None:
        raise ValueError(f"Unknown preset '{name}'. Choose one of: {', '.join(_BY_NAME)}.")
    return preset.with_data(_source(data))


def list_presets(series: str | None = None, data: str | None = None) -> list[Preset]:
    """All presets in course order, or those of one series (``A``, ``B``, ``C``, ``D``).

    Raises
    ------
    ValueError
        For an unknown series.
    """
    if series is not None and series.upper() not in SERIES:
        raise ValueError(f"Unknown series '{series}'. Choose one of: {', '.join(SERIES)}.")
    source = _source(data)
    return [p.with_data(source) for p in _PRESETS if series is None or p.series == series.upper()]


def course_presets() -> list[Preset]:
    """The presets exactly as the course ran them (data ``mnist``, full length)."""
    return list(_PRESETS)


def resolve_presets(
    names: str | Sequence[str] | None = None, series: str | Sequence[str] | None = None, data: str | None = None
) -> list[Preset]:
    """Presets from a list of names (``"A1,A3"``) and/or series (``"A,D"``); neither: all of them.

    Raises
    ------
    ValueError
        For an unknown name or series.
    """
    wanted: list[Preset] = []
    for key in _split(series):
        wanted += list_presets(key, data)
    for name in _split(names):
        wanted.append(get_preset(name, data))
    if not _split(series) and not _split(names):
        wanted = list_presets(None, data)
    seen: set[str] = set()
    return [p for p in wanted if not (p.name in seen or seen.add(p.name))]


def _split(values: str | Sequence[str] | None) -> list[str]:
    if values is None:
        return []
    items = values.split(",") if isinstance(values, str) else [v for item in values for v in item.split(",")]
    return [item.strip() for item in items if item.strip()]
