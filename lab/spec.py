"""The experiment spec: one frozen, hashable description of a training run.

Everything that changes what a run learns lives here, seed included, so that
the spec's hash can name the run in the cache and on disk. The hash is taken
over the fields that differ from their defaults: adding a new field with a
default later leaves every stored run's name unchanged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lab.setting import SETTING, Requires, Search, Setting, Widget, described

ACTIVATIONS = ("sigmoid", "tanh", "relu", "elu", "selu", "leaky_relu", "softplus", "linear")
INITIALIZERS = (
    "glorot_uniform",  # Keras' default
    "glorot_normal",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "random_normal",  # N(0, init_stddev), as in course C2
    "course_normal",  # N(0, sqrt(2 / fan_in)), untruncated, as in course C3
)
OPTIMIZERS = ("sgd", "adam", "rmsprop", "adagrad")
BATCHNORM = ("none", "before", "after")  # before: Dense -> BN -> act (A5); after: Dense -> act -> BN (C3)
OUTPUTS = ("softmax_ce", "sigmoid_mse")  # softmax + cross-entropy, or sigmoid + MSE (SciNet lecture)
SUBSET_MODES = ("random", "every", "first")
VAL_MODES = ("random", "last", "test")  # "last" = Keras' validation_split; "test" = validate on the test set
MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")
PADDINGS = ("same", "valid")

_DEFAULT_STDDEV = 0.05
_CLASSES = 10  # digits (lab.architecture.NUM_CLASSES, which imports this module): a subset keeps one of each
MAX_FILTERS = 1024  # a conv block's kernels: the course's largest has 80
AUG_PREFIX = "aug_"  # augmentation's settings are keyed aug_rotation, aug_shift ...

# How the controls name the choices.
SOURCE_NAMES = {
    "sample": "MNIST sample (5,000)",
    "mnist": "MNIST (70,000)",
    "fashion": "Fashion-MNIST (70,000)",
    "idx": "IDX files in a folder",
}
BATCHNORM_NAMES = {"none": "off", "before": "before the activation", "after": "after the activation"}
OUTPUT_NAMES = {"softmax_ce": "softmax + cross-entropy", "sigmoid_mse": "sigmoid + squared error"}
MONITOR_NAMES = {
    "val_loss": "validation loss",
    "val_accuracy": "validation accuracy",
    "loss": "training loss",
    "accuracy": "training accuracy",
}
VAL_MODE_NAMES = {"random": "random, stratified", "last": "last images (Keras)", "test": "the test set"}
# Training images of each source whose size is known before it is read (the sample's split is fixed:
# 5,000 digits less 1,000 for testing). tests/test_data.py checks each against the source itself.
SOURCE_TRAIN_IMAGES = {"sample": 4_000, "mnist": 60_000, "fashion": 60_000}
SUBSET_MODE_NAMES = {"random": "random, stratified", "every": "every k-th image", "first": "the first images"}
# What each output choice puts on the last layer, and the loss it trains with (Keras' names).
OUTPUT_ACTIVATIONS = {"softmax_ce": "softmax", "sigmoid_mse": "sigmoid"}
OUTPUT_LOSSES = {"softmax_ce": "categorical_crossentropy", "sigmoid_mse": "mean_squared_error"}
# How describe() names the choices: as a teacher says them.
_ACTIVATION_WORDS = {"relu": "ReLU", "elu": "ELU", "selu": "SELU", "leaky_relu": "leaky ReLU"}
_OPTIMIZER_WORDS = {"sgd": "SGD", "adam": "Adam", "rmsprop": "RMSprop", "adagrad": "Adagrad"}
_INITIALIZER_WORDS = {
    "glorot_normal": "Glorot normal",
    "he_normal": "He",
    "he_uniform": "He uniform",
    "lecun_normal": "LeCun",
    "course_normal": "N(0, √(2/fan_in))",
}


@dataclass(frozen=True)
class ConvBlock:
    """One convolution block placed before the dense layers.

    Parameters
    ----------
    filters : int
        Number of convolution kernels.
    kernel_size : int
        Side of the square kernel.
    strides : int
        Step between two kernel positions.
    padding : str
        ``"same"`` keeps the image size (divided by the stride), ``"valid"`` shrinks it.
    pool : int
        Side of a max-pooling window after the activation, 0 for none.
    dropout : float
        Dropout rate after the block (course B8 drops after the last conv).
    l2 : float
        L2 penalty on this block's kernel (course B9 puts it on the last conv only).
    """

    filters: int = 32
    kernel_size: int = 3
    strides: int = 1
    padding: str = "same"
    pool: int = 0
    dropout: float = 0.0
    l2: float = 0.0

    def token(self) -> str:
        """The block in the lab's one conv notation, e.g. ``10x5s2`` or ``40x3s1vp2d0.25l0.0001``.

        ``FILTERSxKERNELsSTRIDE``, then ``v`` for valid padding, ``pN`` for pooling,
        ``dRATE`` for dropout and ``lPENALTY`` for L2, each only when set. Links,
        summaries and the command line all write blocks this way.
        """
        token = f"{self.filters}x{self.kernel_size}s{self.strides}"
        token += "v" if self.padding == "valid" else ""
        token += f"p{self.pool}" if self.pool else ""
        token += f"d{self.dropout:g}" if self.dropout else ""
        token += f"l{self.l2!r}" if self.l2 else ""
        return token

    @classmethod
    def from_token(cls, token: str) -> ConvBlock:
        """Read a block written by ``token()``.

        Raises
        ------
        ValueError
            When the text is not in the conv notation; the message shows it.
        """
        match = _CONV_TOKEN.fullmatch(token.strip())
        if not match:
            raise ValueError(
                f"'{token}' is not a conv block: write FILTERSxKERNELsSTRIDE, e.g. 10x5s2, "
                "optionally followed by v, p2, d0.5, l0.0001"
            )
        filters, kernel, strides, valid, pool, dropout, l2 = match.groups()
        return cls(
            filters=int(filters),
            kernel_size=int(kernel),
            strides=int(strides),
            padding="valid" if valid else "same",
            pool=int(pool or 0),
            dropout=float(dropout or 0.0),
            l2=float(l2 or 0.0),
        )


# filters x kernel s stride, [v]alid padding, [p]ool, [d]ropout, [l]2
_CONV_TOKEN = re.compile(r"(\d+)x(\d+)s(\d+)(v?)(?:p(\d+))?(?:d([\d.eE-]+?))?(?:l([\d.eE+-]+))?")


@dataclass(frozen=True)
class Augmentation:
    """Random changes to training images, applied in training only.

    Parameters
    ----------
    rotation : float
        Largest rotation in degrees (course B10: 10).
    shift : float
        Largest shift as a fraction of the image side (B10: 0.2).
    shear : float
        Largest horizontal shear as a fraction (B10: 0.1; ImageDataGenerator read it in degrees).
    zoom : float
        Largest zoom in or out as a fraction (B10: 0.1).
    noise : float
        Standard deviation of Gaussian pixel noise (B11: 0.05).
    elastic : float
        Elastic distortion strength alpha in pixels (Simard et al. 2003 used 34, with a
        field smoothed over 4 pixels: pixels move about 1.4 px), 0 for none.
    """

    rotation: float = described(
        0.0,
        label="Rotation",
        help="Turn each training digit by a random angle up to this (B10: 10°).",
        cli="augmentation: largest rotation in degrees",
        group="augmentation",
        widget=Widget("slider", label="Rotation (degrees)", low=0.0, high=45.0, step=1.0),
        bounds=(0, 180),
    )
    shift: float = described(
        0.0,
        label="Shift",
        help="Move it up to this share of 28 pixels in x and y (B10: 0.2).",
        cli="augmentation: largest shift, a fraction of the image side",
        group="augmentation",
        widget=Widget("slider", label="Shift (share of the side)", low=0.0, high=0.3, step=0.01),
        bounds=(0, 1),
    )
    shear: float = described(
        0.0,
        label="Shear",
        help="Slant it sideways by up to this fraction (B10: 0.1).",
        cli="augmentation: largest shear, a fraction",
        group="augmentation",
        widget=Widget("slider", low=0.0, high=0.5, step=0.01),
        bounds=(0, 1),
    )
    zoom: float = described(
        0.0,
        label="Zoom",
        help="Enlarge or shrink it by up to this fraction, each axis on its own (B10: 0.1).",
        cli="augmentation: largest zoom in or out, a fraction",
        group="augmentation",
        widget=Widget("slider", low=0.0, high=0.3, step=0.01),
        bounds=(0, 1),
    )
    noise: float = described(
        0.0,
        label="Pixel noise",
        help="Add Gaussian noise of this standard deviation to every pixel (B11: 0.05).",
        cli="augmentation: standard deviation of Gaussian pixel noise",
        group="augmentation",
        widget=Widget("slider", label="Pixel noise (σ)", low=0.0, high=0.5, step=0.01),
        bounds=(0, 10),
    )
    elastic: float = described(
        0.0,
        label="Elastic distortion",
        help=(
            "Bend it like a rubber sheet: a smooth random displacement field (σ 4 px) times α. Simard et al. "
            "(2003), the classic MNIST augmentation, used α 34."
        ),
        cli="augmentation: elastic distortion strength in pixels",
        group="augmentation",
        widget=Widget("slider", label="Elastic distortion (α)", low=0.0, high=60.0, step=1.0),
        bounds=(0, 1_000),
    )

    @property
    def active(self) -> bool:
        """Whether any augmentation is switched on."""
        return any(getattr(self, f.name) > 0 for f in dataclasses.fields(self))


@dataclass(frozen=True)
class ExperimentSpec:
    """Everything that defines one training run.

    Defaults describe a small ReLU network on the offline sample, trained with Adam.
    Construct with keyword arguments; ``validate()`` checks the values and
    ``run_id`` names the run.
    """

    # --- data -----------------------------------------------------------------
    data: str = described(
        "sample",
        label="Data",
        help=(
            "Which images to learn from: the MNIST sample (5,000 real digits that ship with the lab, offline), "
            "full MNIST, Fashion-MNIST, or your own IDX files."
        ),
        cli="sample, mnist, fashion or idx:DIR",
        group="data",
        widget=Widget("custom", names=SOURCE_NAMES),
        flag="",
    )
    train_subset: float = described(  # <= 1: fraction of the training set; > 1: number of images
        1.0,
        label="Training images",
        help="Train on only part of the training images: fewer images train faster but the network over-fits sooner.",
        cli="fraction (<=1) or number of training images",
        group="data",
        widget=Widget("steps", options=(0.01, 0.02, 0.05, 0.1, 0.2, 0.33, 0.5, 1.0), fmt="percent"),
        bounds=(0, 10_000_000),
    )
    subset_mode: str = described(
        "random",
        label="Picked",
        help=(
            "How the part is picked: at random with the same share of each digit, every k-th image, or the first ones."
        ),
        cli="how the subset is picked: " + ", ".join(SUBSET_MODES),
        group="data",
        widget=Widget("select", options=SUBSET_MODES, names=SUBSET_MODE_NAMES),
        choices=SUBSET_MODES,
    )
    test_subset: int = described(
        0,
        label="Test images",
        help="Evaluate on only the first N test images (0 = all of them).",
        cli="first N test images (0 = all)",
        group="data",
        widget=Widget("number", label="Test images (0 = all)", low=0, step=100),
        bounds=(0, 10_000_000),
    )
    val_split: float = described(
        0.1,
        label="Validation share",
        help=(
            "The share of training images kept aside to check, after each epoch, how well the network does on "
            "images it never trains on."
        ),
        cli="validation fraction",
        group="data",
        widget=Widget("steps", options=(0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5), fmt="percent"),
        requires=Requires("val_mode", ("random", "last")),
        bounds=(0, 1),
    )
    val_mode: str = described(
        "random",
        label="Validation images",
        help=(
            "Random keeps each digit's share; 'last' copies Keras' validation_split (the last images, unshuffled); "
            "'test' validates on the test set."
        ),
        cli="random, last (Keras' validation_split) or test",
        group="data",
        widget=Widget("select", options=VAL_MODES, names=VAL_MODE_NAMES),
        choices=VAL_MODES,
    )
    center: bool = described(
        False,
        label="Center the pixels",
        help=(
            "Subtract the average training image from every image, so that pixels vary around zero, which often "
            "speeds up learning."
        ),
        cli="subtract the training mean",
        group="data",
        widget=Widget("checkbox", label="Center the pixels (subtract the mean image)"),
    )
    raw_pixels: bool = described(
        False,
        label="Raw pixels",
        help=(
            "Feed the pixels as stored, 0 to 255, instead of scaled to 0-1: what course notebooks 000, 001 and 004 "
            "did. Inputs 255 times larger make plain SGD take 255 times larger steps in the first layer, sigmoid "
            "units saturate, and batch normalization has real work to do."
        ),
        cli="feed 0-255 pixels unscaled, as course notebooks 000, 001 and 004",
        group="data",
        widget=Widget("checkbox", label="Raw 0-255 pixels (no scaling, as the course's notebooks 000, 001, 004)"),
    )
    data_seed: int = described(  # fixes subset and validation split, so runs with other seeds see the same data
        0,
        label="Data seed",
        help="Fixes which images are kept and which validate, so that runs with different seeds see the same data.",
        cli="seed of the subset and the validation split",
        group="data",
        widget=Widget("number", low=0, step=1),
        bounds=(0, 2**32 - 1),
    )
    # --- model ----------------------------------------------------------------
    conv: tuple[ConvBlock, ...] = described(
        (),
        label="Convolution blocks",
        help="Conv layers before the dense layers; 0 makes this an MLP.",
        cli="conv blocks before the dense layers, e.g. 10x5s2,40x5s2p2 (none: no conv)",
        group="model",
        widget=Widget("custom"),
        bounds=(0, 3),
    )
    hidden: tuple[int, ...] = described(  # widths of the hidden Dense layers; () = logistic regression
        (128,),
        label="Hidden layers",
        help="Layers of units between the pixels and the ten outputs; 0 hidden layers is logistic regression.",
        cli="comma-separated hidden widths, empty or none for none",
        group="model",
        widget=Widget("custom", options=(2, 5, 10, 20, 30, 50, 64, 100, 128, 200, 256, 500, 1000, 2000)),
        bounds=(0, 6),
    )
    activation: str = described(
        "relu",
        label="Activation",
        help=(
            "The function each unit applies to its weighted sum: ReLU keeps gradients alive, sigmoid and tanh "
            "squash them and can make deep networks stall."
        ),
        cli=", ".join(ACTIVATIONS),
        group="model",
        widget=Widget("select", options=ACTIVATIONS),
        choices=ACTIVATIONS,
        search=Search(picked=("relu", "tanh")),
    )
    initializer: str = described(
        "glorot_uniform",
        label="Weight initializer",
        help=(
            "How the weights are drawn before training: scaled schemes (Glorot, He) keep signals from vanishing "
            "or exploding through the layers."
        ),
        cli="kernel initializer: " + ", ".join(INITIALIZERS),
        group="model",
        widget=Widget("select", options=INITIALIZERS),
        choices=INITIALIZERS,
        search=Search(picked=("glorot_uniform", "he_normal"), label="Initializer"),
        flag="--init",
    )
    init_stddev: float = described(
        _DEFAULT_STDDEV,
        label="Initial weights' spread",
        help="Spread of the normal distribution the initial weights are drawn from.",
        cli="standard deviation of the random_normal initializer",
        group="model",
        widget=Widget(
            "steps",
            label="Initial weights' standard deviation",
            options=(0.01, 0.05, 0.1, 0.5, 1.0),
            hide_when_off=True,
        ),
        requires=Requires("initializer", ("random_normal",)),
        reset=True,
        bounds=(0, 10),
    )
    batchnorm: str = described(
        "none",
        label="Batch normalization",
        help=(
            "Batch normalization rescales each layer's outputs to mean 0 and spread 1 on every batch, which "
            "speeds up and steadies training."
        ),
        cli=", ".join(BATCHNORM) + " (the activation)",
        group="model",
        widget=Widget("select", options=BATCHNORM, names=BATCHNORM_NAMES),
        choices=BATCHNORM,
        search=Search(picked=BATCHNORM, label="Batch norm"),
    )
    dropout: float = described(  # after each hidden activation
        0.0,
        label="Dropout rate",
        help=(
            "During training, switch off this share of the hidden units at random, so that no unit can rely on "
            "another: fights over-fitting."
        ),
        cli="dropout rate after each hidden activation",
        group="model",
        widget=Widget("slider", low=0.0, high=0.9, step=0.05),
        search=Search(0.0, 0.5, ticked=True, label="Dropout"),
        bounds=(0, 1),
    )
    l2: float = described(  # on the Dense kernels
        0.0,
        label="L2 penalty",
        help=(
            "Add the sum of squared weights times this number to the loss, pulling weights toward zero: a simpler "
            "network over-fits less."
        ),
        cli="L2 penalty on the kernels",
        group="model",
        widget=Widget("steps", options=(0.0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1), fmt="off_g"),
        search=Search(1e-6, 1e-2, log=True, label="L2 (log range)"),
        bounds=(0, 10),
    )
    l2_output: bool = described(  # course D1 yes, B9 no
        True,
        label="L2 on the output",
        help="Also apply the L2 penalty to the output layer's weights.",
        cli="L2 also on the output layer's kernel",
        group="model",
        widget=Widget("checkbox", label="L2 on the output layer too"),
        requires=Requires("l2"),
    )
    output: str = described(
        "softmax_ce",
        label="Output and loss",
        help=(
            "Softmax with cross-entropy (the modern choice) or sigmoid outputs with mean squared error (the older "
            "textbook network)."
        ),
        cli=" or ".join(OUTPUTS),
        group="model",
        widget=Widget("select", options=OUTPUTS, names=OUTPUT_NAMES),
        choices=OUTPUTS,
    )
    augmentation: Augmentation = field(default_factory=Augmentation)  # its fields describe themselves
    # --- training -------------------------------------------------------------
    optimizer: str = described(
        "adam",
        label="Optimizer",
        help=(
            "The rule that turns gradients into weight updates: SGD takes plain steps, Adam and RMSprop adapt the "
            "step size for each weight."
        ),
        cli=", ".join(OPTIMIZERS),
        group="training",
        widget=Widget("select", options=OPTIMIZERS, fmt="upper"),
        choices=OPTIMIZERS,
        search=Search(picked=("sgd", "adam")),
    )
    learning_rate: float = described(
        0.001,
        label="Learning rate",
        help=(
            "How big each update step is: too small and learning crawls, too big and the loss jumps around or explodes."
        ),
        cli="learning rate",
        group="training",
        widget=Widget(
            "steps", options=(1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.05, 0.1, 0.3, 1.0, 3.0, 10.0), fmt="g"
        ),  # fmt: skip
        search=Search(1e-4, 1e-1, log=True, ticked=True, label="Learning rate (log range)"),
        flag="--lr",
        bounds=(0, 100),
    )
    momentum: float = described(
        0.0,
        label="Momentum",
        help="SGD only: keep a share of the previous step, so that updates build up speed in a consistent direction.",
        cli="SGD momentum",
        group="training",
        widget=Widget("steps", options=(0.0, 0.5, 0.8, 0.9, 0.95, 0.99), fmt="g"),
        requires=Requires("optimizer", ("sgd",)),
        reset=True,
        bounds=(0, 1),
    )
    nesterov: bool = described(
        False,
        label="Nesterov momentum",
        help="SGD only: look ahead along the momentum before computing the gradient, a slightly smarter momentum.",
        cli="Nesterov momentum (SGD)",
        group="training",
        widget=Widget("checkbox"),
        requires=Requires("optimizer", ("sgd",)),
        reset=True,
    )
    clipnorm: float = described(
        0.0,
        label="Gradient clipping",
        help=(
            "Shrink each weight's gradient whenever its length (norm) is above this, so that one huge gradient "
            "cannot throw the weights far away: the cure for exploding gradients (0 = off)."
        ),
        cli="clip each gradient to this norm (0 = off)",
        group="training",
        widget=Widget("steps", label="Clip gradients at norm", options=(0.0, 0.5, 1.0, 2.0, 5.0, 10.0), fmt="off_g"),
        search=Search(0.1, 10.0, log=True),
        bounds=(0, 1_000_000),
    )
    batch_size: int = described(
        32,
        label="Batch size",
        help=(
            "How many images are averaged for each update: small batches give many noisy "
            "steps, large batches few smooth ones."
        ),
        cli="mini-batch size",
        group="training",
        widget=Widget("steps", options=(1, 5, 8, 16, 32, 50, 64, 100, 128, 256, 512, 1024)),
        search=Search(choices=(16, 32, 50, 64, 128, 256), picked=(32, 128)),
        bounds=(1, 100_000),
    )
    epochs: int = described(
        10,
        label="Epochs",
        help="How many times training goes through all training images.",
        cli="epochs",
        group="training",
        widget=Widget("slider", low=1, high=100, step=1),
        bounds=(1, 100_000),
    )
    early_stopping: int = described(  # patience in epochs; 0 = off
        0,
        label="Early stopping",
        help=(
            "Stop when the validation result has not improved for this many epochs (0 = "
            "off), before the network over-fits."
        ),
        cli="patience in epochs (0 = off)",
        group="training",
        widget=Widget("slider", label="Early stopping patience (0 = off)", low=0, high=20, step=1),
        bounds=(0, 100_000),
    )
    es_monitor: str = described(
        "val_loss",
        label="Early stopping: watch",
        help="Which number early stopping watches.",
        cli="what early stopping watches: " + ", ".join(MONITORS),
        group="training",
        widget=Widget("select", label="Watch", options=MONITORS, names=MONITOR_NAMES, hide_when_off=True),
        choices=MONITORS,
        requires=Requires("early_stopping"),
        reset=True,
    )
    es_min_delta: float = described(
        0.0,
        label="Early stopping: change",
        help="The smallest change that counts as an improvement for early stopping.",
        cli="smallest change early stopping counts as better",
        group="training",
        widget=Widget(
            "steps", label="Smallest change that counts", options=(0.0, 1e-4, 1e-3, 1e-2), fmt="g", hide_when_off=True
        ),  # fmt: skip
        requires=Requires("early_stopping"),
        reset=True,
        bounds=(0, 1_000),
    )
    es_restore_best: bool = described(
        True,
        label="Early stopping: best weights",
        help="When early stopping ends training, go back to the weights of the best epoch.",
        cli="go back to the best epoch's weights when early stopping ends training",
        group="training",
        widget=Widget("checkbox", label="Keep the best epoch's weights", hide_when_off=True),
        requires=Requires("early_stopping"),
        reset=True,
    )
    seed: int = described(
        0,
        label="Seed",
        help="Fixes the random initial weights, dropout and batch order, so that the same settings give the same run.",
        cli="random seed",
        group="training",
        widget=Widget("number", low=0, step=1),
        bounds=(0, 2**32 - 1),
    )

    def __post_init__(self) -> None:
        # Normalize types so that equal settings give equal hashes (100 vs 100.0,
        # a list vs a tuple of widths) and JSON round trips are exact.
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
                object.__setattr__(self, f.name, float(value))
            elif f.type == "int" and isinstance(value, float) and value == int(value):
                object.__setattr__(self, f.name, int(value))
        object.__setattr__(self, "hidden", tuple(self.hidden))
        object.__setattr__(self, "conv", tuple(self.conv))
        # Settings that do not apply go back to their defaults, so that equal
        # trainings share one name (momentum under Adam changes nothing).
        values = self.settings()
        for setting in SETTINGS.values():
            if setting.reset and not setting.applies(values):
                object.__setattr__(self, setting.key, setting.default)

    # ------------------------------------------------------------------ checks
    def validate(self) -> ExperimentSpec:
        """Check every field's value and return the spec itself.

        The network's size is checked by ``lab.architecture.check_network``,
        which calls this first: the layer table lives there.

        Raises
        ------
        ValueError
            With a message a student understands, naming the field and what to do.
        """
        _check_data(self.data)
        values = self.settings()
        for key, value in values.items():  # NaN and infinity pass every comparison below: refused first
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{SETTINGS[key].label} ({key}) must be a finite number, not {value}.")
        for setting in SETTINGS.values():
            if setting.choices:
                _one_of(setting.key, getattr(self, setting.key), setting.choices)
        if self.train_subset <= 0:
            raise ValueError("train_subset must be a fraction in (0, 1] or a number of images above 1.")
        if self.train_subset > 1 and self.train_subset != int(self.train_subset):
            raise ValueError("train_subset above 1 is a number of images: use a whole number.")
        if self.test_subset < 0:
            raise ValueError("test_subset must be 0 (all test images) or a positive count.")
        if self.val_mode != "test" and not 0 < self.val_split < 1:
            raise ValueError("val_split must be between 0 and 1 (for example 0.1 for 10% validation).")
        for i, width in enumerate(self.hidden):
            if int(width) != width or width < 1:
                raise ValueError(f"Hidden layer {i + 1} has width {width}: every layer needs at least 1 unit.")
        for i, block in enumerate(self.conv):
            _check_conv(i, block)
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout is {self.dropout}: it must be at least 0 and below 1 (0.2-0.5 is usual).")
        if self.l2 < 0:
            raise ValueError("l2 must be 0 (off) or positive, e.g. 1e-4.")
        if self.init_stddev <= 0:
            raise ValueError("init_stddev must be positive.")
        if not self.learning_rate > 0:
            raise ValueError(f"learning rate is {self.learning_rate}: it must be above 0 (try 0.001).")
        if not 0 <= self.momentum < 1:
            raise ValueError("momentum must be at least 0 and below 1 (0.9 is usual).")
        if not 0 <= self.clipnorm < math.inf:
            raise ValueError(f"clipnorm is {self.clipnorm}: 0 (off) or a positive norm, e.g. 1.")
        if self.batch_size < 1 or self.epochs < 1:
            raise ValueError("batch_size and epochs must be at least 1.")
        if self.early_stopping < 0:
            raise ValueError("early_stopping is a patience in epochs: 0 (off) or more.")
        if self.es_monitor.startswith("val_") and self.early_stopping and self.val_split <= 0:
            raise ValueError("Early stopping on a validation metric needs a validation split.")
        aug = self.augmentation
        for f in dataclasses.fields(aug):
            if getattr(aug, f.name) < 0:
                raise ValueError(f"augmentation {f.name} must be 0 (off) or positive.")
        if aug.shift >= 1 or aug.zoom >= 1 or aug.shear >= 1:
            raise ValueError("augmentation shift, zoom and shear are fractions below 1 (0.1-0.2 is usual).")
        for setting in SETTINGS.values():  # every value within what the lab takes
            problem = setting.out_of_bounds(values[setting.key])
            if problem:
                raise ValueError(f"{setting.label} ({setting.key}) must be {problem}.")
        return self

    def settings(self) -> dict[str, Any]:
        """Every setting's value by its key (``SETTINGS``'s keys: augmentation's as ``aug_NAME``)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "augmentation"}
        values.update(
            {AUG_PREFIX + f.name: getattr(self.augmentation, f.name) for f in dataclasses.fields(Augmentation)}
        )
        return values

    @property
    def output_activation(self) -> str:
        """The output layer's activation (Keras' name): ``softmax`` or ``sigmoid``."""
        return OUTPUT_ACTIVATIONS[self.output]

    @property
    def loss(self) -> str:
        """The loss it trains with (Keras' name): ``categorical_crossentropy`` or ``mean_squared_error``."""
        return OUTPUT_LOSSES[self.output]

    # ------------------------------------------------------------- identity
    def to_dict(self, *, omit_defaults: bool = False) -> dict[str, Any]:
        """The spec as plain JSON-ready values; optionally only non-default fields."""
        out: dict[str, Any] = {}
        default = _DEFAULT_VALUES
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if omit_defaults and value == default[f.name]:
                continue
            out[f.name] = _plain(value)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ExperimentSpec:
        """Rebuild a spec from ``to_dict`` output; unknown keys raise ValueError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise ValueError(f"Unknown spec field(s): {', '.join(sorted(unknown))}.")
        kwargs = dict(values)
        if "hidden" in kwargs:
            kwargs["hidden"] = tuple(int(w) for w in kwargs["hidden"])
        if "conv" in kwargs:
            kwargs["conv"] = tuple(b if isinstance(b, ConvBlock) else ConvBlock(**b) for b in kwargs["conv"])
        if isinstance(kwargs.get("augmentation"), dict):
            kwargs["augmentation"] = Augmentation(**kwargs["augmentation"])
        return cls(**kwargs)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, every field)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ExperimentSpec:
        """Inverse of ``to_json``."""
        return cls.from_dict(json.loads(text))

    @property
    def run_id(self) -> str:
        """A short stable name for this run: 12 hex digits of the spec's hash."""
        canonical = json.dumps(self.to_dict(omit_defaults=True), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def replace(self, **changes: Any) -> ExperimentSpec:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def summary(self) -> str:
        """A one-line human description, e.g. ``784-50-50-10 relu adam lr=0.001``.

        Conv blocks come first in the lab's one conv notation, as links and the
        command line write them: ``conv=10x5s2,40x5s2p2 784-50-10 relu ...``.
        """
        layers = "-".join(str(w) for w in (784, *self.hidden, 10))
        convs = ["conv=" + ",".join(block.token() for block in self.conv)] if self.conv else []
        parts = [*convs, layers, self.activation, f"{self.optimizer} lr={self.learning_rate:g}"]
        if self.momentum:
            parts.append(f"momentum={self.momentum:g}" + (" nesterov" if self.nesterov else ""))
        if self.clipnorm:
            parts.append(f"clipnorm={self.clipnorm:g}")
        if self.batch_size != _DEFAULT_VALUES["batch_size"]:
            parts.append(f"batch={self.batch_size}")
        if self.raw_pixels:
            parts.append("raw 0-255")
        if self.initializer != "glorot_uniform":
            parts.append(self.initializer)
        if self.batchnorm != "none":
            parts.append(f"bn-{self.batchnorm}")
        if self.dropout:
            parts.append(f"drop={self.dropout:g}")
        if self.l2:
            parts.append(f"l2={self.l2:g}")
        if self.augmentation.active:
            parts.append("aug")
        if self.early_stopping:
            parts.append(f"es={self.early_stopping}")
        parts.append(f"{self.epochs}ep")
        if self.seed:
            parts.append(f"seed={self.seed}")
        return " ".join(parts)

    def describe(self) -> str:
        """The run in plain words, for people: ``CNN 10-40-80 filters, dense 50, ReLU, SGD lr 0.02 ...``.

        Only what differs from the usual (Keras' defaults, the offline sample) is named;
        ``summary()`` is the compact form, for where space is short.
        """
        parts = [self._network_words()]
        if self.hidden or self.conv:  # logistic regression has no activation to name
            parts.append(_ACTIVATION_WORDS.get(self.activation, self.activation))
        parts.append(self._optimizer_words())
        if self.initializer != "glorot_uniform":
            words = _INITIALIZER_WORDS.get(self.initializer, self.initializer)
            parts.append((f"N(0, {self.init_stddev:g})" if self.initializer == "random_normal" else words) + " init")
        if self.batchnorm != "none":
            parts.append("batch norm")
        dropouts = [self.dropout] + [block.dropout for block in self.conv]
        if any(dropouts):
            parts.append(f"dropout {max(dropouts):g}")
        penalties = [self.l2] + [block.l2 for block in self.conv]
        if any(penalties):
            parts.append(f"L2 {max(penalties):g}")
        if self.augmentation.active:
            parts.append("augmentation" + (" + noise" if self.augmentation.noise else ""))
        if self.output == "sigmoid_mse":
            parts.append("sigmoid outputs + MSE")
        if self.raw_pixels:
            parts.append("raw 0-255 pixels")
        if self.batch_size != _DEFAULT_VALUES["batch_size"]:
            parts.append(f"batch {self.batch_size}")
        if self.early_stopping:
            parts.append("early stopping")
        parts.append(f"{self.epochs} epoch" + ("" if self.epochs == 1 else "s"))
        data = self._data_words()
        return ", ".join(parts) + (f" on {data}" if data else "")

    def _network_words(self) -> str:
        units = "-".join(f"{w:,}" for w in self.hidden)
        if self.conv:
            filters = "-".join(str(block.filters) for block in self.conv)
            pooled = ", pooling" if any(block.pool for block in self.conv) else ""
            return f"CNN {filters} filters{pooled}" + (f", dense {units}" if units else "")
        if not self.hidden:
            return "logistic regression"
        if len(set(self.hidden)) == 1 and len(self.hidden) > 2:
            units = f"{len(self.hidden)} × {self.hidden[0]:,}"
        return f"MLP {units} units"

    def _optimizer_words(self) -> str:
        name = _OPTIMIZER_WORDS.get(self.optimizer, self.optimizer)
        text = name if self.optimizer == "adam" and self.learning_rate == 0.001 else f"{name} lr {self.learning_rate:g}"
        if self.momentum:
            text += f" + {'Nesterov ' if self.nesterov else ''}momentum {self.momentum:g}"
        if self.clipnorm:
            text += f", gradients clipped at norm {self.clipnorm:g}"
        return text

    def subset_count(self, available: int | None = None) -> int | None:
        """How many of the source's training images the subset takes (before the validation split).

        ``available``: the source's training images; by default its known size (``SOURCE_TRAIN_IMAGES``),
        and None for a source whose size is not known until it is read (an IDX folder).
        """
        available = available if available is not None else SOURCE_TRAIN_IMAGES.get(self.data)
        return None if available is None else subset_size(available, self.train_subset)

    def _data_words(self) -> str:
        names = {"sample": "", "mnist": "MNIST", "fashion": "Fashion-MNIST"}
        source = names.get(self.data, self.data.removeprefix("idx:"))
        if self.train_subset > 1:
            # The count the source gives: a preset's 19,800 are all 4,000 images of the sample.
            count, available = self.subset_count(), SOURCE_TRAIN_IMAGES.get(self.data)
            images = (
                f"at most {int(self.train_subset):,} images"
                if count is None
                else f"all {count:,} images"
                if count == available
                else f"{count:,} images"
            )
            return f"{images} of {source}" if source else images
        if self.train_subset < 1:
            share = f"{self.train_subset:.0%} of the images"
            return f"{share} of {source}" if source else share
        return source


def subset_size(available: int, subset: float) -> int:
    """Images a training subset takes from ``available``: a share (<= 1) or a count (> 1), at least one per class."""
    count = available if subset == 1 else int(round(subset * available)) if subset < 1 else int(subset)
    return min(max(count, _CLASSES), available)


def _describe_settings() -> dict[str, Setting]:
    """Every setting's description by key, in the spec's field order (augmentation's in its place)."""
    out: dict[str, Setting] = {}
    for f in dataclasses.fields(ExperimentSpec):
        nested = dataclasses.fields(Augmentation) if f.name == "augmentation" else ()
        for g, key in [(g, AUG_PREFIX + g.name) for g in nested] or [(f, f.name)]:
            default = g.default if g.default is not dataclasses.MISSING else g.default_factory()
            out[key] = dataclasses.replace(g.metadata[SETTING], key=key, default=default)
    return out


SETTINGS: Mapping[str, Setting] = _describe_settings()
"""Every setting of the spec, described once (``lab.setting.Setting``), by the key links and flags use."""

_DEFAULT_VALUES = {f.name: getattr(ExperimentSpec(), f.name) for f in dataclasses.fields(ExperimentSpec)}


def _plain(value: Any) -> Any:
    """Convert nested dataclasses and tuples into JSON-ready dicts and lists."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"Unknown {name} '{value}'. Choose one of: {', '.join(allowed)}.")


def _check_data(data: str) -> None:
    if data in ("sample", "mnist", "fashion"):
        return
    if re.fullmatch(r"idx:.+", data):
        return
    raise ValueError(f"Unknown data source '{data}'. Use sample, mnist, fashion or idx:FOLDER.")


def _check_conv(index: int, block: ConvBlock) -> None:
    where = f"Conv block {index + 1}"
    if block.filters < 1 or block.kernel_size < 1 or block.strides < 1:
        raise ValueError(f"{where}: filters, kernel size and stride must each be at least 1.")
    if block.filters > MAX_FILTERS or max(block.kernel_size, block.strides, block.pool) > 28:
        raise ValueError(f"{where}: at most {MAX_FILTERS} filters, and kernel, stride and pool of at most 28 pixels.")
    if not (math.isfinite(block.dropout) and math.isfinite(block.l2)) or block.l2 > 10:
        raise ValueError(f"{where}: dropout and l2 must be finite numbers (l2 at most 10).")
    _one_of(f"{where} padding", block.padding, PADDINGS)
    if block.pool < 0 or block.pool == 1:
        raise ValueError(f"{where}: pool is 0 (none) or a window of 2 or more.")
    if not 0 <= block.dropout < 1:
        raise ValueError(f"{where}: dropout must be at least 0 and below 1.")
    if block.l2 < 0:
        raise ValueError(f"{where}: l2 must be 0 or positive.")
