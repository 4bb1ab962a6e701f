"""Series A: the "Advanced MLP" ablation, one technique at a time (course files 000 and 001)."""

from __future__ import annotations

from lab.catalog.lessons import BEATS, BELOW, VOTES, Claim
from lab.catalog.preset import Preset, Series
from lab.spec import ExperimentSpec

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

SERIES = Series(
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
    claims=(
        Claim("The naive sigmoid + SGD model (A1) stays near chance", BELOW, "A1", value=0.2),
        Claim("ReLU (A3) learns where the naive model (A1) does not", BEATS, "A3", "A1", value=0.2),
        Claim("Adam with ELU (A4) learns faster than plain SGD (A3)", BEATS, "A4", "A3"),
        Claim("Batch norm (A5) adds to Adam and ELU (A4)", BEATS, "A5", "A4", quick=False),
        # Not promised by quick mode: soft voting is no guarantee for members near chance, and on full MNIST
        # even the course's length shows it failing (REPRODUCTION.md, series A); averaging shows its worth on A8.
        Claim("The ensemble (A7) is at least as accurate as its average member", VOTES, "A7", quick=False),
    ),
)

PRESETS: list[Preset] = [
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
        quick_gap="Raw 0-255 pixels start this network far above chance (a loss near 100 before training), and "
        "dropout's noise on layers of 50 units slows Adam's way down from there: in a few epochs it is still "
        "climbing. Quick mode shows the lesson's direction (dropout costs this small network accuracy: A6 below "
        "A4), not its size, which takes the course's 100 epochs.",
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
