"""Gradient health: vanishing and exploding gradients, layer by layer and epoch by epoch, for two runs side by side."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from lab.analysis.diagnosis import health_reading
from lab.catalog.comparisons import COMPARISON_EPOCHS, COMPARISONS, comparison_pair
from lab.health.readings import finite_range, recording_overhead
from lab.nn.result import RunResult
from lab.reports.labels import run_help, run_labels
from lab.runs.queries import estimate_seconds
from lab.runs.store import RunInfo
from lab.spec import ExperimentSpec
from ui.app.display import projector_toggle
from ui.app.jobs import (
    duration_text,
    in_turn_active,
    queue_sidebar,
    request_in_turn,
    show_run_warnings,
    train_in_turn,
    trained_just_now,
)
from ui.app.navigation import ensure_app_navigation
from ui.app.state import get_store
from ui.app.text import plain
from ui.gradients.health_charts import METRICS, heatmap, histograms, linear_range, lines, stats_table

ensure_app_navigation()

RUN_A_KEY = "grad_run_a"
RUN_B_KEY = "grad_run_b"
PAIR_KEY = "grad_pair"
TRAIN_KEY = "grad_train_pair"
PAIR_RUN_KEY = "grad_pair_run"  # the pair being trained, one run after the other
PAIR_OPEN_KEY = "grad_pair_open"
EPOCH_KEY = "grad_epoch"
METRIC_KEY = "grad_metric"
NO_RUN = ""
MAX_RUN_CHOICES = 50  # the newest runs with a health record offered (a class's store holds thousands)
ESTIMATE_RUNS = 200  # the newest runs a training time is judged by

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
    """Stored runs that have a gradient-health record: the newest ``MAX_RUN_CHOICES``, the course pair, the chosen."""
    preferred = [spec.run_id for spec in comparison_pair(next(iter(COMPARISONS)))]
    chosen = [st.session_state.get(RUN_A_KEY), st.session_state.get(RUN_B_KEY)]
    return get_store().runs_with_health(MAX_RUN_CHOICES, including=[*preferred, *(c for c in chosen if c)])


def load(run_id: str) -> RunResult | None:
    """A stored run with its health record, or None."""
    if not run_id:
        return None
    result = get_store().get(run_id)
    return result if result is not None and result.health else None


def short_name(result: RunResult) -> str:
    """A run in plain words, with its test accuracy: the words beside a chart agree with its numbers."""
    accuracy = "diverged" if result.diverged else f"{result.test_accuracy:.1%} test accuracy"
    return f"{result.spec.describe()} · {accuracy}"


# ------------------------------------------------------------------ readings
def overhead_caption(result: RunResult) -> str:
    """How much recording cost this run, as measured when it trained."""
    health = result.health
    seconds = health.get("record_seconds")
    share = recording_overhead(health, result.train_seconds)
    if seconds is None or share is None:
        return "Recording cost: not measured."
    return (
        f"Recording the health took {duration_text(seconds)} of this run's {duration_text(result.train_seconds)} "
        f"of training ({share:.0%} longer than without it), on a probe of {health.get('probe_size', '?')} "
        "training images."
    )


def pair_text(specs: list[ExperimentSpec]) -> str:
    """What training the pair takes: its images and epochs, and a time only where this machine measured one."""
    counts = {spec.subset_count() for spec in specs}
    images = f"the {counts.pop():,} training images" if len(counts) == 1 and None not in counts else "the images"
    text = f"Two course presets, {COMPARISON_EPOCHS} epochs each on {images} of the offline sample"
    estimate = estimate_seconds(specs, get_store().recent(ESTIMATE_RUNS))
    if estimate is not None:
        seconds, judged = estimate
        text += f": about {duration_text(seconds)} here, judging by the {judged} stored runs of its kind"
    return text + ". Runs already stored are shown at once."


# ------------------------------------------------------------------ sections
def train_pair_section(runs: list[RunInfo]) -> None:
    """Train (or fetch) a quick comparison pair of course presets on the sample data, one run after the other."""
    # Kept open once a pair was asked for here, so that its progress and outcome stay in view.
    with st.expander("Train a comparison pair on the sample data", expanded=not runs or PAIR_RUN_KEY in st.session_state
                     or st.session_state.get(PAIR_OPEN_KEY, False)):  # fmt: skip
        pair = st.radio("Pair", list(COMPARISONS), key=PAIR_KEY)
        try:
            specs = comparison_pair(pair)
        except (ValueError, KeyError) as exc:
            st.error(f"This pair cannot be built: {plain(exc)}")
            return
        st.write(pair_text(specs))
        asked = st.session_state.get(PAIR_RUN_KEY) == pair
        running = in_turn_active(PAIR_RUN_KEY, pair, specs)
        if st.button("Train this pair", key=TRAIN_KEY, type="primary", disabled=running):
            request_in_turn(PAIR_RUN_KEY, pair)
            st.session_state[PAIR_OPEN_KEY] = running = True
        results = [get_store().get(spec) for spec in specs]
        if running:
            # One run per page run: following it ends in a rerun, which trains the next.
            names = [f"run {name} ({spec.summary()})" for name, spec in zip("AB", specs, strict=True)]
            train_in_turn(specs, names, PAIR_RUN_KEY, st.empty(), key_prefix="grad-pair-")
        elif all(r is not None for r in results):
            if asked:
                # The pair just finished: show it, setting the pickers before they are drawn.
                st.session_state[RUN_A_KEY] = results[0].run_id
                st.session_state[RUN_B_KEY] = results[1].run_id
            trained = all(trained_just_now(r) for r in results)
            st.caption(
                ("Trained just now and stored: " if trained else "Stored: ")
                + " · ".join(f"{short_name(r)} ({duration_text(r.train_seconds)})" for r in results)
            )


def pick_runs(runs: list[RunInfo]) -> tuple[str, str]:
    """Two selectboxes of stored runs (the second may be empty)."""
    ids = [info.run_id for info in runs]
    labels = run_labels(runs)
    labels[NO_RUN] = "— none —"
    # First visit: the course's A1 / A3 pair when stored, else the two newest runs.
    preferred = [spec.run_id for spec in comparison_pair(next(iter(COMPARISONS)))]
    defaults = preferred if all(p in ids for p in preferred) else [*ids[:2], NO_RUN][:2]
    for key, fallback in zip((RUN_A_KEY, RUN_B_KEY), defaults, strict=True):
        if st.session_state.get(key) not in [*ids, NO_RUN]:
            st.session_state[key] = fallback
    # One above the other: each run's whole description fits on one line.
    by_id = {info.run_id: info for info in runs}

    def compact(key: str) -> str | None:
        info = by_id.get(st.session_state.get(key, NO_RUN))
        return f"Compact: {run_help(info)}" if info is not None else None

    run_a = st.selectbox("Run A", ids, key=RUN_A_KEY, format_func=labels.get, help=compact(RUN_A_KEY))
    run_b = st.selectbox("Run B", [NO_RUN, *ids], key=RUN_B_KEY, format_func=labels.get, help=compact(RUN_B_KEY))
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
        st.markdown(f"**Run {names[i]}** · {plain(short_name(result))}")  # names an idx: folder
        title = f"Run {names[i]}: gradient norm"  # short enough for half a projected page; the rest in a subtitle
        st.altair_chart(heatmap(result, domain, title), width="stretch")
        show_run_warnings(result)
        st.markdown(health_reading(result.health, result.diverged, result.history))
        st.caption(overhead_caption(result))

    side_by_side(results, draw_heatmap)

    st.subheader("Per layer over epochs")
    st.markdown(LINES_READING)
    metric = st.selectbox("Show", list(METRICS), key=METRIC_KEY, format_func=lambda m: METRICS[m][0])
    log = METRICS[metric][1]
    line_domain = finite_range(healths, metric) if log else linear_range(results, metric)
    side_by_side(
        results,
        lambda result, i: st.altair_chart(
            lines(result, metric, line_domain, f"Run {names[i]}"),
            width="stretch",
        ),
    )

    st.subheader("Activations at one epoch")
    st.markdown(HIST_READING)
    last = max(max(r.health.get("epochs", [0])) for r in results)
    epoch = st.slider("Epoch", 0, max(last, 1), value=0, key=EPOCH_KEY, disabled=last == 0)
    epoch = min(epoch, last)

    def draw_histograms(result: RunResult, i: int) -> None:
        layers = histograms(result, epoch, f"Run {names[i]}, epoch {epoch}")
        if not layers:
            st.info("This network has no hidden layer: no activations to show.")
        for chart in layers:
            st.altair_chart(chart, width="stretch")

    side_by_side(results, draw_histograms)
    # The numbers below the pictures, each run's table across the whole width: every column shows.
    for i, result in enumerate(results):
        st.markdown(f"**Run {names[i]}, epoch {epoch}**: each layer's numbers")
        st.table(stats_table(result, epoch), hide_index=True)
    st.caption(STATS_READING)


def main() -> None:
    projector_toggle()
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
