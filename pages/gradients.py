"""Gradient health: vanishing and exploding gradients, layer by layer and epoch by epoch, for two runs side by side."""

from __future__ import annotations

import math
from collections.abc import Callable

import altair as alt
import pandas as pd
import streamlit as st

from lab.catalog.comparisons import COMPARISON_EPOCHS, COMPARISONS, comparison_pair
from lab.health.readings import (
    finite_range,
    gradient_spread,
    histogram_frame,
    layer_frame,
    layer_names,
    layer_value,
    recording_overhead,
)
from lab.nn.result import RunResult
from lab.runs.store import RunInfo
from ui.jobs import queue_sidebar, run_spec, show_run_warnings
from ui.navigation import ensure_app_navigation
from ui.state import get_store
from ui.text import fmt_seconds

ensure_app_navigation()

RUN_A_KEY = "grad_run_a"
RUN_B_KEY = "grad_run_b"
PAIR_KEY = "grad_pair"
TRAIN_KEY = "grad_train_pair"
EPOCH_KEY = "grad_epoch"
METRIC_KEY = "grad_metric"
NO_RUN = ""
HEAT_SCHEME = "viridis"
MISSING_COLOR = "#d62728"  # a NaN or infinite norm: the run blew up here
METRICS = {
    "grad_norm": ("Gradient norm", True),
    "update_ratio": ("Update / weight ratio (per epoch)", True),
    "weight_norm": ("Weight norm", True),
    "act_std": ("Activation standard deviation", False),
    "saturated": ("Saturated share (sigmoid, tanh)", False),
    "dead": ("Dead ReLU units share", False),
}

HEATMAP_READING = (
    "**How to read the heatmap.** Each row is a layer, input side at the top, output layer at the bottom; "
    "each column an epoch, 0 being the network as the initializer made it, before any training. The color is "
    "the size (L2 norm) of the gradient of the loss with respect to that layer's weights, on a log scale "
    "shared by both runs: a step along the scale is a factor, not a difference. In a healthy network all "
    "rows have similar colors, so every layer learns. When the top rows are much darker than the bottom ones "
    "the gradient **vanishes** on its way back: each sigmoid layer passes back at most a quarter of it, and "
    "the first layers barely move. Bright cells that grow from epoch to epoch are an **exploding** gradient; "
    "red cells mark epochs whose numbers became NaN or infinite, where the run diverged."
)
LINES_READING = (
    "**Lines over epochs.** The same numbers as lines, one per layer, on a scale shared by both runs. "
    "Lines far apart and flat: the layers learn at very different speeds and nothing changes (vanishing). "
    "Lines that rise steeply: weights and gradients feeding each other (exploding). The update / weight "
    "ratio says how much an epoch changed each layer's weights, relative to their size: around 1e-3 per step "
    "is the usual rule of thumb, so an epoch of many steps moves more; a layer at 1e-6 is frozen."
)
HIST_READING = (
    "**Activations at one epoch.** What each hidden layer outputs for the same 256 training images, "
    "in inference mode (batch normalization uses its running averages, dropout is off). Sigmoid outputs "
    "piled up at 0 or 1 are *saturated*: their slope is almost 0, so almost no gradient passes back. Outputs "
    "bunched in a narrow peak around 0.5 are not saturated, but the sigmoid's slope is at most 0.25 there, "
    "and every layer multiplies the gradient by it once more. ReLU outputs stuck at exactly 0 for every image "
    "are *dead* units: they never learn again."
)
STATS_READING = (
    "Gradients are taken in training mode, as the optimizer sees them (batch normalization with the probe "
    "batch's own statistics, dropout on), without disturbing training: the same spec and seed give the same "
    "history with and without recording."
)


# ------------------------------------------------------------------ data
def runs_with_health() -> list[RunInfo]:
    """Stored runs that have a gradient-health record, newest first."""
    store = get_store()
    return [info for info in store.list() if (store.path(info.run_id) / "health.json").is_file()]


def load(run_id: str) -> RunResult | None:
    """A stored run with its health record, or None."""
    if not run_id:
        return None
    result = get_store().get(run_id)
    return result if result is not None and result.health else None


def short_name(result: RunResult) -> str:
    """A run's name in chart titles: the spec summary and its id."""
    return f"{result.spec.summary()} ({result.run_id})"


