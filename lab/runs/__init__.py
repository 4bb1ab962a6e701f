"""Runs: the store that keeps them, the one train-and-save path, background jobs, and pretraining a class.

Where trainings run is the executor's choice (``lab.runs.engines``): in this process, or on Ray workers.
"""
