"""Whether a page's data is on this machine, the download (or the offline sample) when it is not, a look at it."""

from __future__ import annotations

import streamlit as st

from lab.analysis.inspection import gallery_indices
from lab.data.sources import SOURCES, DataUnavailable, check_data_allowed, class_names, is_cached, load_source
from lab.spec import ExperimentSpec
from ui.app.state import get_limits
from ui.app.text import plain
from ui.charts import images

GALLERY_PER_CLASS = 2


def data_available(spec: ExperimentSpec, key_prefix: str = "") -> bool:
    """Whether the spec's data can be loaded here; if not, say why and offer the download or the sample.

    MNIST and Fashion-MNIST download once, on a click (never by themselves); an
    offline machine gets a clear ``st.error`` and a button that switches to the sample.
    """
    source = spec.data
    if source == "sample":
        return True
    if source.startswith("idx:"):
        try:
            # Before any look at the folder: a visitor learns nothing of folders outside the allowed roots.
            check_data_allowed(source, get_limits().data_roots)
            load_source(source)
            return True
        except (DataUnavailable, ValueError) as exc:
            st.error(plain(exc))  # names the link's folder
            _use_sample_button(key_prefix)
            return False
    if is_cached(source):
        return True
    name = SOURCES.get(source, source)
    st.info(f"{name} is not downloaded yet (about 11-30 MB, once).")
    error = st.session_state.get(key_prefix + "_data_error")
    if error:
        st.error(plain(error))
        _use_sample_button(key_prefix)
    st.button(
        f"Download {name}",
        key=key_prefix + "download_data",
        on_click=_download,
        args=(source, key_prefix),
        type="primary",
    )
    return False


def _download(source: str, key_prefix: str) -> None:
    try:
        with st.spinner("Downloading ..."):
            load_source(source)
        st.session_state.pop(key_prefix + "_data_error", None)
    except DataUnavailable as exc:
        st.session_state[key_prefix + "_data_error"] = str(exc)


def _use_sample_button(key_prefix: str) -> None:
    def use_sample() -> None:
        st.session_state[key_prefix + "data_source"] = "sample"
        st.session_state.pop(key_prefix + "_data_error", None)

    st.button("Use the offline MNIST sample instead", key=key_prefix + "use_sample", on_click=use_sample)


def data_on_machine(spec: ExperimentSpec) -> bool:
    """Whether the data is on this machine already (nothing is downloaded to draw results)."""
    return spec.data == "sample" or spec.data.startswith("idx:") or is_cached(spec.data)


def data_gallery(spec: ExperimentSpec) -> None:
    """A few training images with their labels, two of each class."""
    try:
        check_data_allowed(spec.data, get_limits().data_roots)
        source = load_source(spec.data)
    except ValueError as exc:
        st.error(plain(exc))
        return
    idx = gallery_indices(source.y_train, GALLERY_PER_CLASS)
    names = class_names(spec.data)
    n_train, n_test = source.sizes
    st.caption(f"{n_train:,} training and {n_test:,} test images in this source. Two of each class:")
    pictures = [images.digit_picture(source.x_train[i] / 255.0) for i in idx]
    st.image(pictures, caption=[names[source.y_train[i]] for i in idx], width=56)