# ------------------------------------------------------------------ charts
def heatmap(result: RunResult, domain: tuple[float, float] | None, title: str) -> alt.LayerChart:
    """Layer x epoch gradient norms on a log color scale; NaN or infinite cells in red with a cross."""
    frame = layer_frame(result.health)
    order = layer_names(result.health)
    frame["epoch"] = frame["epoch"].astype(int)
    frame["missing"] = ~frame["grad_norm"].apply(lambda v: math.isfinite(v) and v > 0)
    frame["text"] = frame["grad_norm"].apply(lambda v: f"{v:.2g}" if math.isfinite(v) else "NaN")
    scale = alt.Scale(type="log", scheme=HEAT_SCHEME)
    if domain is not None:
        scale = alt.Scale(type="log", scheme=HEAT_SCHEME, domain=list(domain))
    base = alt.Chart(frame).encode(
        x=alt.X("epoch:O", title="epoch (0 = before training)", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("layer:N", sort=order, title=None),
        tooltip=["layer", "epoch", alt.Tooltip("grad_norm:Q", format=".3g", title="gradient norm")],
    )
    cells = (
        base.transform_filter("datum.missing == false")
        .mark_rect()
        .encode(color=alt.Color("grad_norm:Q", scale=scale, title="gradient norm", legend=alt.Legend(format=".0e")))
    )
    missing = base.transform_filter("datum.missing == true").mark_rect(color=MISSING_COLOR)
    marks = base.transform_filter("datum.missing == true").mark_text(text="✕ NaN", color="white", fontWeight="bold")
    # The height holds the title and the axis too (Streamlit fits the chart into it).
    return alt.layer(cells, missing, marks).properties(title=title, height=100 + 32 * len(order))


def lines(result: RunResult, metric: str, domain: tuple[float, float] | None, title: str) -> alt.Chart:
    """One line per layer over epochs for ``metric``; log scale for norms and ratios."""
    label, log = METRICS[metric]
    frame = layer_frame(result.health).dropna(subset=[metric])
    if log:
        frame = frame[frame[metric] > 0]
    order = layer_names(result.health)
    scale = alt.Scale(type="log") if log else alt.Scale(zero=True)
    if domain is not None:
        scale = alt.Scale(type="log", domain=list(domain)) if log else alt.Scale(domain=list(domain))
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y(f"{metric}:Q", scale=scale, title=label),
            color=alt.Color("layer:N", sort=order, title="layer"),
            tooltip=["layer", "epoch", alt.Tooltip(f"{metric}:Q", format=".3g", title=label)],
        )
        .properties(title=title, height=260)
    )


def histograms(result: RunResult, epoch: int, title: str) -> alt.FacetChart | None:
    """Share of outputs per fixed bin, one small chart per hidden layer."""
    frame = histogram_frame(result.health, epoch)
    if frame.empty:
        return None
    order = [name for name in layer_names(result.health) if name in set(frame["layer"])]
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("bin_start:Q", bin="binned", title="activation"),
            x2="bin_end:Q",
            y=alt.Y("share:Q", title="share", axis=alt.Axis(format="%")),
            tooltip=[
                alt.Tooltip("bin_start:Q", format=".3g", title="from"),
                alt.Tooltip("bin_end:Q", format=".3g", title="to"),
                alt.Tooltip("share:Q", format=".1%"),
            ],
        )
        .properties(height=90, width=260)
        .facet(row=alt.Row("layer:N", sort=order, title=None))
        .resolve_scale(x="independent")
        .properties(title=title)
    )


def stats_table(result: RunResult, epoch: int) -> pd.DataFrame:
    """One row per layer at ``epoch``: gradient, weights, update ratio and activation statistics."""
    frame = layer_frame(result.health)
    index_epochs = sorted(set(frame["epoch"]))
    shown = max([e for e in index_epochs if e <= epoch], default=None)
    rows = frame[frame["epoch"] == shown]

    def fmt(value: float, pattern: str) -> str:
        return "–" if value is None or not math.isfinite(value) else format(value, pattern)

    return pd.DataFrame(
        {
            "Layer": rows["layer"],
            "Gradient norm": [fmt(v, ".3g") for v in rows["grad_norm"]],
            "Update / weight": [fmt(v, ".2g") for v in rows["update_ratio"]],
            "Activation mean": [fmt(v, ".3f") for v in rows["act_mean"]],
            "Activation std": [fmt(v, ".3f") for v in rows["act_std"]],
            "Saturated": [fmt(v, ".1%") for v in rows["saturated"]],
            "Dead units": [fmt(v, ".1%") for v in rows["dead"]],
        }
    ).reset_index(drop=True)


