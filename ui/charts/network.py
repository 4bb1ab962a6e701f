"""What a spec builds, before any training: the parameter count and the layer table."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lab.architecture import (
    NUM_CLASSES,
    NUM_PIXELS,
    CheckedSpec,
    check_network,
    count_params,
    count_trainable,
    layer_infos,
)
from lab.spec import ExperimentSpec
from ui.app.state import get_limits
from ui.app.text import plain


def layer_table(spec: ExperimentSpec, total: int | None = None) -> pd.DataFrame:
    """The network's layers as a table: name, kind, output shape, parameters (``101,770``), detail; then the total.

    The total is ``total`` (the checked spec's count) or ``count_params(spec)``, the headline's number.
    """
    rows = [
        {
            "Layer": info.name,
            "Kind": info.kind,
            "Output": " x ".join(str(s) for s in info.output_shape),
            "Parameters": f"{info.params:,}",
            "What it does": info.detail,
        }
        for info in layer_infos(spec)
    ]
    total = count_params(spec) if total is None else total
    rows.append({"Layer": "Total", "Kind": "", "Output": "", "Parameters": f"{total:,}", "What it does": ""})
    return pd.DataFrame(rows)


def show_architecture(spec: ExperimentSpec) -> CheckedSpec | None:
    """Parameter count and layer table for ``spec`` (no TensorFlow needed); returns it checked, or None.

    The spec is checked once here (``check_network``: its values, its network, its weights
    counted), and the page hands the ``CheckedSpec`` on to ``run_spec``, which trusts it. An
    invalid spec (a bad value, or more parameters than the budget) shows ``st.error`` with
    what to change.
    """
    try:
        checked = check_network(spec, None)  # the server's own budget is its limits', checked below
        params, trainable = checked.params, count_trainable(spec)
        table = layer_table(spec, params)
    except ValueError as exc:
        st.error(plain(exc))
        return None
    c1, c2, c3 = st.columns(3)
    c1.metric("Parameters", f"{params:,}", help="Every weight and bias the network has.")
    c2.metric(
        "Trainable",
        f"{trainable:,}",
        help="The parameters gradient descent trains: all of them but batch norm's running means and variances.",
    )
    c3.metric("Hidden layers", len(spec.hidden), help="Layers of units between the pixels and the ten outputs.")
    shape = " → ".join(str(w) for w in (NUM_PIXELS, *spec.hidden, NUM_CLASSES))
    convs = f"{len(spec.conv)} convolution block(s), then " if spec.conv else ""
    st.caption(f"Units per layer: {convs}{shape}")
    with st.expander("Layer table", expanded=False):
        st.table(table, hide_index=True)
    try:
        return get_limits().check(checked)  # the server's limits, as the training itself will be checked
    except ValueError as exc:
        st.error(plain(exc))
        return None
