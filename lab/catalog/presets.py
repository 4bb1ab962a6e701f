"""Every experiment of the course as a named preset, and ``python -m lab pretrain``.

A preset is the course's experiment written as an ``ExperimentSpec``, with what
changed and why, the test accuracy the course reports, and the lesson it draws.
Specs are written for full MNIST, as the course ran them; ``get_preset`` swaps in
the data this machine has (``lab.data.sources.default_source()``: MNIST when cached,
else the offline 5,000-digit sample), and ``Preset.capped`` shortens a run for a
class that has minutes, not hours.

Series (see ``/work/shared/course/EXPERIMENTS.md``):

A  the "Advanced MLP" ablation (course files 000 and 001)
B  CS4487's lecture: widths, depth, CNNs, dropout, L2, augmentation (002)
C  Keras MLPs on full MNIST (003)
D  over-fitting on 500 images, then the improved network (004)

Each series where it makes sense ends with an "everything together" preset
(``together`` names the single-technique presets it should beat): the course's
closing question, "why not try them all together?".
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lab.architecture import validate_network
from lab.spec import Augmentation, ConvBlock, ExperimentSpec

CourseFigure = float | tuple[float, float] | None


@dataclass(frozen=True)
class Series:
    """One series of experiments, as the course runs them one after another."""

    key: str
    title: str
    source: str  # the course file(s) it comes from
    setup: str  # the shared settings, in words
    lesson: str  # what the series as a whole teaches


@dataclass(frozen=True)
class Preset:
    """One experiment of the course, ready to train.

    Attributes
    ----------
    name : str
        ``A1`` ... ``D5``.
    series : str
        ``A``, ``B``, ``C`` or ``D``.
    title : str
        A few words: "ReLU", "+ batch norm".
    spec : ExperimentSpec
        The run (for a soft-voting ensemble: its first member).
    change : str
        One line: what changed from the previous experiment and why.
    course_accuracy : float or (float, float) or None
        The course's test accuracy; a range when it reports several runs.
    lesson : str
        What the course concludes from it.
    course_train_accuracy : float or None
        The course's final training accuracy (series D reports it).
    course_params : int or None
        The parameter count in the course's ``model.summary()``.
    course_trainable : int or None
        Trainable parameters, where the course shows them apart.
    ensemble : int
        Above 0: soft voting over this many runs of ``spec`` with seeds
        ``spec.seed, spec.seed + 1, ...`` (course A7).
    together : tuple[str, ...]
        For an "everything together" preset: the single-technique presets it
        should beat.
    note : str
        Where our setting differs from the course's, and why.
    """

    name: str
    series: str
    title: str
    spec: ExperimentSpec
    change: str
    course_accuracy: CourseFigure
    lesson: str
    course_train_accuracy: float | None = None
    course_params: int | None = None
    course_trainable: int | None = None
    ensemble: int = 0
    together: tuple[str, ...] = ()
    note: str = ""

    @property
    def label(self) -> str:
        """``A3 · ReLU``."""
        return f"{self.name} · {self.title}"

    @property
    def course_epochs(self) -> int:
        """Epochs the course trained (an upper bound when it stopped early)."""
        return self.spec.epochs

    def member_specs(self) -> list[ExperimentSpec]:
        """The runs this preset needs: one spec, or one per ensemble member."""
        if not self.ensemble:
            return [self.spec]
        return [self.spec.replace(seed=self.spec.seed + i) for i in range(self.ensemble)]

    def with_data(self, data: str) -> Preset:
        """The same preset on another data source (``sample``, ``mnist`` ...)."""
        return dataclasses.replace(self, spec=self.spec.replace(data=data))

    def capped(self, epochs: int | None) -> Preset:
        """The same preset with at most ``epochs`` epochs (None or 0: the course's length)."""
        if not epochs or epochs >= self.spec.epochs:
            return self
        if epochs < 1:
            raise ValueError("The epochs cap must be at least 1 (or 0 for the course's length).")
        return dataclasses.replace(self, spec=self.spec.replace(epochs=int(epochs)))

    def course_figure_text(self) -> str:
        """The course's accuracy as text: ``92.08%`` or ``91.88–92.08%``."""
        return format_figure(self.course_accuracy)


def format_figure(figure: CourseFigure) -> str:
    """``0.9208`` -> ``92.08%``; ``(0.9188, 0.9208)`` -> ``91.88–92.08%``; None -> ``–``."""
    if figure is None:
        return "–"
    if isinstance(figure, tuple):
        return f"{figure[0]:.2%}–{figure[1]:.2%}"
    return f"{figure:.2%}"


def figure_high(figure: CourseFigure) -> float | None:
    """The best of the course's figures (the upper end of a range)."""
    if figure is None:
        return None
    return max(figure) if isinstance(figure, tuple) else float(figure)


# ---------------------------------------------------------------- series A
# Course 000/001: 784 -> 4 x Dense(50) -> 10, SGD lr=0.001, 100 epochs,
# validation_split=0.3 on 33% of the training set (train_test_split, random_state=7).
_A = ExperimentSpec(
    data="mnist",
    # A count, not 33%: on full MNIST it is the course's 19,800 images, and on the
    # 4,000-image offline sample it keeps every image instead of a third of them.
    train_subset=19_800,
    subset_mode="random",
    data_seed=7,
    val_split=0.3,
    val_mode="last",  # Keras' validation_split; the random subset is already shuffled
    # Notebooks 000/001 never divide by 255. Inputs 255 times larger are part of the lessons: they
    # saturate the first sigmoid layer, make plain SGD's first-layer steps 255 times larger, and
    # give batch normalization a real job.
    raw_pixels=True,
    hidden=(50, 50, 50, 50),
    activation="sigmoid",
    optimizer="sgd",
    learning_rate=0.001,
    batch_size=32,  # Keras' default, used from A2 on
    epochs=100,
    seed=7,
)
_A_ELU_ADAM = _A.replace(activation="elu", optimizer="adam")
_A_NOTE = "Raw 0-255 pixels, as the course fed them (no /255)."


SERIES: dict[str, Series] = {
    "A": Series(
        "A",
        "The Advanced-MLP ablation: one technique at a time",
        "000 + 001",
        "784 → 4 × Dense(50) → 10 softmax on raw 0-255 pixels, SGD lr 0.001, 100 epochs, 33% of the training "
        "set, 30% of it held out for validation (Keras' validation_split).",
        "A deep sigmoid network trained by plain SGD with a small learning rate does not learn: the gradient "
        "vanishes on its way down through four sigmoid layers and accuracy stays near chance (about 11%). "
        "A better initialization helps a little; ReLU fixes it at once; Adam, ELU and batch normalization add "
        "more; dropout only helps once there is over-fitting to fight. Then the course asks: why not try them all "
        "together?",
    ),
    "B": Series(
        "B",
        "CS4487: wider, deeper, convolutional, regularized",
        "002",
        "Every 10th training image (6,000 of MNIST), centered, a fixed 10% validation split, SGD with Nesterov "
        "momentum 0.9, batch 50, early stopping on validation accuracy (patience 5), seed 4487.",
        "More hidden units help a little, a second hidden layer a little more; convolutions that look at local "
        "strokes do better with fewer parameters, and dropout and data augmentation (shifted, rotated, noisy "
        "copies of the digits) push a small CNN past 98%.",
    ),
    "C": Series(
        "C",
        "Keras MLPs on full MNIST",
        "003",
        "All 60,000 training images scaled to [0, 1], batch 128, 20 epochs, validated on the test set.",
        "A softmax classifier reaches about 90%; two ReLU layers trained by Adam reach 98%; deeper networks need "
        "a careful initialization (N(0, √(2/fan_in))), batch normalization and dropout to gain the last half "
        "point, and each extra layer costs training time.",
    ),
    "D": Series(
        "D",
        "Over-fitting on 500 images, then the improved network",
        "004",
        "784 → Dense(30) → 10 on the first 500 training and first 100 test images, sigmoid outputs with mean "
        "squared error, SGD (lr 0.01), batch 5, 1,000 epochs; then all the data with tanh, softmax, "
        "cross-entropy and Adam.",
        "23,860 parameters for 500 images over-fit: training accuracy far above test accuracy. L2 and dropout "
        "trade training accuracy for test accuracy and shrink the gap; more data, tanh, softmax, cross-entropy "
        "and Adam fix it properly. Batch normalization speeds training but need not raise the final result, and "
        "it does not play nicely with dropout.",
    ),
}

_PRESETS: list[Preset] = [
    Preset(
        "A1",
        "A",
        "naive sigmoid + SGD",
        _A.replace(batch_size=256),
        "The naive model: sigmoid everywhere, plain SGD with lr 0.001, batch 256.",
        (0.1135, 0.2144),
        "Accuracy stays near chance: the model stops learning after about 45 epochs. The gradient vanishes "
        "through four saturating sigmoid layers (the vanishing gradient problem).",
        note=_A_NOTE,
    ),
    Preset(
        "A2",
        "A",
        "He initialization",
        _A.replace(initializer="he_normal"),
        "he_normal initial weights instead of Glorot's: larger starting weights keep the signal alive.",
        (0.4105, 0.4219),
        "The model keeps learning until the 100th epoch, but slowly: initialization alone is not enough.",
        note=_A_NOTE,
    ),
    Preset(
        "A3",
        "A",
        "ReLU",
        _A.replace(activation="relu"),
        "ReLU instead of sigmoid: its gradient is 1 for every active unit, so it does not vanish.",
        (0.9188, 0.9208),
        "Training and validation accuracy improve instantly, then plateau after about 30 epochs.",
        note=_A_NOTE,
    ),
    Preset(
        "A4",
        "A",
        "ELU + Adam",
        _A_ELU_ADAM,
        "ELU activations and the Adam optimizer (lr 0.001), which adapts each weight's step size "
        "(course 000 kept sigmoid with Adam: 92.48%).",
        0.9516,
        "Adam converges much faster than plain SGD; accuracy plateaus after about 50 epochs.",
        note=_A_NOTE,
    ),
    Preset(
        "A5",
        "A",
        "+ batch norm",
        _A_ELU_ADAM.replace(batchnorm="before"),
        "BatchNormalization between each Dense layer and its ELU (course 000 with sigmoid + SGD: 91.54%).",
        0.9643,
        "Normalizing each mini-batch keeps every layer in a good range: accuracy improves steadily, the best "
        "single change of the series.",
        note=_A_NOTE,
    ),
    Preset(
        "A6",
        "A",
        "+ dropout",
        _A_ELU_ADAM.replace(dropout=0.2),
        "Dropout(0.2) after each ELU instead of batch norm (course 000 with sigmoid + SGD: 11.35%).",
        0.9309,
        "Training and validation accuracy move together: dropout fights over-fitting, so it helps only once "
        "there is over-fitting to fight. On a model that does not learn (000's sigmoid + SGD) it makes things "
        "worse.",
        note=_A_NOTE,
    ),
    Preset(
        "A7",
        "A",
        "ensemble of 3 naive models",
        _A.replace(val_mode="test"),
        "Soft voting over 3 naive sigmoid + SGD models (default batch 32) trained on all 19,800 images with "
        "different seeds (scikit-learn's VotingClassifier).",
        0.3045,
        "A slight boost from the outset (0.2144 → 0.3045): averaging several models' probabilities is a reliable "
        "way to gain accuracy, though it cannot rescue models that barely learn.",
        ensemble=3,
        note=_A_NOTE + " Validation curves of these members show the test set (the course held nothing out).",
    ),
    Preset(
        "A8",
        "A",
        "everything together",
        _A_ELU_ADAM.replace(
            initializer="he_normal",
            batchnorm="before",
            dropout=0.05,
            early_stopping=20,
            es_monitor="val_accuracy",
            es_restore_best=True,
        ),
        "Every technique of the series at once: ELU, He initialization, Adam, batch norm, light dropout (0.05), "
        "early stopping (patience 20, best weights restored), and A7's soft vote over 3 seeds.",
        None,
        "Together they beat every single change, but not because each adds a little: on this narrow network "
        "(50 units a layer) dropout costs accuracy (as A6 shows) and early stopping gains little, while batch "
        "norm helps and averaging three models helps most. Try the members alone: each is about as good as A5.",
        ensemble=3,
        together=("A1", "A2", "A3", "A4", "A5", "A6", "A7"),
        note="Not in the course, which only asked the question. Dropout is kept light because every dropped unit "
        "of a 50-unit layer costs capacity (course 001's A6 lost 2 points to dropout 0.2); the ensemble is the "
        "course's own A7 technique, applied to good models instead of naive ones.",
    ),
]

# ---------------------------------------------------------------- series B
# Course 002: trainX = every 10th image, /255, minus the training mean;
# fixed validation split train_test_split(test_size=0.1, random_state=4487).
_B = ExperimentSpec(
    data="mnist",
    # Every 10th of 60,000 = 6,000 images; on the offline sample (4,000) every
    # image, where every 10th would leave 360 to train on.
    train_subset=6_000,
    subset_mode="every",
    center=True,
    val_split=0.1,
    val_mode="random",
    data_seed=4487,
    hidden=(50,),
    activation="relu",
    optimizer="sgd",
    learning_rate=0.1,
    momentum=0.9,
    nesterov=True,
    batch_size=50,
    epochs=100,
    early_stopping=5,
    es_monitor="val_accuracy",
    es_min_delta=1e-4,
    es_restore_best=False,  # Keras' EarlyStopping default, as the course used it
    seed=4487,
)
# The CNNs read the images scaled to [0, 1] but not centered (trainI = trainimg / 255).
_B_CNN = _B.replace(center=False, learning_rate=0.02)
_B7_CONV = (ConvBlock(10, 5, 2, "same"), ConvBlock(40, 5, 2, "same"), ConvBlock(80, 5, 1, "same"))
_B8_CONV = (*_B7_CONV[:2], dataclasses.replace(_B7_CONV[2], dropout=0.5))
_B9_CONV = (*_B7_CONV[:2], dataclasses.replace(_B7_CONV[2], l2=1e-4))
_B10_AUG = Augmentation(rotation=10, shift=0.2, shear=0.1, zoom=0.1)
_B_AUG_NOTE = (
    "Keras' ImageDataGenerator read shear_range=0.1 in degrees (almost no shear); our RandomShear reads 0.1 "
    "as a fraction, a stronger shear."
)

_PRESETS += [
    Preset(
        "B1",
        "B",
        "logistic regression",
        _B.replace(hidden=(), learning_rate=0.05),
        "No hidden layer: Dense(10, softmax) on the pixels is logistic regression (SGD lr 0.05).",
        (0.8890, 0.8921),
        "A linear model reaches about 89%; its 10 weight vectors, seen as 28x28 images, are blurry "
        "prototypes of each digit.",
        course_params=7_850,
    ),
    Preset(
        "B2",
        "B",
        "ReLU(50)",
        _B.replace(hidden=(50,)),
        "One hidden layer of 50 ReLU units (SGD lr 0.1): each unit learns a local stroke pattern.",
        0.9373,
        "The hidden units look for local structures (edges, curves); the output layer adds and subtracts them.",
        course_params=39_760,
    ),
    Preset(
        "B3",
        "B",
        "ReLU(200)",
        _B.replace(hidden=(200,)),
        "Four times wider: 200 hidden units.",
        (0.9431, 0.9434),
        "More units help a little.",
        course_params=159_010,
    ),
    Preset(
        "B4",
        "B",
        "ReLU(1000)",
        _B.replace(hidden=(1000,)),
        "1,000 hidden units: five times wider again.",
        (0.9453, 0.9454),
        "Width gives diminishing returns: five times the parameters for a fraction of a point.",
        course_params=795_010,
    ),
    Preset(
        "B5",
        "B",
        "ReLU(500) × 2",
        _B.replace(hidden=(500, 500)),
        "Two hidden layers of 500 instead of one wide layer.",
        (0.9517, 0.9523),
        "Depth helps more than width: slightly better with fewer parameters than ReLU(1000).",
        course_params=648_010,
    ),
    Preset(
        "B6",
        "B",
        "shallow CNN",
        _B_CNN.replace(conv=(ConvBlock(10, 5, 2, "same"),), hidden=(50,)),
        "One convolution layer (10 filters 5x5, stride 2) before Dense(50): filters look at local patches "
        "anywhere in the image (SGD lr 0.02, images not centered).",
        (0.9449, 0.9537),
        "The convolution filters are stroke detectors (corners, edges, lines) shared over the whole image.",
        course_params=98_820,
    ),
    Preset(
        "B7",
        "B",
        "deep CNN",
        _B_CNN.replace(conv=_B7_CONV, hidden=(50,)),
        "Three convolution layers (10, 40, 80 filters; strides 2, 2, 1) before Dense(50).",
        (0.9687, 0.9693),
        "For images a CNN works better than an MLP, with fewer parameters than the wide MLPs.",
        course_params=286_940,
    ),
    Preset(
        "B8",
        "B",
        "deep CNN + dropout",
        _B_CNN.replace(conv=_B8_CONV, hidden=(50,), dropout=0.5),
        "Dropout(0.5) after the last convolution and after Dense(50).",
        (0.9726, 0.9756),
        "Dropout trains a different thinned network each step, like an ensemble: accuracy improves.",
        course_params=286_940,
    ),
    Preset(
        "B9",
        "B",
        "deep CNN + L2",
        _B_CNN.replace(conv=_B9_CONV, hidden=(50,), l2=1e-4, l2_output=False),
        "L2 weight decay (1e-4) on the last convolution and Dense(50) instead of dropout.",
        0.9637,
        "Weight decay regularizes too, with about the same accuracy here.",
        course_params=286_940,
    ),
    Preset(
        "B10",
        "B",
        "+ augmentation",
        _B_CNN.replace(conv=_B8_CONV, hidden=(50,), dropout=0.5, augmentation=_B10_AUG),
        "B8 trained on randomly rotated (10°), shifted (20%), sheared and zoomed (10%) copies of the digits.",
        (0.9807, 0.9843),
        "Data augmentation makes the network invariant to small changes of the digits: accuracy increases.",
        course_params=286_940,
        note=_B_AUG_NOTE,
    ),
    Preset(
        "B11",
        "B",
        "+ pixel noise",
        _B_CNN.replace(
            conv=_B8_CONV,
            hidden=(50,),
            dropout=0.5,
            early_stopping=0,
            augmentation=dataclasses.replace(_B10_AUG, noise=0.05),
        ),
        "B10 plus Gaussian pixel noise (σ 0.05), without early stopping: the full 100 epochs.",
        (0.9851, 0.9911),
        "The data changes every epoch, so validation accuracy jumps around; training longer on noisy copies "
        "gives the best result of the series. This is the series' everything together: convolutions, dropout, "
        "augmentation and noise, each added in turn, beat every model before them.",
        course_params=286_940,
        together=tuple(f"B{i}" for i in range(1, 11)),
        note=_B_AUG_NOTE,
    ),
]

# ---------------------------------------------------------------- series C
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

_PRESETS += [
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

# ---------------------------------------------------------------- series D
# Course 004: x_train[0:500], x_test[0:100], Dense(30) sigmoid -> Dense(10) sigmoid,
# loss mean_squared_error, optimizer 'sgd' (Keras' default lr 0.01), batch 5, 1000 epochs.
_D = ExperimentSpec(
    data="mnist",
    train_subset=500,
    subset_mode="first",
    test_subset=100,
    val_mode="test",  # the course validated on nothing; curves show the 100 test images
    hidden=(30,),
    activation="sigmoid",
    output="sigmoid_mse",
    optimizer="sgd",
    learning_rate=0.01,
    batch_size=5,
    epochs=1000,
    seed=0,
)
_D_FULL = _D.replace(
    train_subset=1.0,
    test_subset=0,
    activation="tanh",
    output="softmax_ce",
    optimizer="adam",
    learning_rate=0.001,
    batch_size=100,
    epochs=100,
)
_D_NOTE = (
    "The course fed raw 0-255 pixels (no /255); we scale to [0, 1]. Its 'previous class' model D0 is rebuilt "
    "from the same settings without regularization."
)

_PRESETS += [
    Preset(
        "D0",
        "D",
        "over-fitting baseline",
        _D,
        "Dense(30) sigmoid, sigmoid outputs with mean squared error, SGD, 500 training images, 1,000 epochs.",
        0.62,
        "Training 84%, test 62%: 23,860 parameters for 500 images fit the noise of the training set (over-fitting).",
        course_train_accuracy=0.84,
        course_params=23_860,
        note=_D_NOTE,
    ),
    Preset(
        "D1",
        "D",
        "+ L2 (λ = 0.001)",
        _D.replace(l2=0.001, l2_output=True),
        "L2 penalty λ = 0.001 on the kernels of both layers: large weights cost loss.",
        0.78,
        "Regularization keeps the network from depending on a few weights: test accuracy rises from 62% to 78%.",
        course_train_accuracy=0.986,
        course_params=23_860,
        note=_D_NOTE,
    ),
    Preset(
        "D2",
        "D",
        "+ dropout (0.2)",
        _D.replace(dropout=0.2),
        "Dropout(0.2) after the hidden layer instead of L2: each step trains a random thinned network.",
        0.76,
        "Dropout trades training accuracy (81%) for test accuracy (76%): the gap shrinks.",
        course_train_accuracy=0.814,
        course_params=23_860,
        note=_D_NOTE,
    ),
    Preset(
        "D3",
        "D",
        "all data, tanh, softmax, Adam",
        _D_FULL,
        "All 60,000 images, tanh hidden units, softmax output with cross-entropy, Adam, 100 epochs of batch 100.",
        0.9295,
        "More data removes the over-fitting; tanh, cross-entropy and Adam learn faster: 93%.",
        course_train_accuracy=0.9338,
        course_params=23_860,
        note=_D_NOTE,
    ),
    Preset(
        "D4",
        "D",
        "+ batch norm",
        _D_FULL.replace(batchnorm="after"),
        "D3 with BatchNormalization after the hidden layer.",
        0.9300,
        "Batch normalization speeds up training but does not necessarily improve the final result (93% again).",
        course_train_accuracy=0.9318,
        note=_D_NOTE,
    ),
    Preset(
        "D5",
        "D",
        "500 images, everything together",
        _D.replace(
            activation="relu",
            initializer="he_normal",
            output="softmax_ce",
            optimizer="adam",
            learning_rate=0.001,
            batchnorm="before",
            dropout=0.3,
            val_mode="random",
            val_split=0.1,
            early_stopping=20,
            es_monitor="val_loss",
            es_restore_best=True,
            epochs=200,
        ),
        "Back to the 500 images: ReLU, He initialization, softmax with cross-entropy, Adam, batch norm, dropout "
        "0.3 and early stopping on 50 held-out images, with the best weights restored.",
        None,
        "On the same 500 images, the techniques together beat L2 or dropout alone; but more data (D3) still beats "
        "every trick.",
        together=("D0", "D1", "D2"),
        note="Not in the course. Early stopping needs a validation set that is not the test set, so this run "
        "trains on 450 of the 500 images. Compared with D0-D2, which use the same 500 images.",
    ),
]

_BY_NAME: dict[str, Preset] = {p.name: p for p in _PRESETS}


def _source(data: str | None) -> str:
    if data:
        return data
    from lab.data.sources import default_source

    return default_source()


def get_preset(name: str, data: str | None = None) -> Preset:
    """The preset called ``name`` (case-insensitive), on this machine's data.

    Parameters
    ----------
    name : str
        ``A1`` ... ``D5``.
    data : str, optional
        Data source for its spec; default ``lab.data.sources.default_source()``
        (MNIST when cached, else the offline sample).

    Raises
    ------
    ValueError
        For an unknown name; the message lists the presets.
    """
    preset = _BY_NAME.get(name.strip().upper())
    if preset is None:
        raise ValueError(f"Unknown preset '{name}'. Choose one of: {', '.join(_BY_NAME)}.")
    return preset.with_data(_source(data))


def list_presets(series: str | None = None, data: str | None = None) -> list[Preset]:
    """All presets in course order, or those of one series (``A``, ``B``, ``C``, ``D``).

    Raises
    ------
    ValueError
        For an unknown series.
    """
    if series is not None and series.upper() not in SERIES:
        raise ValueError(f"Unknown series '{series}'. Choose one of: {', '.join(SERIES)}.")
    source = _source(data)
    return [p.with_data(source) for p in _PRESETS if series is None or p.series == series.upper()]


def course_presets() -> list[Preset]:
    """The presets exactly as the course ran them (data ``mnist``, full length)."""
    return list(_PRESETS)


def resolve_presets(
    names: str | Sequence[str] | None = None, series: str | Sequence[str] | None = None, data: str | None = None
) -> list[Preset]:
    """Presets from a list of names (``"A1,A3"``) and/or series (``"A,D"``); neither: all of them.

    Raises
    ------
    ValueError
        For an unknown name or series.
    """
    wanted: list[Preset] = []
    for key in _split(series):
        wanted += list_presets(key, data)
    for name in _split(names):
        wanted.append(get_preset(name, data))
    if not _split(series) and not _split(names):
        wanted = list_presets(None, data)
    seen: set[str] = set()
    return [p for p in wanted if not (p.name in seen or seen.add(p.name))]


def _split(values: str | Sequence[str] | None) -> list[str]:
    if values is None:
        return []
    items = values.split(",") if isinstance(values, str) else [v for item in values for v in item.split(",")]
    return [item.strip() for item in items if item.strip()]


# ------------------------------------------------------------------ pretrain
def pretrain(
    presets: Sequence[Preset],
    store: Any = None,
    *,
    on_event: Callable[[str, Preset, ExperimentSpec, Any], None] | None = None,
) -> dict[str, list[Any]]:
    """Train every spec of ``presets`` into the store, skipping those already stored.

    Parameters
    ----------
    presets : sequence of Preset
        What to train (ensemble presets train all their members).
    store : RunStore, optional
        Default ``RunStore()`` (``$MLP_LAB_HOME`` or ``./runs``).
    on_event : callable, optional
        ``on_event(kind, preset, spec, payload)`` with kind ``skip`` (payload:
        the stored result), ``start`` (None), ``epoch`` (an EpochReport) or
        ``done`` (the result).

    Returns
    -------
    dict
        Preset name -> list of RunResult (one per member).
    """
    from lab.runs.store import RunStore

    store = store if store is not None else RunStore()
    notify = on_event or (lambda *args: None)
    results: dict[str, list[Any]] = {}
    for preset in presets:
        for spec in preset.member_specs():
            stored = store.get(spec)
            if stored is not None and not stored.stopped:
                notify("skip", preset, spec, stored)
                results.setdefault(preset.name, []).append(stored)
                continue
            from lab.nn.trainer import train

            notify("start", preset, spec, None)
            result = train(spec, on_epoch=lambda report, p=preset, s=spec: notify("epoch", p, s, report))
            store.save(result)
            notify("done", preset, spec, result)
            results.setdefault(preset.name, []).append(result)
    return results


def add_pretrain_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``pretrain`` on ``python -m lab``'s subcommands."""
    p = subparsers.add_parser(
        "pretrain",
        help="train course presets into the run store before class (stored ones are skipped)",
        description="Train presets into the run store so that pages show them at once. "
        "Examples: --series A   --presets A1,A3   --all   --series D --epochs 20",
    )
    p.add_argument("--series", help="one or more series, comma-separated: A, B, C, D")
    p.add_argument("--presets", help="preset names, comma-separated, e.g. A1,A3,B2")
    p.add_argument("--all", action="store_true", help="every preset")
    p.add_argument("--data", help="data source (default: MNIST when cached, else the offline sample)")
    p.add_argument("--epochs", type=int, default=0, help="cap each preset's epochs (0 = the course's length)")
    p.add_argument("--home", help="run store folder (default $MLP_LAB_HOME or ./runs)")
    p.add_argument("--list", action="store_true", help="list the presets and exit")
    return p


def run_pretrain(args: argparse.Namespace) -> int:
    """``pretrain``: train the chosen presets into the store with progress on stderr."""
    from lab.runs.store import RunStore

    if args.list:
        for preset in course_presets():
            print(f"{preset.name:4} {preset.title:32} {preset.course_figure_text():>14}  {preset.change}")
        return 0
    if not (args.series or args.presets or args.all):
        print("Say what to train: --series A, --presets A1,A3 or --all (see --list).", file=sys.stderr)
        return 2
    if args.epochs < 0:
        raise ValueError("--epochs must be 0 (the course's length) or more.")
    presets = [p.capped(args.epochs) for p in resolve_presets(args.presets, args.series, args.data)]
    for preset in presets:
        for spec in preset.member_specs():
            validate_network(spec)
    progress = PretrainProgress(sum(len(p.member_specs()) for p in presets))
    started = time.perf_counter()
    results = pretrain(presets, RunStore(args.home), on_event=progress)
    progress.finish()
    print(
        f"{len(presets)} presets ready in {time.perf_counter() - started:.0f} s "
        f"({progress.trained} trained, {progress.skipped} already stored):",
        file=sys.stderr,
    )
    for preset in presets:
        runs = results.get(preset.name, [])
        accs = ", ".join(f"{r.test_accuracy:.4f}" for r in runs)
        print(f"{preset.name:4} {preset.title:32} test accuracy {accs}  (course {preset.course_figure_text()})")
    return 0


@dataclass
class PretrainProgress:
    """One status line on stderr: ``[3/9] A3 ReLU  epoch 12/100  val_acc 0.91  ~20 s left``."""

    total: int
    done: int = 0
    trained: int = 0
    skipped: int = 0
    _last: float = field(default=0.0)

    def __call__(self, kind: str, preset: Preset, spec: ExperimentSpec, payload: Any) -> None:
        head = f"[{self.done + 1}/{self.total}] {preset.name} {preset.title}"
        if preset.ensemble:
            head += f" (seed {spec.seed})"
        if kind == "skip":
            self.done += 1
            self.skipped += 1
            self._line(f"{head}: already stored, test accuracy {payload.test_accuracy:.4f}", end=True)
        elif kind == "start":
            self._last = time.perf_counter()
            self._line(f"{head}: {spec.summary()} ...", end=not sys.stderr.isatty())
        elif kind == "epoch":
            now = time.perf_counter()
            # Twice a second on a terminal is plenty, even for 1,000 tiny epochs; a log gets a line every 10 s.
            interval = 0.5 if sys.stderr.isatty() else 10.0
            if now - self._last < interval:
                return
            self._last = now
            acc = payload.logs.get("val_accuracy", payload.logs.get("accuracy", float("nan")))
            self._line(f"{head}: epoch {payload.epoch}/{payload.epochs}  val_acc {acc:.4f}  ~{payload.eta:.0f} s left")
        elif kind == "done":
            self.done += 1
            self.trained += 1
            self._line(f"{head}: test accuracy {payload.test_accuracy:.4f} in {payload.train_seconds:.1f} s", end=True)

    def _line(self, text: str, end: bool = False) -> None:
        if sys.stderr.isatty():
            sys.stderr.write("\r\033[K" + text + ("\n" if end else ""))
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def finish(self) -> None:
        if sys.stderr.isatty():
            sys.stderr.write("\r\033[K")