# ------------------------------------------------------------------ readings
def spread_sentence(spread: float | None) -> str:
    """The output-to-first-layer gradient ratio in words."""
    if spread is None:
        return "the gradient norms could not be compared (missing or not finite)"
    if spread >= 10:
        orders = math.log10(spread)
        return (
            f"the first layer's gradient is **{spread:,.0f} times smaller** than the output layer's "
            f"({orders:.1f} orders of magnitude): a vanishing gradient"
        )
    if spread <= 0.1:
        return (
            f"the first layer's gradient is **{1 / spread:,.0f} times larger** than the output layer's: "
            "the gradient grows on its way back (exploding)"
        )
    return f"the first and the output layer's gradients are within one order of magnitude ({spread:.2g}x): healthy"


def peak_growth(health: dict) -> tuple[float, str, int] | None:
    """The largest factor by which a layer's gradient norm grew over its epoch-0 size: (factor, layer, epoch)."""
    best = None
    epochs = health.get("epochs", [])
    for layer in health.get("layers", []):
        norms = layer.get("grad_norm") or []
        if not norms or not norms[0]:
            continue
        for epoch, value in zip(epochs, norms, strict=False):
            if value is not None and (best is None or value / norms[0] > best[0]):
                best = (value / norms[0], layer["name"], epoch)
    return best


def run_reading(result: RunResult) -> str:
    """What this run's record says, in a few sentences with its own numbers."""
    health = result.health
    epochs = health.get("epochs", [])
    last = epochs[-1] if epochs else 0
    parts = [f"Before training, {spread_sentence(gradient_spread(health, 0))}."]
    if last > 0:
        parts.append(f"After epoch {last}, {spread_sentence(gradient_spread(health, last))}.")
    growth = peak_growth(health)
    if growth is not None and growth[0] >= 5:
        parts.append(
            f"The gradient grew up to **{growth[0]:,.0f} times** its size before training ({growth[1]}, epoch "
            f"{growth[2]}): an exploding gradient."
        )
    hidden = [layer for layer in health.get("layers", []) if layer.get("activation_layer")]
    saturated = [layer_value(health, layer["name"], "saturated", last) for layer in hidden]
    saturated = [v for v in saturated if v is not None]
    if saturated:
        stds = [layer_value(health, layer["name"], "act_std", last) for layer in hidden]
        stds = [v for v in stds if v is not None]
        text = f"At most {max(saturated):.0%} of the {hidden[0]['activation']} outputs are saturated"
        if max(saturated) < 0.1 and stds:
            text += (
                f", so saturation is not the cause here: the outputs bunch together (standard deviation "
                f"{max(stds):.2f} at most), where the sigmoid's slope is at most 0.25"
            )
        parts.append(text + ".")
    dead = [layer_value(health, layer["name"], "dead", last) for layer in hidden]
    dead = [v for v in dead if v is not None]
    if dead:
        parts.append(f"Up to {max(dead):.0%} of a layer's ReLU units are dead (0 for every probe image).")
    if result.diverged:
        parts.append("The loss exploded: the last epoch's cells show where the numbers became NaN or huge.")
    return " ".join(parts)


def overhead_caption(result: RunResult) -> str:
    """How much recording cost this run, as measured when it trained."""
    health = result.health
    seconds = health.get("record_seconds")
    share = recording_overhead(health, result.train_seconds)
    if seconds is None or share is None:
        return "Recording cost: not measured."
    return (
        f"Recording cost: {seconds:.2f} s of {fmt_seconds(result.train_seconds)} training "
        f"({share:.1%} slower than without), probe of {health.get('probe_size', '?')} training images."
    )


# ------------------------------------------------------------------ sections
def train_pair_section(runs: list[RunInfo]) -> None:
    """Train (or fetch) a quick comparison pair of course presets on the sample data."""
    with st.expander("Train a comparison pair on the sample data", expanded=not runs):
        st.write(
            f"Two course presets, {COMPARISON_EPOCHS} epochs each on the offline sample of 5,000 digits: "
            "about a minute. Runs already stored are shown at once."
        )
        pair = st.radio("Pair", list(COMPARISONS), key=PAIR_KEY)
        start = st.button("Train this pair", key=TRAIN_KEY, type="primary")
        try:
            specs = comparison_pair(pair)
        except (ValueError, KeyError) as exc:
            st.error(f"This pair cannot be built: {exc}")
            return
        results = [run_spec(spec, f"grad-pair-{i}", start=start) for i, spec in enumerate(specs)]
        if all(r is not None for r in results):
            if start:
                # Show the pair just trained: set the pickers before they are drawn.
                st.session_state[RUN_A_KEY] = results[0].run_id
                st.session_state[RUN_B_KEY] = results[1].run_id
            st.caption("Stored: " + " · ".join(short_name(r) for r in results))


