"""Series B: CS4487's lecture: widths, depth, CNNs, dropout, L2, augmentation (course file 002)."""

from __future__ import annotations

import dataclasses

from lab.catalog.lessons import BEATS, Claim
from lab.catalog.preset import Preset, Series
from lab.spec import Augmentation, ConvBlock, ExperimentSpec

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
# Quick mode's plan for the five deep CNNs (B7-B11), 80% of the series' time at ten epochs:
# 4 epochs at 0.05 go as far (rate x epochs = 0.2) as ten at the course's 0.02, as series D's
# quick plan keeps rate x epochs.
_DEEP_CNN_QUICK = (("epochs", 4), ("learning_rate", 0.05))
_B_AUG_NOTE = (
    "Keras' ImageDataGenerator read shear_range=0.1 in degrees (almost no shear); our RandomShear reads 0.1 "
    "as a fraction, a stronger shear."
)

SERIES = Series(
    "B",
    "CS4487: wider, deeper, convolutional, regularized",
    "002",
    "Every 10th training image (6,000 of MNIST), centered, a fixed 10% validation split, SGD with Nesterov "
    "momentum 0.9, batch 50, early stopping on validation accuracy (patience 5), seed 4487.",
    "More hidden units help a little, a second hidden layer a little more; convolutions that look at local "
    "strokes do better with fewer parameters, and dropout and data augmentation (shifted, rotated, noisy "
    "copies of the digits) push a small CNN past 98%.",
    quick_note="Quick mode trains the five deep CNNs (B7-B11) for 4 epochs at learning rate 0.05 instead of 10 at "
    "0.02, as far (rate x epochs = 0.2) in less than half the time: they are most of the series' training.",
    claims=(
        Claim("A hidden layer (B2) beats logistic regression (B1)", BEATS, "B2", "B1"),
        # Ten quick epochs on the sample: B7 94.7%, B5 95.0%. The CNN is as good with less than half the weights;
        # beating the MLP takes the course's length (96.9% vs 95.2% in the course).
        Claim(
            "The deep CNN (B7) does as well as the best MLP (B5), within a point, with less than half its weights",
            BEATS,
            "B7",
            "B5",
            value=-0.01,
        ),
        Claim("The deep CNN (B7) beats the best MLP, two layers of 500 (B5)", BEATS, "B7", "B5", quick=False),
        Claim("Two layers of 500 (B5) beat one layer of 50 (B2)", BEATS, "B5", "B2", quick=False),
        Claim("Augmentation (B10) improves on the same CNN without it (B8)", BEATS, "B10", "B8", quick=False),
    ),
)


PRESETS: list[Preset] = [
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
        quick_changes=_DEEP_CNN_QUICK,
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
        quick_changes=_DEEP_CNN_QUICK,
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
        quick_changes=_DEEP_CNN_QUICK,
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
        quick_changes=_DEEP_CNN_QUICK,
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
        quick_changes=_DEEP_CNN_QUICK,
        together=tuple(f"B{i}" for i in range(1, 11)),
        note=_B_AUG_NOTE,
    ),
]
