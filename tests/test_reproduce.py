"""REPRODUCTION.md's lessons: the catalog's claims, read by the one check, on the numbers its rows keep.

No training: the rows are written by hand (or made by ``preset_row`` from hand-made results), as the document
keeps them in its JSON comment.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from lab.catalog.lessons import Claim, check_claims
from lab.catalog.presets import SERIES, course_presets, get_preset
from lab.data import prepare
from lab.reports.course_table import CourseRow, lesson_numbers
from lab.reports.reproduce import lesson_checks, preset_row, render, row_numbers
from tests.test_course_table import fake_result

PRESETS = {p.name: p for p in course_presets()}
META = {"generated": "2026-01-01 00:00", "machine": "test", "wall_seconds": 1.0}
LESSON_LINE = re.compile(r"^- (✅|❌|⏭️) (.*)$")


def row(name: str, accuracy: float, train: float | None = None, members: tuple[float, ...] = (), **more: Any) -> dict:
    """A document row as ``preset_row`` writes it, at the course's length unless ``epochs_planned`` says less."""
    epochs = PRESETS[name].spec.epochs
    fields = {
        "name": name, "data": "mnist", "epochs_planned": epochs, "epochs_run": epochs, "best_epoch": None,
        "accuracy": accuracy, "n_test": 10_000, "train_accuracy": train, "members": list(members), "params": 1_000,
        "seconds": 1.0, "diverged": False, "run_ids": [f"{name.lower()}run"],
    }  # fmt: skip
    return fields | more


def every_row() -> dict[str, dict]:
    """A row for every preset, each better than the one before and over-fitting a little: every claim has numbers."""
    rows = {}
    for i, name in enumerate(PRESETS):
        accuracy = 0.5 + i / 100
        members = (accuracy, accuracy, accuracy) if PRESETS[name].ensemble else ()
        rows[name] = row(name, accuracy, accuracy + 0.2 - i / 1000, members)
    return rows


def claim_ids(claims: list[Claim]) -> list[int]:
    return [id(claim) for claim in claims]


def test_every_lesson_reproduce_checks_is_a_catalog_claim_in_the_series_order():
    """One declaration: the document reports exactly the series' ``Claim`` objects, none written on the side."""
    checks = lesson_checks(every_row())
    assert set(checks) == set(SERIES)
    for key, series in SERIES.items():
        assert claim_ids([check.claim for check in checks[key]]) == claim_ids(list(series.claims))
        # The one check function, on the one set of numbers: the same verdicts and details.
        assert checks[key] == check_claims(series.claims, row_numbers(every_row()))


def test_the_documents_lesson_lines_are_the_catalogs_sentences():
    text = render(every_row(), META)
    lines = [m.group(2) for line in text.splitlines() if (m := LESSON_LINE.match(line))]
    catalog = [claim.text for series in SERIES.values() for claim in series.claims]
    assert len(lines) == len(catalog)
    for line, sentence in zip(lines, catalog, strict=True):
        assert line.startswith(sentence + ": "), (line, sentence)


def test_a_claim_waits_for_its_presets_and_is_left_out_until_then():
    checks = lesson_checks({"A1": row("A1", 0.11), "A3": row("A3", 0.9)})
    assert [c.claim.text for c in checks["A"]] == [c.text for c in SERIES["A"].claims[:2]]
    assert checks["B"] == checks["C"] == checks["D"] == []
    text = render({"A1": row("A1", 0.11), "A3": row("A3", 0.9)}, META)
    assert "- ✅ ReLU (A3) learns where the naive model (A1) does not: A3 90.0% vs A1 11.0%." in text


def test_the_ensembles_claim_reads_the_members_the_row_keeps():
    rows = {"A7": row("A7", 0.2, 0.3, (0.3098, 0.2005, 0.1901))}
    text = render(rows, META)
    line = "- ❌ The ensemble (A7) is at least as accurate as its average member: A7 20.0% vs its members 31.0%, "
    assert line + "20.1%, 19.0% (average 23.3%)." in text


def test_a_claim_that_needs_the_courses_length_says_so_on_capped_runs():
    capped = {"D0": row("D0", 0.8, 0.9, epochs_planned=5), "D1": row("D1", 0.7, 0.72, epochs_planned=5)}
    text = render(capped, META)
    assert "- ⏭️ L2 (D1) raises D0's test accuracy: needs the course's length (D1 70.0% vs D0 80.0% on capped" in text
    # A claim quick runs are meant to show is judged on them.
    assert "- ✅ L2 (D1) shrinks D0's gap between training and test accuracy: gap D1 +2.0 points vs D0 +10.0." in text
    full = {name: r | {"epochs_planned": PRESETS[name].spec.epochs} for name, r in capped.items()}
    assert "- ❌ L2 (D1) raises D0's test accuracy: D1 70.0% vs D0 80.0%." in render(full, META)


@pytest.mark.parametrize("name", ["D0", "A7"])
def test_the_document_and_the_techniques_page_read_the_same_numbers(name):
    """``preset_row`` keeps what ``lesson_numbers`` reads from a CourseRow, so both check claims on one set."""
    preset = get_preset(name, "sample")
    specs = preset.member_specs()
    labels = prepare.test_images(specs[0])[1]
    results = tuple(fake_result(spec, labels, right=len(labels) // (i + 1)) for i, spec in enumerate(specs))
    page = lesson_numbers([CourseRow(preset, results)])
    document = row_numbers({name: preset_row(preset, results)})
    assert document == page


def test_the_data_paragraph_gives_the_test_sets_the_rows_were_scored_on_and_the_held_out_digits():
    """Rows stored before the challenge held digits out were scored on all 10,000, later ones on 8,000: both said."""
    rows = every_row()
    rows["A1"] = rows["A1"] | {"n_test": 8_000}
    data = next(line for line in render(rows, META).splitlines() if line.startswith("**Data.**"))
    assert "on 10,000 test images about ±0.4 points" in data, data
    assert "on 8,000 test images about ±0.5 points" in data, data
    assert "all but the 2,000 digits it holds out" in data, data