def pick_runs(runs: list[RunInfo]) -> tuple[str, str]:
    """Two selectboxes of stored runs (the second may be empty)."""
    ids = [info.run_id for info in runs]
    labels = {info.run_id: info.label() for info in runs}
    labels[NO_RUN] = "— none —"
    # First visit: the course's A1 / A3 pair when stored, else the two newest runs.
    preferred = [spec.run_id for spec in comparison_pair(next(iter(COMPARISONS)))]
    defaults = preferred if all(p in ids for p in preferred) else [*ids[:2], NO_RUN][:2]
    for key, fallback in zip((RUN_A_KEY, RUN_B_KEY), defaults, strict=True):
        if st.session_state.get(key) not in [*ids, NO_RUN]:
            st.session_state[key] = fallback
    left, right = st.columns(2)
    run_a = left.selectbox("Run A", ids, key=RUN_A_KEY, format_func=labels.get)
    run_b = right.selectbox("Run B", [NO_RUN, *ids], key=RUN_B_KEY, format_func=labels.get)
    return run_a, run_b


def side_by_side(results: list[RunResult], draw: Callable[[RunResult, int], None]) -> None:
    """Call ``draw(result, column_index)`` in one column per run."""
    columns = st.columns(len(results))
    for i, (column, result) in enumerate(zip(columns, results, strict=True)):
        with column:
            draw(result, i)


def show(results: list[RunResult]) -> None:
    """All charts and readings for one or two runs, on shared scales."""
    names = ["A", "B"]
    healths = [r.health for r in results]

    st.subheader("Gradient norm per layer and epoch")
    st.markdown(HEATMAP_READING)
    domain = finite_range(healths, "grad_norm")

    def draw_heatmap(result: RunResult, i: int) -> None:
        st.markdown(f"**Run {names[i]}** · {result.spec.summary()}")
        st.altair_chart(heatmap(result, domain, f"Run {names[i]} · {result.run_id}"), width="stretch")
        show_run_warnings(result)
        st.markdown(run_reading(result))
        st.caption(overhead_caption(result))

    side_by_side(results, draw_heatmap)

    st.subheader("Per layer over epochs")
    st.markdown(LINES_READING)
    metric = st.selectbox("Show", list(METRICS), key=METRIC_KEY, format_func=lambda m: METRICS[m][0])
    log = METRICS[metric][1]
    line_domain = finite_range(healths, metric) if log else _linear_range(results, metric)
    side_by_side(
        results,
        lambda result, i: st.altair_chart(lines(result, metric, line_domain, f"Run {names[i]}"), width="stretch"),
    )

    st.subheader("Activations at one epoch")
    st.markdown(HIST_READING)
    last = max(max(r.health.get("epochs", [0])) for r in results)
    epoch = st.slider("Epoch", 0, max(last, 1), value=0, key=EPOCH_KEY, disabled=last == 0)
    epoch = min(epoch, last)

    def draw_histograms(result: RunResult, i: int) -> None:
        chart = histograms(result, epoch, f"Run {names[i]}, epoch {epoch}")
        if chart is None:
            st.info("This network has no hidden layer: no activations to show.")
        else:
            st.altair_chart(chart)
        st.dataframe(stats_table(result, epoch), hide_index=True, width="stretch")

    side_by_side(results, draw_histograms)
    st.caption(STATS_READING)


def _linear_range(results: list[RunResult], metric: str) -> tuple[float, float] | None:
    values = pd.concat([layer_frame(r.health)[metric] for r in results]).dropna()
    return (0.0, float(values.max()) or 1.0) if not values.empty else None


def main() -> None:
    st.title(":material/monitoring: Gradient health")
    st.write(
        "Why does the naive sigmoid network not learn, why do some runs blow up, and what do ReLU, a good "
        "initialization and batch normalization change? Every run records, before training and after each "
        "epoch, how large the gradient is at each layer and what each layer outputs, on the same 256 "
        "training images. Pick two stored runs to compare them on the same scales."
    )
    queue_sidebar()
    runs = runs_with_health()
    train_pair_section(runs)
    runs = runs_with_health()  # the pair may just have been stored
    if not runs:
        st.info("No stored run has a gradient-health record yet: train the comparison pair above.")
        return
    run_a, run_b = pick_runs(runs)
    results = [r for r in (load(run_a), load(run_b)) if r is not None]
    if not results:
        st.error("The chosen runs could not be read from the run store: pick another one or train the pair again.")
        return
    show(results)


main()
