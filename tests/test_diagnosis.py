"""Reading the curves: over-fitting, under-fitting, or neither, on hand-made histories."""

from __future__ import annotations

import math

from lab.analysis.diagnosis import (
    OVERFITTING,
    UNDERFITTING,
    diagnose_fit,
    health_reading,
    peak_growth,
    spread_sentence,
)


def history(val_loss, accuracy, val_accuracy):
    return {"val_loss": val_loss, "accuracy": accuracy, "val_accuracy": val_accuracy}


def test_a_validation_loss_that_rose_again_with_a_gap_is_over_fitting():
    found = diagnose_fit(history([0.5, 0.3, 0.35, 0.4], [0.8, 0.9, 0.95, 0.99], [0.85, 0.9, 0.9, 0.9]))
    assert found is not None and found.kind == OVERFITTING
    assert found.best_epoch == 2
    assert math.isclose(found.gap, 0.09)
    assert found.text.startswith("Over-fitting: the validation loss was lowest at epoch 2 and rose after it")
    assert "9.0% above validation accuracy" in found.text


def test_a_rise_in_the_last_epoch_only_is_not_over_fitting_yet():
    # Lowest at the last epoch but one: one epoch of rise could be noise.
    assert diagnose_fit(history([0.5, 0.3, 0.2, 0.25], [0.8, 0.9, 0.95, 0.99], [0.85, 0.9, 0.9, 0.9])) is None


def test_no_gap_between_train_and_validation_is_not_over_fitting():
    assert diagnose_fit(history([0.5, 0.3, 0.35, 0.4], [0.8, 0.9, 0.9, 0.91], [0.85, 0.9, 0.9, 0.9])) is None


def test_two_epochs_are_too_few_to_tell():
    assert diagnose_fit(history([0.3, 0.5], [0.9, 0.99], [0.9, 0.8])) is None


def test_low_training_accuracy_is_under_fitting():
    found = diagnose_fit(history([2.3, 2.3], [0.11, 0.12], [0.1, 0.11]))
    assert found is not None and found.kind == UNDERFITTING
    assert found.text.startswith("Under-fitting: even the training accuracy is low.")


def test_a_diverged_run_or_missing_curves_say_nothing():
    assert diagnose_fit(history([2.3, 2.3], [0.11, 0.12], [0.1, 0.11]), diverged=True) is None
    assert diagnose_fit({"accuracy": [0.1]}) is None
    assert diagnose_fit({"val_loss": [1.0]}) is None


def test_nan_validation_losses_fall_back_to_the_last_epoch():
    found = diagnose_fit(history([math.nan, math.nan, math.nan], [0.1, 0.1, 0.1], [0.1, 0.1, 0.1]))
    assert found is not None and found.kind == UNDERFITTING and found.best_epoch == 3


# ----------------------------------------------------------- gradient health
def health_record(first_norms, output_norms, saturated=(0.0, 0.02), dead=None):
    """Two recorded epochs (0 and 1) of a sigmoid network: one hidden layer and the output layer."""
    hidden = {"name": "hidden_1", "grad_norm": list(first_norms), "activation_layer": "act_1", "activation": "sigmoid",
              "saturated": list(saturated), "act_std": [0.05, 0.04], "dead": dead}  # fmt: skip
    return {"epochs": [0, 1], "layers": [hidden, {"name": "output", "grad_norm": list(output_norms)}]}


def test_spread_sentences_name_vanishing_exploding_and_healthy_gradients():
    assert "1,000 times smaller" in spread_sentence(1000.0) and "vanishing" in spread_sentence(1000.0)
    assert "3.0 orders of magnitude" in spread_sentence(1000.0)
    assert "20 times larger" in spread_sentence(0.05) and "exploding" in spread_sentence(0.05)
    assert spread_sentence(2.0).endswith("(2x): healthy")
    assert "could not be compared" in spread_sentence(None)


def test_peak_growth_finds_the_layer_whose_gradient_grew_most():
    record = health_record([1e-4, 1e-3], [1.0, 2.0])
    assert peak_growth(record) == (10.0, "hidden_1", 1)
    assert peak_growth({"epochs": [0], "layers": [{"name": "output", "grad_norm": [0.0]}]}) is None


def test_health_reading_puts_the_records_numbers_in_words():
    text = health_reading(health_record([1e-4, 1e-4], [1.0, 1.0]))
    assert text.startswith("Before training, the first layer's gradient is **10,000 times smaller**")
    assert "After epoch 1," in text
    assert "At most 2% of the sigmoid outputs are saturated, so saturation is not the cause here" in text
    assert "standard deviation 0.04 at most" in text
    assert "exploding" not in text and "dead" not in text
    exploding = health_reading(health_record([1.0, 100.0], [1.0, 1.0], dead=[0.0, 0.25]), diverged=True)
    assert "grew up to **100 times** its size before training (hidden_1, epoch 1)" in exploding
    assert "Up to 25% of a layer's ReLU units are dead" in exploding
    assert exploding.endswith("where the numbers became NaN or huge.")
