"""Runs: the store that keeps them, the one train-and-save path, background jobs, and pretraining a class."""
