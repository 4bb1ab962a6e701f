"""Benchmarks that compare two ways side by side in one run and print ratios (``python -m lab bench``)."""
