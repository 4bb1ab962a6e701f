"""Series D: over-fitting on 500 images, then the improved network (course file 004)."""

from __future__ import annotations

from lab.catalog.lessons import BEATS, NARROWS, OVERFITS, Claim
from lab.catalog.preset import Preset, Series
from lab.spec import ExperimentSpec

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
# Quick mode for the 500-image runs: 50 epochs at 20 times the learning rate take SGD as far (learning rate x
# epochs = 10) as the course's 1,000 epochs at 0.01; ten epochs at 0.01 leave D0-D2 at chance, hiding the lesson.
_D_QUICK = (("epochs", 50), ("learning_rate", 0.2))
_D_NOTE = (
    "The course fed raw 0-255 pixels (no /255); we scale to [0, 1]. Its 'previous class' model D0 is rebuilt "
    "from the same settings without regularization."
)

SERIES = Series(
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
    claims=(
        Claim("500 images over-fit (D0): training accuracy well above test accuracy", OVERFITS, "D0", value=0.05),
        Claim("L2 (D1) shrinks D0's gap between training and test accuracy", NARROWS, "D1", "D0"),
        Claim("Dropout (D2) shrinks D0's gap between training and test accuracy", NARROWS, "D2", "D0"),
        Claim("All the data with tanh, softmax and Adam (D3) beats the 500-image model (D0)", BEATS, "D3", "D0"),
        Claim("L2 (D1) raises D0's test accuracy", BEATS, "D1", "D0", quick=False),
    ),
    quick_note="Quick mode trains D0-D2 for 50 epochs at learning rate 0.2 instead of 1,000 at 0.01: SGD gets as "
    "far (rate x epochs = 10) in a twentieth of the time, and ten epochs at 0.01 would leave them at chance.",
)


PRESETS: list[Preset] = [
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
        quick_changes=_D_QUICK,
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
        quick_changes=_D_QUICK,
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
        quick_changes=_D_QUICK,
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
