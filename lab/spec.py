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
import re
from dataclasses import dataclass, field
from typing import Any

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

    rotation: float = 0.0
    shift: float = 0.0
    shear: float = 0.0
    zoom: float = 0.0
    noise: float = 0.0
    elastic: float = 0.0

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
    data: str = "sample"  # "sample", "mnist", "fashion" or "idx:DIR"
    train_subset: float = 1.0  # <= 1: fraction of the training set; > 1: number of images
    subset_mode: str = "random"  # random (stratified, seeded), every (every k-th image), first
    test_subset: int = 0  # first N test images (course D: 100); 0 = all
    val_split: float = 0.1  # fraction of the training subset held out for validation
    val_mode: str = "random"  # random (stratified, seeded), last (Keras' validation_split), test
    center: bool = False  # subtract the per-pixel training mean (course series B)
    raw_pixels: bool = False  # feed 0-255 pixels, unscaled, as course notebooks 000, 001 and 004 did
    data_seed: int = 0  # fixes subset and validation split, so runs with other seeds see the same data
    # --- model ----------------------------------------------------------------
    conv: tuple[ConvBlock, ...] = ()
    hidden: tuple[int, ...] = (128,)  # widths of the hidden Dense layers; () = logistic regression
    activation: str = "relu"
    initializer: str = "glorot_uniform"
    init_stddev: float = _DEFAULT_STDDEV  # only for initializer="random_normal"
    batchnorm: str = "none"
    dropout: float = 0.0  # after each hidden activation
    l2: float = 0.0  # on the Dense kernels
    l2_output: bool = True  # also on the output layer's kernel (course D1 yes, B9 no)
    output: str = "softmax_ce"
    augmentation: Augmentation = field(default_factory=Augmentation)
    # --- training -------------------------------------------------------------
    optimizer: str = "adam"
    learning_rate: float = 0.001
    momentum: float = 0.0  # SGD only
    nesterov: bool = False  # SGD only
    batch_size: int = 32
    epochs: int = 10
    early_stopping: int = 0  # patience in epochs; 0 = off
    es_monitor: str = "val_loss"
    es_min_delta: float = 0.0
    es_restore_best: bool = True
    seed: int = 0

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
        if self.optimizer != "sgd":
            object.__setattr__(self, "momentum", 0.0)
            object.__setattr__(self, "nesterov", False)
        if self.initializer != "random_normal":
            object.__setattr__(self, "init_stddev", _DEFAULT_STDDEV)
        if not self.early_stopping:
            object.__setattr__(self, "es_monitor", "val_loss")
            object.__setattr__(self, "es_min_delta", 0.0)
            object.__setattr__(self, "es_restore_best", True)

    # ------------------------------------------------------------------ checks
    def validate(self) -> ExperimentSpec:
        """Check every field's value and return the spec itself.

        The network's size is checked by ``lab.architecture.validate_network``,
        which calls this first: the layer table lives there.

        Raises
        ------
        ValueError
            With a message a student understands, naming the field and what to do.
        """
        _check_data(self.data)
        _one_of("activation", self.activation, ACTIVATIONS)
        _one_of("initializer", self.initializer, INITIALIZERS)
        _one_of("optimizer", self.optimizer, OPTIMIZERS)
        _one_of("batchnorm", self.batchnorm, BATCHNORM)
        _one_of("output", self.output, OUTPUTS)
        _one_of("subset_mode", self.subset_mode, SUBSET_MODES)
        _one_of("val_mode", self.val_mode, VAL_MODES)
        _one_of("es_monitor", self.es_monitor, MONITORS)
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
        return self

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
        return text

    def _data_words(self) -> str:
        names = {"sample": "", "mnist": "MNIST", "fashion": "Fashion-MNIST"}
        source = names.get(self.data, self.data.removeprefix("idx:"))
        if self.train_subset > 1:
            # "at most": a source with fewer training images (the sample's 4,000) trains on all of them.
            images = f"at most {int(self.train_subset):,} images"
            return f"{images} of {source}" if source else images
        if self.train_subset < 1:
            share = f"{self.train_subset:.0%} of the images"
            return f"{share} of {source}" if source else share
        return source


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
    _one_of(f"{where} padding", block.padding, PADDINGS)
    if block.pool < 0 or block.pool == 1:
        raise ValueError(f"{where}: pool is 0 (none) or a window of 2 or more.")
    if not 0 <= block.dropout < 1:
        raise ValueError(f"{where}: dropout must be at least 0 and below 1.")
    if block.l2 < 0:
        raise ValueError(f"{where}: l2 must be 0 or positive.")
