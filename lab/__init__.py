"""MLP Lab's core: data, experiment spec, model builder, trainer, run store, inspection.

Pure Python with no Streamlit import, so that everything a page shows can be
computed from a notebook or the command line (``python -m lab``).

Importing ``lab`` does not import TensorFlow: the modules that need it
(``lab.nn.model``, ``lab.nn.trainer`` ...) import it themselves.
"""

import os

# Fixed here, once, before TensorFlow is imported anywhere through lab: oneDNN's
# fused kernels change the last digits of results, and "same spec, same curves"
# must hold across machines and processes. KERAS_BACKEND pins Keras 3 to TF.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from lab.spec import Augmentation, ConvBlock, ExperimentSpec  # noqa: E402

__all__ = ["Augmentation", "ConvBlock", "ExperimentSpec"]
