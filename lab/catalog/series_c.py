"""Series C: Keras MLPs on full MNIST (course file 003)."""

from __future__ import annotations

from lab.catalog.lessons import BEATS, Claim
from lab.catalog.preset import Preset, Series
from lab.spec import ExperimentSpec

# Course 003: full MNIST /255, batch 128, 20 epochs, validation_data = test set.
_C = ExperimentSpec(
    data="mnist",
    val_mode="test",
    activation="relu",
    optimizer="adam",
    learning_rate=0.001,
    batch_size=128,
    epochs=20,
    seed=0,
)
_C_NOTE = "The extracted text reads batch_size = 156 (OCR noise); the original notebook uses 128."

SERIES = Series(
    "C",
    "Keras MLPs on full MNIST",
    "003",
    "All 60,000 training images scaled to [0, 1], batch 128, 20 epochs, validated on the test set.",
    "A softmax classifier reaches about 90%; two ReLU layers trained by Adam reach 98%; deeper networks need "
    "a careful initialization (N(0, √(2/fan_in))), batch normalization and dropout to gain the last half "
    "point, and each extra layer costs training time.",
    claims=(
        Claim("Two ReLU layers with Adam (C2) beat the softmax classifier (C1)", BEATS, "C2", "C1", value=0.02),
        Claim("The deep network with batch norm and dropout (C4) beats C2", BEATS, "C4", "C2", quick=False),
    ),
)


PRESETS: list[Preset] = [
    Preset(
        "C1",
        "C",
        "softmax classifier",
        _C.replace(hidden=(), optimizer="sgd", learning_rate=0.01),
        "Dense(10, softmax) on the pixels, trained with Keras' plain 'sgd' (lr 0.01).",
        0.9051,
        "A linear softmax classifier reaches about 90%: the baseline every network must beat.",
        course_params=7_850,
        note=_C_NOTE,
    ),
    Preset(
        "C2",
        "C",
        "ReLU(556, 156) + Adam",
        _C.replace(hidden=(556, 156), initializer="random_normal", init_stddev=0.1),
        "Two ReLU layers (556, 156), weights from N(0, 0.1), trained with Adam.",
        0.9802,
        "Two hidden ReLU layers and Adam gain 8 points; the training loss keeps falling below the validation "
        "loss, a first sign of over-fitting.",
        course_params=524_922,
        note=_C_NOTE + " The course left the output layer at Keras' default initializer; ours uses N(0, 0.1) too.",
    ),
    Preset(
        "C3",
        "C",
        "3 layers + BN + dropout",
        _C.replace(hidden=(580, 325, 125), initializer="course_normal", batchnorm="after", dropout=0.5),
        "Three ReLU layers (580, 325, 125) with N(0, √(2/fan_in)) weights, each followed by batch norm and "
        "Dropout(0.5).",
        0.9837,
        "A deeper network needs the right initialization scale, batch norm and dropout to train well and not "
        "over-fit; it gains a little and costs about twice the time per epoch.",
        course_params=690_255,
        course_trainable=688_195,
        note=_C_NOTE
        + " The course's output layer kept Keras' default initializer; ours uses the same N(0, √(2/fan_in)).",
    ),
    Preset(
        "C4",
        "C",
        "5 layers + BN + dropout",
        _C.replace(hidden=(658, 525, 410, 350, 150), initializer="course_normal", batchnorm="after", dropout=0.5),
        "Five ReLU layers (658, 525, 410, 350, 150), each with batch norm and Dropout(0.5).",
        0.9846,
        "Twice the depth for a tenth of a point: returns diminish, and training takes about three times as long as C2.",
        course_params=1_284_547,
        course_trainable=1_280_361,
        note=_C_NOTE,
    ),
]
