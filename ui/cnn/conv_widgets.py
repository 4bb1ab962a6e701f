"""Widgets for a spec's convolution blocks and data augmentation (the CNN page's controls).

Like ``ui.controls.spec_widgets``, every widget takes its value from session state
(seeded by ``seed_conv_controls``), so that a link or a preset can set them.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from lab.spec import AUG_PREFIX, SETTINGS, Augmentation, ConvBlock, ExperimentSpec
from ui.controls.spec_widgets import group_controls, widget_args

MAX_BLOCKS = int(SETTINGS["conv"].bounds[1])  # as many as the spec takes
FILTER_OPTIONS = (1, 2, 4, 6, 8, 10, 16, 20, 32, 40, 64, 80, 128)
KERNEL_OPTIONS = (1, 2, 3, 4, 5, 7, 9)
STRIDE_OPTIONS = (1, 2, 3, 4)
POOL_OPTIONS = (0, 2, 3, 4)
BLOCK_L2_OPTIONS = (0.0, 1e-5, 1e-4, 1e-3, 1e-2)
BLOCK_HELP = {
    "filters": "How many kernels this layer learns: each becomes one feature map.",
    "kernel": "Side of each square kernel in pixels: the patch it looks at.",
    "stride": "Step between two kernel positions: stride 2 halves the feature map's side.",
    "padding": "'same' pads the border with zeros so that the kernel sees edge pixels; 'valid' shrinks the map.",
    "pool": "Max pooling after the activation: keep the largest value of each window (0 = none).",
    "dropout": "Drop this share of the block's outputs at random while training (B8: 0.5 after the last conv).",
    "l2": "L2 penalty on this block's kernels (B9: 1e-4 on the last conv).",
}


def conv_values(spec: ExperimentSpec) -> dict[str, Any]:
    """Widget values (without prefix) showing the spec's conv blocks and augmentation."""
    values: dict[str, Any] = {"n_conv": len(spec.conv)}
    for i, block in enumerate(spec.conv, start=1):
        values.update(_block_values(i, block))
    values.update({key: value for key, value in spec.settings().items() if key.startswith(AUG_PREFIX)})
    return values


def _block_values(i: int, block: ConvBlock) -> dict[str, Any]:
    return {
        f"conv{i}_filters": block.filters,
        f"conv{i}_kernel": block.kernel_size,
        f"conv{i}_stride": block.strides,
        f"conv{i}_padding": block.padding,
        f"conv{i}_pool": block.pool,
        f"conv{i}_dropout": block.dropout,
        f"conv{i}_l2": block.l2,
    }


def seed_conv_controls(spec: ExperimentSpec, key_prefix: str) -> None:
    """Set the conv and augmentation controls to show ``spec`` (before they are drawn, or from a callback)."""
    for name, value in conv_values(spec).items():
        st.session_state[key_prefix + name] = value


def _w(p: str, name: str, options: Any = None) -> dict[str, Any]:
    """The page's key and help; kept while hidden, so that a block switched off keeps its values."""
    field = name if name.startswith("aug_") else "conv"  # the lesson locks every block's control with conv
    return widget_args(p + name, BLOCK_HELP.get(name.split("_", 1)[-1]), options, field=field)


def conv_controls(key_prefix: str) -> tuple[ConvBlock, ...]:
    """Number of conv blocks (0-3) and each block's settings."""
    p = key_prefix
    for name, value in conv_values(ExperimentSpec()).items():
        st.session_state.setdefault(p + name, value)
    args = _w(p, "n_conv")
    args["help"] = SETTINGS["conv"].help
    n_blocks = st.slider(SETTINGS["conv"].label, 0, MAX_BLOCKS, step=1, **args)
    blocks = []
    for i in range(1, n_blocks + 1):
        for name, value in _block_values(i, ConvBlock()).items():
            st.session_state.setdefault(p + name, value)
        st.markdown(f"**Block {i}**")
        # One control a row: in the sidebar each slider then gets its whole width (200 px and more at 1280x720).
        filters = st.select_slider("Filters", **_w(p, f"conv{i}_filters", FILTER_OPTIONS))
        kernel = st.select_slider(
            "Kernel", format_func=lambda k: f"{k}x{k}", **_w(p, f"conv{i}_kernel", KERNEL_OPTIONS)
        )
        stride = st.select_slider("Stride", **_w(p, f"conv{i}_stride", STRIDE_OPTIONS))
        c1, c2 = st.columns(2)
        padding = c1.selectbox("Padding", **_w(p, f"conv{i}_padding", ("same", "valid")))
        pool = c2.selectbox(
            "Max pool", format_func=lambda v: "none" if v == 0 else f"{v}x{v}", **_w(p, f"conv{i}_pool", POOL_OPTIONS)
        )
        dropout = st.slider("Dropout", 0.0, 0.8, step=0.05, **_w(p, f"conv{i}_dropout"))
        l2 = st.selectbox(
            "L2", format_func=lambda v: "off" if v == 0 else f"{v:g}", **_w(p, f"conv{i}_l2", BLOCK_L2_OPTIONS)
        )
        blocks.append(ConvBlock(int(filters), int(kernel), int(stride), padding, int(pool), float(dropout), float(l2)))
    if n_blocks:
        st.caption("Each block: convolution, the activation chosen under Model, then optional pooling and dropout.")
    return tuple(blocks)


def augmentation_controls(key_prefix: str) -> Augmentation:
    """A slider for each augmentation setting (``lab.spec.SETTINGS``); all at 0 is no augmentation."""
    values = group_controls("augmentation", key_prefix)  # one a row: each slider the sidebar's whole width
    st.caption("Applied to training images only, inside the model (Keras preprocessing layers): never to evaluation.")
    return Augmentation(**{key.removeprefix(AUG_PREFIX): value for key, value in values.items()})
