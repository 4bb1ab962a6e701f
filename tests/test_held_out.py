"""No held-out digit reaches a page: every array of digits the pages draw from holds none of them, and nothing in
the UI can import them (the scores are all that leaves ``lab.challenge``)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from lab.data.held_out import load_held_out
from lab.data.prepare import prepare
from lab.data.prepare import test_images as shown_test_images  # a test_ name would be collected
from lab.data.sources import load_source
from lab.spec import ExperimentSpec

ROOT = Path(__file__).resolve().parents[1]
# The only ways to the held-out digits: their module, and the loaders it uses.
HELD_OUT_NAMES = re.compile(r"lab\.data\.held_out|load_held_out|load_complete_source|held_out_mask")


def _rows(images01_or_uint8: np.ndarray) -> set[bytes]:
    """Each image as bytes of uint8 pixels (images in [0, 1] are turned back into MNIST's bytes)."""
    x = np.asarray(images01_or_uint8)
    if x.dtype != np.uint8:
        x = np.round(x.reshape(len(x), -1) * 255).astype(np.uint8)
    return {row.tobytes() for row in x.reshape(len(x), -1)}


@pytest.fixture(scope="module")
def held() -> set[bytes]:
    digits = load_held_out("sample")
    return _rows(digits.x)


def test_no_file_of_the_ui_or_the_pages_can_reach_the_held_out_digits():
    files = [*ROOT.glob("ui/**/*.py"), *ROOT.glob("pages/*.py"), ROOT / "streamlit_app.py"]
    assert len(files) > 20
    offenders = [str(f.relative_to(ROOT)) for f in files if HELD_OUT_NAMES.search(f.read_text())]
    assert offenders == []


@pytest.mark.parametrize(
    "spec",
    [
        ExperimentSpec(),  # the Train page's defaults: a seeded stratified validation split
        ExperimentSpec(val_mode="test"),  # the course's notebook 003: validating on the test set
        ExperimentSpec(val_mode="keras", val_split=0.2),
        ExperimentSpec(test_subset=100, train_subset=500, subset_mode="first"),  # course 004's first 100
    ],
)
def test_no_array_a_page_draws_digits_from_holds_a_held_out_one(spec, held):
    source = load_source(spec.data)  # the data gallery (training images) and every page's source
    assert not held & _rows(source.x_train) and not held & _rows(source.x_test)
    data = prepare(spec)  # what trains, validates and tests (uncentered: the pixels themselves)
    for part in (data.x_train, data.x_val, data.x_test):
        assert not held & _rows(part)
    x, _ = shown_test_images(spec)  # the mistakes gallery, the CNN page's feature maps, the shifted digits
    assert not held & _rows(x)


def test_the_held_out_digits_are_real_test_digits_like_the_shown_ones(held):
    # Not blank or repeated images: 500 distinct digits, as varied as the shown test set.
    digits = load_held_out("sample")
    assert len(held) == 500 and 0.1 < digits.x.mean() / 255 < 0.2
    assert abs(digits.x.mean() - load_source("sample").x_test.mean()) < 3
