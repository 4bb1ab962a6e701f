"""The series benchmark: a series' quick plan from an empty store, as the Techniques page trains it."""

from __future__ import annotations

import pytest

from lab.bench.series import SeriesTiming, bench_series
from lab.catalog.presets import list_presets


def test_the_series_line_names_the_wall_time_and_the_longest_presets():
    timing = SeriesTiming("B", 58.4, 1, {"B1": 1.0, "B7": 9.5, "B10": 11.2, "B5": 3.1})
    assert str(timing) == (
        "series B quick mode on the sample, from an empty store on a warm server, in-process: 58.4 s "
        "(4 presets; longest B10 11.2 s, B7 9.5 s, B5 3.1 s)"
    )
    assert "on 2 workers" in str(SeriesTiming("B", 40.0, 2, {"B1": 1.0}))


@pytest.mark.slow
def test_the_benchmark_trains_every_preset_of_the_series_from_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("MLP_LAB_HOME", str(tmp_path))  # a store it must not use
    timing = bench_series("D")
    assert set(timing.run_seconds) == {p.name for p in list_presets("D")}
    assert all(seconds > 0 for seconds in timing.run_seconds.values())
    # One after another here: the wall time holds every run's training, and more (data, saving).
    assert timing.seconds > sum(timing.run_seconds.values())
    assert not any(tmp_path.iterdir()), "the benchmark trains into a store of its own"
