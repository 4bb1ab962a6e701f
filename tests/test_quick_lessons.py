"""Quick mode on Techniques still shows each series' lesson: the declared plans and claims, then trained per series.

The cheap tests read what lab/catalog declares: every series states its lesson as
claims, quick mode's plan is short, and the claims read numbers as a teacher
would. The slow tests train each series' quick plan on the offline sample, as the
Techniques page does, and check that every claim quick mode promises holds.
"""

from __future__ import annotations

import re

import pytest

from lab.architecture import check_network
from lab.catalog.lessons import BEATS, BELOW, NARROWS, OVERFITS, VOTES, Claim, Numbers, check_claim, check_claims
from lab.catalog.preset import QUICK_EPOCHS
from lab.catalog.presets import SERIES, list_presets
from lab.reports.course_table import lesson_numbers, stored_rows
from lab.runs.store import RunStore
from lab.runs.training import train_and_save


def named_in(note: str) -> set[str]:
    """Preset names a note names, ranges included: ``B7-B11`` names B7, B8, B9, B10 and B11."""
    names = set(re.findall(r"\b[A-D]\d+\b", note))
    for series, low, high in re.findall(r"\b([A-D])(\d+)-[A-D]?(\d+)\b", note):
        names |= {f"{series}{i}" for i in range(int(low), int(high) + 1)}
    return names


# ------------------------------------------------------------ what is declared
@pytest.mark.parametrize("series", list(SERIES))
def test_every_series_states_its_lesson_as_claims_quick_mode_shows(series):
    claims = SERIES[series].claims
    names = {p.name for p in list_presets(series, "sample")}
    assert any(claim.quick for claim in claims), "quick mode must show some of the lesson"
    for claim in claims:
        assert set(claim.presets) <= names, claim
        for name in claim.presets:
            assert name in claim.text, f"the sentence names the presets it compares: {claim.text}"


@pytest.mark.parametrize("series", list(SERIES))
def test_quick_plans_are_short_unless_a_series_says_why(series):
    for preset in list_presets(series, "sample"):
        quick = preset.quick().spec
        assert quick.epochs <= preset.spec.epochs
        if preset.quick_changes:
            assert SERIES[series].quick_note, "a plan of its own is explained beside the results"
            assert preset.name in named_in(SERIES[series].quick_note), "the note names the presets it changes"
        else:
            assert quick.epochs == min(QUICK_EPOCHS, preset.spec.epochs)
            assert quick.replace(epochs=preset.spec.epochs) == preset.spec  # only the epochs change


def test_series_b_quick_plan_takes_the_deep_cnns_as_far_in_four_epochs():
    for preset in list_presets("B", "sample"):
        course, quick = preset.spec, preset.quick().spec
        if preset.name in named_in(SERIES["B"].quick_note):
            assert (quick.epochs, quick.learning_rate) == (4, 0.05)
            # As far as the ten quick epochs at the course's rate (rate x epochs), in 4 of them.
            assert quick.epochs * quick.learning_rate == pytest.approx(QUICK_EPOCHS * course.learning_rate)
            assert preset.quick_text == "4 of 100 epochs, learning rate 0.05"
        else:
            assert quick == course.replace(epochs=QUICK_EPOCHS)
    assert named_in(SERIES["B"].quick_note) == {"B7", "B8", "B9", "B10", "B11"}


def test_series_d_quick_plan_takes_sgd_as_far_as_the_course_in_fifty_epochs():
    for preset in list_presets("D", "sample")[:3]:
        course, quick = preset.spec, preset.quick().spec
        assert (quick.epochs, quick.learning_rate) == (50, 0.2)
        assert quick.epochs * quick.learning_rate == pytest.approx(course.epochs * course.learning_rate)
        assert preset.quick_text == "50 of 1,000 epochs, learning rate 0.2"
    assert list_presets("D", "sample")[3].quick_text == "10 of 100 epochs"


def test_claims_read_accuracies_and_gaps_as_the_table_shows_them():
    numbers = {"A1": Numbers(0.11), "A3": Numbers(0.86), "D0": Numbers(0.79, 0.89), "D2": Numbers(0.78, 0.79)}
    near_chance = check_claim(Claim("A1 stays near chance", BELOW, "A1", value=0.2), numbers)
    assert near_chance.holds is True and near_chance.detail == "A1 11.0%"
    learns = check_claim(Claim("A3 learns where A1 does not", BEATS, "A3", "A1", value=0.2), numbers)
    assert learns.holds is True and learns.detail == "A3 86.0% vs A1 11.0%"
    assert check_claim(Claim("A1 beats A3", BEATS, "A1", "A3"), numbers).holds is False
    overfits = check_claim(Claim("D0 over-fits", OVERFITS, "D0", value=0.05), numbers)
    assert overfits.holds is True and overfits.detail == "D0 training 89.0%, test 79.0%"
    narrows = check_claim(Claim("D2 narrows D0's gap", NARROWS, "D2", "D0"), numbers)
    assert narrows.holds is True and narrows.detail == "gap D2 +1.0 points vs D0 +10.0"
    # A preset not trained yet: the claim waits, it is not called false.
    assert check_claims([Claim("D1 narrows D0's gap", NARROWS, "D1", "D0")], numbers)[0].holds is None


def test_an_ensembles_claim_reads_its_vote_against_its_average_member():
    claim = Claim("The ensemble (A7) is at least as accurate as its average member", VOTES, "A7")
    voted = check_claim(claim, {"A7": Numbers(0.20, members=(0.31, 0.20, 0.19))})
    assert voted.holds is False and voted.detail == "A7 20.0% vs its members 31.0%, 20.0%, 19.0% (average 23.3%)"
    assert check_claim(claim, {"A7": Numbers(0.9, members=(0.9, 0.9, 0.9))}).holds is True  # a tie holds
    # Members not all stored (no vote yet), or not an ensemble at all: the claim waits.
    assert check_claim(claim, {"A7": Numbers(None, members=())}).holds is None
    assert check_claim(claim, {"A7": Numbers(0.9)}).holds is None


def test_a_claim_must_be_complete():
    with pytest.raises(ValueError, match="Unknown claim kind"):
        Claim("x", "bigger", "A1")
    with pytest.raises(ValueError, match="name the other one"):
        Claim("A3 beats", BEATS, "A3")


# ------------------------------------------------------------ trained, per series
@pytest.mark.slow
@pytest.mark.parametrize("series", list(SERIES))
def test_quick_mode_shows_the_lesson_of_each_series(series, tmp_path):
    """Train the series' quick plan on the sample as the page does, and read its claims on the table's numbers."""
    store = RunStore(tmp_path / "runs")
    course = list_presets(series, "sample")
    presets = [p.quick() for p in course]
    for preset in presets:
        for spec in preset.member_specs():
            train_and_save(check_network(spec), store)
    rows = stored_rows(presets, store, course)
    checks = check_claims(SERIES[series].claims, lesson_numbers(rows))  # as the page reads them
    promised = [check for check in checks if check.claim.quick]
    assert promised and all(check.holds for check in promised), [(c.claim.text, c.detail) for c in checks]
