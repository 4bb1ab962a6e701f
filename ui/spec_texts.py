"""What each spec control is called and what it does, in a student's words (the controls' help texts)."""

from __future__ import annotations

HELP = {
    "data_source": (
        "Which images to learn from: the MNIST sample (5,000 real digits that ship with the lab, offline), full "
        "MNIST, Fashion-MNIST, or your own IDX files."
    ),
    "idx_folder": "A folder holding train-images, train-labels, t10k-images and t10k-labels IDX files (.gz or not).",
    "train_subset": (
        "Train on only part of the training images: fewer images train faster but the network over-fits sooner."
    ),
    "subset_mode": (
        "How the part is picked: at random with the same share of each digit, every k-th image, or the first ones."
    ),
    "val_split": (
        "The share of training images kept aside to check, after each epoch, how well the network does on "
        "images it never trains on."
    ),
    "val_mode": (
        "Random keeps each digit's share; 'last' copies Keras' validation_split (the last images, "
        "unshuffled); 'test' validates on the test set."
    ),
    "center": (
        "Subtract the average training image from every image, so that pixels vary around zero, which often "
        "speeds up learning."
    ),
    "raw_pixels": (
        "Feed the pixels as stored, 0 to 255, instead of scaled to 0-1: what course notebooks 000, 001 and 004 "
        "did. Inputs 255 times larger make plain SGD take 255 times larger steps in the first layer, sigmoid "
        "units saturate, and batch normalization has real work to do."
    ),
    "test_subset": "Evaluate on only the first N test images (0 = all of them).",
    "data_seed": "Fixes which images are kept and which validate, so that runs with different seeds see the same data.",
    "n_hidden": "Layers of units between the pixels and the ten outputs; 0 hidden layers is logistic regression.",
    "width": "How many units each hidden layer has: more units can learn more patterns but have more weights to fit.",
    "per_layer": "Give each hidden layer its own number of units (for example 580, 325, 125).",
    "width_i": "Units in this hidden layer.",
    "activation": (
        "The function each unit applies to its weighted sum: ReLU keeps gradients alive, sigmoid and tanh "
        "squash them and can make deep networks stall."
    ),
    "initializer": (
        "How the weights are drawn before training: scaled schemes (Glorot, He) keep signals from vanishing "
        "or exploding through the layers."
    ),
    "init_stddev": "Spread of the normal distribution the initial weights are drawn from.",
    "batchnorm": (
        "Batch normalization rescales each layer's outputs to mean 0 and spread 1 on every batch, which "
        "speeds up and steadies training."
    ),
    "dropout": (
        "During training, switch off this share of the hidden units at random, so that no unit can rely on "
        "another: fights over-fitting."
    ),
    "l2": (
        "Add the sum of squared weights times this number to the loss, pulling weights toward zero: a simpler"
        " network over-fits less."
    ),
    "l2_output": "Also apply the L2 penalty to the output layer's weights.",
    "output": (
        "Softmax with cross-entropy (the modern choice) or sigmoid outputs with mean squared error (the older"
        " textbook network)."
    ),
    "optimizer": (
        "The rule that turns gradients into weight updates: SGD takes plain steps, Adam and RMSprop adapt the"
        " step size for each weight."
    ),
    "learning_rate": (
        "How big each update step is: too small and learning crawls, too big and the loss jumps around or explodes."
    ),
    "momentum": (
        "SGD only: keep a share of the previous step, so that updates build up speed in a consistent direction."
    ),
    "nesterov": "SGD only: look ahead along the momentum before computing the gradient, a slightly smarter momentum.",
    "batch_size": (
        "How many images are averaged for each update: small batches give many noisy steps, large batches few"
        " smooth ones."
    ),
    "epochs": "How many times training goes through all training images.",
    "early_stopping": (
        "Stop when the validation result has not improved for this many epochs (0 = off), before the network over-fits."
    ),
    "es_monitor": "Which number early stopping watches.",
    "es_min_delta": "The smallest change that counts as an improvement for early stopping.",
    "es_restore_best": "When early stopping ends training, go back to the weights of the best epoch.",
    "seed": "Fixes the random initial weights, dropout and batch order, so that the same settings give the same run.",
}

SOURCE_NAMES = {
    "sample": "MNIST sample (5,000)",
    "mnist": "MNIST (70,000)",
    "fashion": "Fashion-MNIST (70,000)",
    "idx": "IDX files in a folder",
}
BATCHNORM_NAMES = {"none": "off", "before": "before the activation", "after": "after the activation"}
OUTPUT_NAMES = {"softmax_ce": "softmax + cross-entropy", "sigmoid_mse": "sigmoid + squared error"}
MONITOR_NAMES = {
    "val_loss": "validation loss",
    "val_accuracy": "validation accuracy",
    "loss": "training loss",
    "accuracy": "training accuracy",
}
VAL_MODE_NAMES = {"random": "random, stratified", "last": "last images (Keras)", "test": "the test set"}
SUBSET_MODE_NAMES = {"random": "random, stratified", "every": "every k-th image", "first": "the first images"}
