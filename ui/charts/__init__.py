"""The charts and pictures every page draws (shared by all pages).

- ``look``: sizes (normal and projector), colours, natural order;
- ``curves``: the one curve-chart builder (``curve_chart``), live and final;
- ``figures``: one network's output weights, confusion matrix, shifted digits, votes, answer;
- ``images``: pictures made of pixels (digits, weights, feature maps);
- ``network``: the layer table and the network figure;
- ``inside``: the network's inside at one moment of training, from a snapshot (``lab.nn.snapshots``):
  filters or kernels, feature maps, output weights, confusion matrix, dead and saturated units, the
  hidden-layer map (imported as ``from ui.charts import inside``).

The charts' names are offered here too (``from ui import charts``; ``charts.curve_chart``).
"""

from ui.charts.curves import (
    BEST_EPOCH_COLOR,
    CURVE_COLUMNS,
    LEGEND_MAX,
    LEGEND_WIDTH,
    MUTED_COLOR,
    MUTED_DASH,
    VALUE_FORMAT,
    YScale,
    chance_line,
    curve_chart,
    curve_row,
    curves_chart,
    history_rows,
    moved_moment,
    overlay_chart,
    overlay_frame,
)
from ui.charts.figures import (
    CONFUSION_TITLE,
    confusion_chart,
    ensemble_chart,
    output_weight_chart,
    probability_chart,
    shift_comparison_chart,
)
from ui.charts.look import (
    LINE_COLORS,
    METRIC_TITLES,
    NEUTRAL_BAR,
    NORMAL,
    PROJECTOR,
    RUN_DASHES,
    RUN_STYLE_WORDS,
    SPLIT_NAMES,
    TABLEAU_GREY,
    TRAIN_COLOR,
    VAL_COLOR,
    ChartT,
    Look,
    current_look,
    natural_key,
    natural_order,
    plot_height,
    styled,
    use_look,
)

__all__ = [
    "TRAIN_COLOR",
    "VAL_COLOR",
    "NEUTRAL_BAR",
    "SPLIT_NAMES",
    "METRIC_TITLES",
    "LINE_COLORS",
    "TABLEAU_GREY",
    "RUN_DASHES",
    "RUN_STYLE_WORDS",
    "Look",
    "NORMAL",
    "PROJECTOR",
    "use_look",
    "current_look",
    "ChartT",
    "styled",
    "plot_height",
    "natural_key",
    "natural_order",
    "CURVE_COLUMNS",
    "YScale",
    "MUTED_COLOR",
    "MUTED_DASH",
    "LEGEND_MAX",
    "LEGEND_WIDTH",
    "BEST_EPOCH_COLOR",
    "VALUE_FORMAT",
    "chance_line",
    "curve_row",
    "history_rows",
    "moved_moment",
    "curve_chart",
    "curves_chart",
    "overlay_frame",
    "overlay_chart",
    "output_weight_chart",
    "CONFUSION_TITLE",
    "confusion_chart",
    "shift_comparison_chart",
    "ensemble_chart",
    "probability_chart",
]
