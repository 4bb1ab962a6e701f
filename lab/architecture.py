"""The network a spec describes, as a plain list of layers, without TensorFlow.

Pages show the layer table and the parameter count while the sliders move, long
before (and without) importing TensorFlow. The Keras builder in ``lab.nn.model``
walks this same list, so the table and the real model cannot disagree; a test
checks the counts against Keras' own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from lab.spec import ExperimentSpec

DEFAULT_PARAM_BUDGET = 5_000_000
IMAGE_SIDE = 28
NUM_PIXELS = IMAGE_SIDE * IMAGE_SIDE
NUM_CLASSES = 10
# Guessing: the loss of a network that says "1 in 10" for every image, and the share it gets right.
# Cross-entropy of a uniform softmax is ln 10 = 2.303; the MSE of 0.1 on ten sigmoid outputs is
# (0.9**2 + 9 * 0.1**2) / 10 = 0.09. A loss that stays there has learned nothing.
CHANCE_LOSS = {"softmax_ce": math.log(NUM_CLASSES), "sigmoid_mse": (0.9**2 + 9 * 0.1**2) / NUM_CLASSES}
CHANCE_ACCURACY = 1 / NUM_CLASSES


@dataclass(frozen=True)
class LayerInfo:
    """One layer of the network.

    Attributes
    ----------
    name : str
        The Keras layer name (``hidden_1``, ``bn_1``, ``output`` ...).
    kind : str
        One of ``rescale, reshape, augment, conv, pool, flatten, dense, batchnorm,
        activation, dropout, output``.
    output_shape : tuple[int, ...]
        Shape of one example after this layer.
    params : int
        All weights, trainable or not.
    trainable : int
        Weights that gradient descent updates.
    detail : str
        A short description for the layer table.
    """

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int = 0
    trainable: int = 0
    detail: str = ""


def needs_image(spec: ExperimentSpec) -> bool:
    """Whether the flat 784-pixel input must be reshaped to 28x28x1 first."""
    return bool(spec.conv) or spec.augmentation.active


def layer_infos(spec: ExperimentSpec) -> list[LayerInfo]:
    """List the layers of ``spec``'s network in order, input excluded."""
    infos: list[LayerInfo] = []
    shape: tuple[int, ...] = (NUM_PIXELS,)
    if spec.raw_pixels:
        # Inside the model, so that every caller (data, canvas, photos) keeps feeding [0, 1].
        infos.append(LayerInfo("raw_pixels", "rescale", shape, detail="x 255: the course's unscaled 0-255 pixels"))
    if needs_image(spec):
        shape = (IMAGE_SIDE, IMAGE_SIDE, 1)
        infos.append(LayerInfo("image", "reshape", shape, detail="784 pixels -> 28x28x1"))
    if spec.augmentation.active:
        infos.append(LayerInfo("augment", "augment", shape, detail="random changes, training only"))
    for i, block in enumerate(spec.conv, start=1):
        side, channels = shape[0], shape[2]
        if block.padding == "same":
            side = math.ceil(side / block.strides)
        else:
            side = (side - block.kernel_size) // block.strides + 1
        if side < 1:
            raise ValueError(f"Conv block {i} shrinks the image to nothing: use padding 'same' or a smaller kernel.")
        params = block.kernel_size * block.kernel_size * channels * block.filters + block.filters
        shape = (side, side, block.filters)
        detail = f"{block.filters} x {block.kernel_size}x{block.kernel_size}, stride {block.strides}, {spec.activation}"
        infos.append(LayerInfo(f"conv_{i}", "conv", shape, params, params, detail))
        if block.pool:
            side = side // block.pool
            if side < 1:
                raise ValueError(f"Conv block {i}: pooling shrinks the image to nothing.")
            shape = (side, side, block.filters)
            infos.append(LayerInfo(f"pool_{i}", "pool", shape, detail=f"max {block.pool}x{block.pool}"))
        if block.dropout:
            infos.append(LayerInfo(f"conv_dropout_{i}", "dropout", shape, detail=f"rate {block.dropout:g}"))
    if len(shape) == 3:
        shape = (shape[0] * shape[1] * shape[2],)
        infos.append(LayerInfo("flatten", "flatten", shape))
    for i, width in enumerate(spec.hidden, start=1):
        params = shape[0] * width + width
        fused = spec.batchnorm != "before"
        act = spec.activation if fused else "none"
        infos.append(LayerInfo(f"hidden_{i}", "dense", (width,), params, params, f"{width} units, {act}"))
        if spec.batchnorm == "before":
            infos.append(LayerInfo(f"bn_{i}", "batchnorm", (width,), 4 * width, 2 * width, "before activation"))
            infos.append(LayerInfo(f"act_{i}", "activation", (width,), detail=spec.activation))
        elif spec.batchnorm == "after":
            infos.append(LayerInfo(f"bn_{i}", "batchnorm", (width,), 4 * width, 2 * width, "after activation"))
        if spec.dropout:
            infos.append(LayerInfo(f"dropout_{i}", "dropout", (width,), detail=f"rate {spec.dropout:g}"))
        shape = (width,)
    params = shape[0] * NUM_CLASSES + NUM_CLASSES
    infos.append(LayerInfo("output", "output", (NUM_CLASSES,), params, params, f"10 units, {spec.output_activation}"))
    return infos


