"""Reading the curves: over-fitting, under-fitting, or neither, on hand-made histories."""

from __future__ import annotations

import math

from lab.analysis.diagnosis import OVERFITTING, UNDERFITTING, diagnose_fit


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
