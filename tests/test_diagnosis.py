"""Reading the curves: over-fitting, under-fitting, or neither, on hand-made histories."""

from __future__ import annotations

import math

from lab.analysis.diagnosis import (
    EXPLODING,
    HEALTHY,
    OVERFITTING,
    SLOW,
    UNDERFITTING,
    UNEVEN,
    VANISHING,
    VANISHING_SPREAD,
    diagnose_fit,
    gradient_verdict,
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


def test_spread_sentences_name_vanishing_exploding_and_even_gradients():
    assert "1,000 times smaller" in spread_sentence(1000.0) and "vanishing" in spread_sentence(1000.0)
    assert "3.0 orders of magnitude" in spread_sentence(1000.0)
    assert "20 times larger" in spread_sentence(0.05) and "exploding" in spread_sentence(0.05)
    assert spread_sentence(2.0).endswith("(2x): the gradient reaches every layer")
    assert "could not be compared" in spread_sentence(None)
    # A network that learned is not said to have a vanishing gradient, whatever the ratio.
    learned_anyway = spread_sentence(1000.0, learned=True)
    assert "1,000 times smaller" in learned_anyway and "vanishing" not in learned_anyway


def test_peak_growth_finds_the_layer_whose_gradient_grew_most():
    record = health_record([1e-4, 1e-3], [1.0, 2.0])
    assert peak_growth(record) == (10.0, "hidden_1", 1)
    assert peak_growth({"epochs": [0], "layers": [{"name": "output", "grad_norm": [0.0]}]}) is None


def test_health_reading_puts_the_records_numbers_in_words():
    text = health_reading(health_record([1e-4, 1e-4], [1.0, 1.0]), history=curves(0.11, 2.30, 2.30))
    assert text.startswith("Before training, the first layer's gradient is **10,000 times smaller**")
    assert "After epoch 1," in text
    assert "At most 2% of the sigmoid outputs are saturated, so saturation is not the cause here" in text
    assert "standard deviation 0.04 at most" in text
    assert "exploding" not in text.lower() and "dead" not in text
    assert text.endswith("**Vanishing gradient**: the first layers barely learn (11% training accuracy).")
    exploding = health_reading(health_record([1.0, 100.0], [1.0, 1.0], dead=[0.0, 0.25]), diverged=True)
    assert "grew up to **100 times** its size before training (hidden_1, epoch 1): an exploding gradient" in exploding
    assert "Up to 25% of a layer's ReLU units are dead" in exploding
    assert "where the numbers became NaN or huge." in exploding
    assert exploding.endswith("**Exploding gradient**: the loss became NaN or exploded.")


def curves(final_accuracy, first_loss, last_loss):
    """A two-epoch history: training accuracy at the end, training loss at the start and the end."""
    return {"accuracy": [final_accuracy / 2, final_accuracy], "loss": [first_loss, last_loss]}


def verdict_words(text):
    """The verdict words a reading uses: every one it names."""
    lowered = text.lower()
    return {word for word in ("healthy", "exploding", "vanishing") if word in lowered}


def test_a_gradient_that_grew_while_the_loss_fell_is_learning_not_exploding():
    # The case: a 94% CNN whose gradient grew 40 times as it learned was called healthy and exploding.
    record = health_record([0.05, 2.0], [0.1, 1.0])
    history = curves(0.94, 1.8, 0.2)
    verdict = gradient_verdict(record, history=history)
    assert verdict.kind == HEALTHY
    text = health_reading(record, history=history)
    assert "grew up to **40 times**" in text and "while the training loss fell: the network is learning" in text
    assert verdict_words(text) == {"healthy"}
    assert text.endswith("**Healthy**: the gradient reaches every layer (94% training accuracy).")


def test_a_gradient_that_grew_while_the_loss_rose_is_exploding():
    record = health_record([0.05, 2.0], [0.1, 1.0])
    verdict = gradient_verdict(record, history=curves(0.12, 2.3, 9.0))
    assert verdict.kind == EXPLODING
    text = health_reading(record, history=curves(0.12, 2.3, 9.0))
    assert verdict_words(text) == {"exploding"}


def test_a_smaller_first_layer_gradient_in_a_network_that_learned_is_not_vanishing():
    record = health_record([1e-3, 1e-3], [1.0, 1.0])
    verdict = gradient_verdict(record, history=curves(0.96, 1.0, 0.1))
    assert verdict.kind == UNEVEN
    text = health_reading(record, history=curves(0.96, 1.0, 0.1))
    assert "After epoch 1, the first layer's gradient is **1,000 times smaller**" in text
    assert "yet the network learned" in text
    # Before training nothing was learned yet: that epoch may say vanishing; the end may not.
    after = text.split("After epoch 1,", 1)[1]
    assert "vanishing" not in after.lower() and "exploding" not in text.lower()


def test_even_gradients_in_a_network_that_has_not_learned_yet_say_so():
    # The "ReLU fixes it" run at 17.9%: its words must not call it fixed or healthy.
    record = health_record([0.5, 0.5], [1.0, 1.0])
    verdict = gradient_verdict(record, history=curves(0.179, 2.3, 2.2))
    assert verdict.kind == SLOW
    assert "barely learned yet** (18% training accuracy)" in verdict.text
    assert "healthy" not in health_reading(record, history=curves(0.179, 2.3, 2.2)).lower()


def test_the_verdict_thresholds_are_the_sentences_thresholds():
    # Just inside and just outside the vanishing threshold: the sentence and the verdict switch together.
    for spread, vanishing in ((VANISHING_SPREAD * 1.01, True), (VANISHING_SPREAD * 0.99, False)):
        record = health_record([1.0 / spread, 1.0 / spread], [1.0, 1.0])
        history = curves(0.11, 2.3, 2.3)
        assert (gradient_verdict(record, history=history).kind == VANISHING) is vanishing
        assert ("vanishing" in spread_sentence(spread)) is vanishing


def test_no_dead_unit_is_said_in_words_not_as_up_to_zero_percent():
    text = health_reading(health_record([0.5, 0.5], [1.0, 1.0], dead=[0.0, 0.0]), history=curves(0.9, 1.0, 0.3))
    assert "No ReLU unit is dead" in text and "Up to 0%" not in text
