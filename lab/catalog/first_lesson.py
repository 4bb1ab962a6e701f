"""A first lesson in five steps, for the Home page's "Start here": train, break, diagnose, fix, draw.

Each step names the page it opens (``train``, ``gradients``, ``draw``) and, where
the page takes a setup from its link, the spec to open it with. The broken and the
fixed network differ only in the activation, and take the same plain SGD steps as
the Gradients page's pairs (``lab.catalog.comparisons``), so the class sees on the
Train page what the heatmap then explains.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.catalog.comparisons import PAIR_SGD_LEARNING_RATE
from lab.spec import ExperimentSpec

DEEP = (50, 50, 50, 50)  # four hidden layers, as the course's A series: deep enough for the gradient to vanish


@dataclass(frozen=True)
class Step:
    """One step of the route.

    Attributes
    ----------
    title : str
        What to do, in a few words (the link's label).
    page : str
        The page it opens: ``train``, ``gradients`` or ``draw``.
    spec : ExperimentSpec or None
        The setup the page opens with (None: the page has no setup in its link).
    what_to_see : str
        What the class should notice there.
    icon : str
        The link's icon.
    """

    title: str
    page: str
    spec: ExperimentSpec | None
    what_to_see: str
    icon: str


BROKEN = ExperimentSpec(hidden=DEEP, activation="sigmoid", optimizer="sgd", learning_rate=PAIR_SGD_LEARNING_RATE)
FIXED = BROKEN.replace(activation="relu")

START_HERE: tuple[Step, ...] = (
    Step(
        "Train the default network",
        "train",
        ExperimentSpec(),
        "784 → 128 ReLU units → 10, Adam, 10 epochs on the offline sample: press Train and watch both curves "
        "climb to about 93% in seconds.",
        ":material/model_training:",
    ),
    Step(
        "Break it: four sigmoid layers with plain SGD",
        "train",
        BROKEN,
        "The same digits, a deeper network of sigmoid units trained by plain SGD: accuracy stays at chance (10%) "
        "epoch after epoch. Why?",
        ":material/heart_broken:",
    ),
    Step(
        "See why on the Gradients page",
        "gradients",
        None,
        "Train the pair 'A1 naive sigmoid vs A3 ReLU': in the sigmoid network the first layer's gradient is 30 to "
        "100 times smaller than the output layer's (the gradient vanishes); with ReLU it reaches every layer.",
        ":material/monitoring:",
    ),
    Step(
        "Fix it: ReLU instead of sigmoid",
        "train",
        FIXED,
        "Only the activation changes: the same four layers and the same SGD now learn: about 90% in ten epochs.",
        ":material/build:",
    ),
    Step(
        "Draw a digit for your network",
        "draw",
        None,
        "Draw with the mouse and every stored model answers, the two you just trained among them.",
        ":material/draw:",
    ),
)
