"""A trained model as a compact, JSON-able description that a browser can run.

The Draw page computes every model's answer in the browser while the pen moves
(``ui/draw/canvas/canvas.js``), so the models' weights go to the page once, as
this description: a list of operations with float32 weights (base64 of the
little-endian bytes). :func:`forward` is the same forward pass in NumPy, the
reference the JavaScript implements line for line; tests check it against Keras.

Operations, applied to one image held as a flat array (images in height,
width, channels order, as Keras' channels-last layers and ``Flatten`` read them):

``sub``
    ``x - mean``: the training mean of a run trained on centered data.
``scale``
    ``x * factor``: the ``raw_pixels`` Rescaling layer (255).
``conv``
    Conv2D with ``k`` x ``k`` kernels (``w`` is (k, k, cin, cout)), ``stride``,
    ``pad`` ``same`` (TensorFlow's: the extra row or column at the bottom/right)
    or ``valid``, then the activation ``act``.
``pool``
    Max pooling, ``size`` x ``size`` windows, stride ``size``, no padding.
``dense``
    ``act(x @ w + b)`` with ``w`` (nin, nout). Batch normalization is folded into
    the weights: before the activation into this layer's own, after it into the
    next dense layer's; dropout and augmentation are left out (identity at inference).

The output layer is a ``dense`` with ``act`` ``softmax`` or ``sigmoid``; with
``normalise`` set (sigmoid outputs), the ten outputs are divided by their sum,
as :class:`lab.analysis.predictor.Predictor` shows them.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from scipy import special

from lab.analysis.predictor import Predictor
from lab.architecture import IMAGE_SIDE, layer_infos

BN_EPSILON_DEFAULT = 1e-3  # Keras' BatchNormalization default; each layer's own epsilon is read when present
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
LEAKY_SLOPE = 0.2  # keras.activations.leaky_relu's default negative_slope


# ------------------------------------------------------------------ encoding
def encode(values: np.ndarray) -> str:
    """Base64 of the values as little-endian float32, C order."""
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f4").tobytes()).decode("ascii")


def decode(text: str) -> np.ndarray:
    """The flat float32 array :func:`encode` wrote."""
    return np.frombuffer(base64.b64decode(text), dtype="<f4").astype(np.float32)


# ----------------------------------------------------------------- exporting
def export_predictor(predictor: Predictor) -> dict[str, Any]:
    """Describe a predictor's whole path from a 28x28 image in [0, 1] to its ten probabilities.

    Parameters
    ----------
    predictor : Predictor
        A stored run's model (built by :func:`lab.nn.model.build_model`) with its training mean.

    Returns
    -------
    dict
        ``{"run": run id, "ops": [...], "units": number of weights}``, JSON-serialisable;
        the operations are described in this module's docstring.

    Raises
    ------
    ValueError
        When the model has a layer this description cannot express.
    """
    spec = predictor.spec
    model = predictor.model
    ops: list[dict[str, Any]] = []
    if predictor.mean is not None:
        ops.append({"op": "sub", "mean": encode(predictor.mean.reshape(-1))})
    shape: tuple[int, ...] = (IMAGE_SIDE * IMAGE_SIDE,)
    pending: tuple[np.ndarray, np.ndarray] | None = None  # a batchnorm after an activation: (scale, shift)
    weights = 0
    for info in layer_infos(spec):
        layer = model.get_layer(info.name)
        if info.kind == "rescale":
            ops.append({"op": "scale", "factor": float(layer.scale)})
        elif info.kind in ("reshape", "flatten", "augment", "dropout"):
            pass  # the flat channels-last buffer already is either shape; augmentation and dropout: training only
        elif info.kind == "conv":
            kernel, bias = (np.asarray(w, dtype=np.float32) for w in layer.get_weights())
            ops.append(
                {
                    "op": "conv",
                    "name": info.name,
                    "k": int(kernel.shape[0]),
                    "stride": int(layer.strides[0]),
                    "pad": str(layer.padding),
                    "cin": int(kernel.shape[2]),
                    "cout": int(kernel.shape[3]),
                    "inShape": [int(s) for s in shape],
                    "outShape": [int(s) for s in info.output_shape],
                    "w": encode(kernel),
                    "b": encode(bias),
                    "act": spec.activation,
                }
            )
            weights += kernel.size + bias.size
        elif info.kind == "pool":
            ops.append(
                {
                    "op": "pool",
                    "name": info.name,
                    "size": int(layer.pool_size[0]),
                    "inShape": [int(s) for s in shape],
                    "outShape": [int(s) for s in info.output_shape],
                }
            )
        elif info.kind in ("dense", "output"):
            kernel, bias = (np.asarray(w, dtype=np.float64) for w in layer.get_weights())
            if pending is not None:  # fold the previous layer's batchnorm: (x*s + t) @ W = x @ (s W) + t @ W
                scale, shift = pending
                bias = bias + shift @ kernel
                kernel = scale[:, None] * kernel
                pending = None
            act = spec.output_activation if info.kind == "output" else spec.activation
            if info.kind == "dense" and spec.batchnorm == "before":
                act = "linear"  # the activation comes after the batchnorm, which folds into this layer
            ops.append(
                {
                    "op": "dense",
                    "name": info.name,
                    "nin": int(kernel.shape[0]),
                    "nout": int(kernel.shape[1]),
                    "w": encode(kernel),
                    "b": encode(bias),
                    "act": act,
                }
            )
            weights += kernel.size + bias.size
        elif info.kind == "batchnorm":
            scale, shift = _batchnorm_affine(layer)
            if spec.batchnorm == "before":
                dense = ops[-1]
                kernel = decode(dense["w"]).astype(np.float64).reshape(dense["nin"], dense["nout"])
                bias = decode(dense["b"]).astype(np.float64)
                dense["w"], dense["b"] = encode(kernel * scale[None, :]), encode(bias * scale + shift)
            else:
                pending = (scale, shift)
        elif info.kind == "activation":
            ops[-1]["act"] = spec.activation  # the dense layer before it, its batchnorm folded in
        else:
            raise ValueError(f"Layer {info.name}: no browser operation for kind '{info.kind}'.")
        shape = info.output_shape
    if pending is not None:  # pragma: no cover - a batchnorm is always followed by a dense layer
        raise ValueError("A batch normalization with no dense layer after it cannot be folded.")
    ops[-1]["normalise"] = spec.output_activation == "sigmoid"
    return {"run": predictor.run_id, "ops": ops, "weights": int(weights)}


def _batchnorm_affine(layer: Any) -> tuple[np.ndarray, np.ndarray]:
    """A BatchNormalization layer at inference as ``x * scale + shift`` (float64)."""
    gamma, beta, mean, var = (np.asarray(w, dtype=np.float64) for w in layer.get_weights())
    eps = float(getattr(layer, "epsilon", BN_EPSILON_DEFAULT))
    scale = gamma / np.sqrt(var + eps)
    return scale, beta - mean * scale


# ------------------------------------------------------------------ forward
def forward(description: dict[str, Any], image28: np.ndarray) -> np.ndarray:
    """Run an exported description on one image: the reference the browser's JavaScript implements.

    Parameters
    ----------
    description : dict
        What :func:`export_predictor` returned.
    image28 : np.ndarray
        (28, 28) or (784,) image in [0, 1].

    Returns
    -------
    np.ndarray
        (10,) float64 probabilities.
    """
    x = np.asarray(image28, dtype=np.float64).reshape(-1)
    for op in description["ops"]:
        kind = op["op"]
        if kind == "sub":
            x = x - decode(op["mean"])
        elif kind == "scale":
            x = x * op["factor"]
        elif kind == "dense":
            w = decode(op["w"]).astype(np.float64).reshape(op["nin"], op["nout"])
            x = activate(x @ w + decode(op["b"]), op["act"])
            if op.get("normalise"):
                x = x / max(float(x.sum()), 1e-12)
        elif kind == "conv":
            x = _conv(x, op)
        elif kind == "pool":
            x = _pool(x, op)
        else:
            raise ValueError(f"Unknown operation '{kind}'.")
    return x


def activate(z: np.ndarray, name: str) -> np.ndarray:
    """One of the lab's activations (and the output's softmax / sigmoid), as Keras defines it."""
    if name == "linear":
        return z
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "sigmoid":
        return special.expit(z)  # no overflow for large negative z
    if name == "tanh":
        return np.tanh(z)
    if name == "elu":
        return np.where(z > 0, z, np.expm1(np.minimum(z, 0.0)))
    if name == "selu":
        return SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0.0)))
    if name == "leaky_relu":
        return np.where(z > 0, z, LEAKY_SLOPE * z)
    if name == "softplus":
        return np.logaddexp(0.0, z)
    if name == "softmax":
        e = np.exp(z - z.max())
        return e / e.sum()
    raise ValueError(f"Unknown activation '{name}'.")


def same_padding(size: int, k: int, stride: int) -> int:
    """Rows (or columns) padded before the image by TensorFlow's ``same`` padding (the rest go after)."""
    out = -(-size // stride)
    return max((out - 1) * stride + k - size, 0) // 2


def _conv(x: np.ndarray, op: dict[str, Any]) -> np.ndarray:
    h, w, cin = op["inShape"]
    oh, ow, cout = op["outShape"]
    k, s = op["k"], op["stride"]
    kernel = decode(op["w"]).astype(np.float64).reshape(k, k, cin, cout)
    image = x.reshape(h, w, cin)
    top = same_padding(h, k, s) if op["pad"] == "same" else 0
    left = same_padding(w, k, s) if op["pad"] == "same" else 0
    padded = np.zeros((h + 2 * k, w + 2 * k, cin))
    padded[k : k + h, k : k + w] = image
    out = np.zeros((oh, ow, cout))
    for dy in range(k):
        for dx in range(k):
            rows = k - top + dy + s * np.arange(oh)
            cols = k - left + dx + s * np.arange(ow)
            out += padded[np.ix_(rows, cols)] @ kernel[dy, dx]
    return activate(out + decode(op["b"]), op["act"]).reshape(-1)


def _pool(x: np.ndarray, op: dict[str, Any]) -> np.ndarray:
    h, w, c = op["inShape"]
    oh, ow, _ = op["outShape"]
    p = op["size"]
    image = x.reshape(h, w, c)[: oh * p, : ow * p]
    return image.reshape(oh, p, ow, p, c).max(axis=(1, 3)).reshape(-1)
