"""Hyperparameter search: what a search may change (``space``), and running it on Ray Tune (``runner``).

Every trial is a stored run like any other (``lab.runs``); Ray Tune and Optuna are imported only when a search runs.
"""
