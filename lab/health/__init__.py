"""Gradient health: recording it while a network trains (TensorFlow), and reading the record (no TensorFlow)."""
