"""Lesson links under AppTest: only the lesson's controls editable, the link's setup in place, a way back
to the full page, and the teacher's link maker."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from lab.codec import format_lesson, parse_lesson, spec_from_query
from lab.spec import ExperimentSpec
from tests.test_page_train import PAGE

LINK = {"hidden": "50,50", "activation": "sigmoid", "learning_rate": "0.01", "lesson": "activation,optimizer"}


@pytest.fixture
def open_train(store_home):
    st.cache_resource.clear()

    def make(query: dict[str, str], **state) -> AppTest:
        at = AppTest.from_file(PAGE, default_timeout=240)
        for key, value in query.items():
            at.query_params[key] = value
        for key, value in state.items():
            at.session_state[key] = value
        at.run()
        assert not at.exception, at.exception
        return at

    yield make
    st.cache_resource.clear()


def editable(at: AppTest) -> set[str]:
    widgets = [*at.selectbox, *at.slider, *at.select_slider, *at.checkbox, *at.number_input, *at.toggle]
    return {w.key for w in widgets if w.key and not w.disabled}


def test_a_lesson_link_leaves_only_its_controls_editable_with_the_links_setup_in_place(open_train):
    at = open_train(LINK)
    assert editable(at) == {"activation", "optimizer", "projector"}
    assert at.slider(key="n_hidden").value == 2 and at.select_slider(key="width").value == 50
    assert at.selectbox(key="activation").value == "sigmoid"
    assert at.select_slider(key="learning_rate").value == 0.01 and at.select_slider(key="learning_rate").disabled
    assert any("Today's lesson: Activation and Optimizer" in i.value for i in at.info)
    # What the student changes stays in the URL, the lesson too.
    at.selectbox(key="activation").set_value("tanh").run()
    assert at.query_params["lesson"] == "activation,optimizer" and at.query_params["activation"] == "tanh"


def test_show_the_full_page_drops_the_lesson_and_keeps_the_setup(open_train):
    at = open_train(LINK)
    at.button(key="lesson_full_page").click().run()
    assert "lesson" not in at.query_params
    assert {"n_hidden", "learning_rate", "epochs", "activation"} <= editable(at)
    assert at.slider(key="n_hidden").value == 2 and at.select_slider(key="learning_rate").value == 0.01
    assert not any("Today's lesson" in i.value for i in at.info)


def test_a_lesson_naming_no_setting_is_reported_and_the_full_page_shown(open_train):
    at = open_train({"lesson": "activation,colour"})
    assert any("'colour'" in w.value and "full page" in w.value for w in at.warning)
    assert "n_hidden" in editable(at)


@pytest.mark.slow
def test_the_teacher_makes_a_lesson_link_of_the_current_setup(open_train):
    assert not [e for e in open_train({"hidden": "50,50"}).expander if e.label == "Make a lesson link"]
    at = open_train({"hidden": "50,50", "activation": "sigmoid"}, teacher_unlocked=True)
    at.multiselect(key="train_lesson_fields").set_value(["optimizer", "activation"]).run()
    (link,) = [c.value for c in at.code if "lesson=" in c.value]
    parts = urlsplit(link)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    assert parts.path == "/train" and query["lesson"] == "activation,optimizer"
    assert spec_from_query({k: v for k, v in query.items() if k != "lesson"}) == ExperimentSpec(
        hidden=(50, 50), activation="sigmoid"
    )


def test_the_lesson_codec_keeps_the_specs_order_and_refuses_unknown_names():
    assert parse_lesson(" optimizer,activation ") == ("activation", "optimizer")
    assert format_lesson(["epochs", "hidden"]) == "hidden,epochs"
    with pytest.raises(ValueError, match="'colour'"):
        parse_lesson("colour")
