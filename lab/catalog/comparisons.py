"""The classroom's gradient-health comparisons: pairs of course presets a class trains in a minute.

The Gradients page shows two runs side by side; these pairs are the ones that
make the point, on the offline sample: sigmoid against ReLU (vanishing
gradients), sigmoid against batch normalization, ReLU against ReLU with a
far too large step (exploding gradients), and that step without and with
gradient clipping (its cure).
"""

from __future__ import annotations

from lab.catalog.presets import get_preset
from lab.spec import ExperimentSpec

# Pairs a class can train in a minute on the offline sample: (first preset, second
# preset or a change to the first, what it shows).
COMPARISON_EPOCHS = 5
COMPARISONS: dict[str, tuple[str, str]] = {
    "A1 naive sigmoid vs A3 ReLU": ("A1", "A3"),
    "A1 naive sigmoid vs A5 batch norm": ("A1", "A5"),
    "A3 ReLU vs A3 with a far too large step": ("A3", "A3-exploding"),
    "A far too large step, without and with gradient clipping": ("A3-exploding", "A3-clipped"),
}
# A3 with SGD lr 0.5, momentum 0.9 and batch 256: on the 4,000-image sample its norms grow,
# then the loss explodes in the second epoch and most ReLU units die.
EXPLODING_CHANGES = {"initializer": "he_normal", "learning_rate": 0.5, "momentum": 0.9, "batch_size": 256}
# The same step with every gradient clipped to norm 1 (Keras' clipnorm): the cure the course names for it.
CLIPPED_CHANGES = {**EXPLODING_CHANGES, "clipnorm": 1.0}
VARIANTS = {"exploding": EXPLODING_CHANGES, "clipped": CLIPPED_CHANGES}
# Plain SGD's learning rate in the pairs. Scaled pixels make the first layer's steps 255 times smaller than the
# course's raw pixels did: at its 0.001, A3's ReLU network is at 18% test accuracy after five epochs, as stuck
# as the sigmoid one. At 0.1 (both runs) ReLU reaches about 90% in five epochs while A1 stays at chance.
PAIR_SGD_LEARNING_RATE = 0.1


def comparison_spec(name: str, epochs: int = COMPARISON_EPOCHS) -> ExperimentSpec:
    """A course preset (``A1``, ``A3``, ``A5``, ``A3-exploding`` or ``A3-clipped``) on the sample data, at most
    ``epochs`` long.

    Pixels are scaled to [0, 1] here, unlike the course's raw 0-255: raw pixels saturate the first sigmoid
    layer on their own, and this comparison isolates what the activation function does to the gradient.
    Plain SGD takes ``PAIR_SGD_LEARNING_RATE`` steps, so that in a few epochs ReLU shows that it learns.
    """
    base, _, variant = name.partition("-")
    spec = get_preset(base, data="sample").capped(epochs).spec.replace(raw_pixels=False)
    if spec.optimizer == "sgd":
        spec = spec.replace(learning_rate=PAIR_SGD_LEARNING_RATE)
    return spec.replace(**VARIANTS[variant]) if variant else spec


def comparison_pair(label: str, epochs: int = COMPARISON_EPOCHS) -> tuple[ExperimentSpec, ExperimentSpec]:
    """The two specs of one of ``COMPARISONS``."""
    first, second = COMPARISONS[label]
    return comparison_spec(first, epochs), comparison_spec(second, epochs)
