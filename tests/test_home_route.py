"""Home's "Start here": five links that open their pages with the setup ready, and what they promise holds."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import pytest
from streamlit.testing.v1 import AppTest

from lab.catalog.first_lesson import BROKEN, FIXED, START_HERE
from lab.codec import spec_from_query
from lab.spec import ExperimentSpec
from tests import apptest_support

ROOT = Path(__file__).resolve().parents[1]


def start_links(at: AppTest) -> list:
    """The numbered links of the route, in order."""
    return [link.proto for link in at.get("page_link") if link.proto.label[:2] in {f"{i}." for i in range(1, 10)}]


def test_home_starts_with_five_steps_each_one_link_with_its_setup():
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    assert any("Start here" in h.value for h in at.subheader)
    links = start_links(at)
    assert [link.label for link in links] == [f"{i}. {step.title}" for i, step in enumerate(START_HERE, start=1)]
    assert [Path(link.page).stem for link in links] == ["train", "train", "gradients", "train", "draw"]
    for link, step in zip(links, START_HERE, strict=True):
        if step.spec is None:
            assert not link.query_string
            continue
        query = {key: values[-1] for key, values in parse_qs(link.query_string).items()}
        assert spec_from_query(query) == step.spec, "the link opens exactly the step's setup"
    assert any("?projector=1" in c.value for c in at.caption)


def test_the_broken_and_the_fixed_network_differ_only_in_the_activation():
    assert (BROKEN.activation, FIXED.activation) == ("sigmoid", "relu")
    assert FIXED.replace(activation="sigmoid") == BROKEN
    assert START_HERE[0].spec == ExperimentSpec()


@pytest.mark.parametrize("step", [1, 3])
def test_following_a_train_step_opens_the_train_page_on_its_setup(step, tmp_path, monkeypatch):
    spec = START_HERE[step].spec
    link = start_links(AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run())[step]
    query = {key: values[-1] for key, values in parse_qs(link.query_string).items()}
    at = apptest_support.open_page("train", tmp_path / "runs", monkeypatch, **query)
    assert at.selectbox(key="activation").value == spec.activation
    assert at.selectbox(key="optimizer").value == "sgd"
    assert at.slider(key="n_hidden").value == 4
    assert at.select_slider(key="learning_rate").value == spec.learning_rate


@pytest.mark.slow
def test_the_route_shows_what_it_promises_broken_at_chance_fixed_learns():
    from lab.architecture import check_network
    from lab.nn.trainer import train

    broken, fixed = train(check_network(BROKEN)), train(check_network(FIXED))
    # Measured on the sample: 10.3% and 92.2% test accuracy after the ten epochs.
    assert broken.test_accuracy < 0.15 and max(broken.history["val_accuracy"]) < 0.15
    assert fixed.test_accuracy > 0.85