def count_params(spec: ExperimentSpec) -> int:
    """Total number of weights (trainable and not) of ``spec``'s network."""
    return sum(info.params for info in layer_infos(spec))


def count_trainable(spec: ExperimentSpec) -> int:
    """Number of weights that training updates."""
    return sum(info.trainable for info in layer_infos(spec))


def multiply_adds(spec: ExperimentSpec) -> int:
    """Multiply-adds of one image's forward pass through ``spec``'s weight layers.

    Each kernel weight is applied once per output position: once in a dense
    layer, ``side x side`` times in a convolution. Training an image costs about
    three times this (forward, and backward to the weights and the inputs), which
    is what makes a run long or short on a given machine, more than its weights.
    """
    total = 0
    for info in layer_infos(spec):
        if info.kind in ("conv", "dense", "output"):
            positions = math.prod(info.output_shape[:-1])
            total += (info.trainable - info.output_shape[-1]) * positions  # weights less one bias per unit
    return total


def activations(spec: ExperimentSpec) -> int:
    """Values one image leaves behind on its way through ``spec``'s network: every layer's output, summed.

    Training keeps them all for the backward pass, so a batch holds this many float32
    values per image; with the weights, that is what one batch costs in memory
    (:func:`batch_memory_bytes`). A convolution with many filters at full resolution
    dominates it, long before its weights count.
    """
    return sum(math.prod(info.output_shape) for info in layer_infos(spec))


def batch_memory_bytes(spec: ExperimentSpec, images: int, params: int | None = None) -> int:
    """An estimate of the memory one batch of ``images`` images takes: activations and four copies of the weights.

    Four float32 bytes per value: every layer's output for each image (:func:`activations`),
    and the weights with their gradients and two optimizer slots (Adam's moments). A
    rough figure, not a measurement: TensorFlow's workspace comes on top, but a network
    this estimate calls ten times larger takes about ten times more. ``params``: the weights,
    when counted already (``CheckedSpec.params``).
    """
    weights = count_params(spec) if params is None else params
    return 4 * (activations(spec) * images + 4 * weights)


@dataclass(frozen=True)
class CheckedSpec:
    """A spec whose values and network were checked once: every layer below trusts it.

    Made only by :func:`check_network` (constructing one directly raises ``TypeError``),
    at the one place a training is asked for (``lab.runs.jobs.JobManager.submit`` through
    ``lab.runs.limits.Limits.check``, the command line, a benchmark); the job, the
    executors and the trainer take it without checking or counting again.

    Attributes
    ----------
    spec : ExperimentSpec
        The spec, valid and buildable.
    params : int
        Its network's weights (``count_params``), counted once.
    """

    spec: ExperimentSpec
    params: int
    _made_by: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._made_by is not _CHECK_NETWORK:
            raise TypeError("A CheckedSpec is made by lab.architecture.check_network(spec, param_budget).")


_CHECK_NETWORK = object()  # the key only check_network holds


def check_network(spec: ExperimentSpec, param_budget: int | None = DEFAULT_PARAM_BUDGET) -> CheckedSpec:
    """Check a spec's values and that its network can be built within the budget, once.

    Parameters
    ----------
    spec : ExperimentSpec
        What to check (``spec.validate()`` first: every field's value).
    param_budget : int, optional
        The most weights a network may have; None: no budget (the caller applies its own,
        as ``lab.runs.limits.Limits.check`` does with its own message).

    Returns
    -------
    CheckedSpec
        The spec with its parameter count, which nobody needs to check or count again.

    Raises
    ------
    ValueError
        With a message a student understands: the field, or the size, and what to do.
    """
    spec.validate()
    params = count_params(spec)  # also raises when a conv block shrinks the image to nothing
    if param_budget is not None and params > param_budget:
        raise ValueError(
            f"This model has {params:,} parameters, more than the budget of {param_budget:,}: "
            "use fewer or narrower layers (or raise MLP_LAB_PARAM_BUDGET)."
        )
    return CheckedSpec(spec, params, _CHECK_NETWORK)
