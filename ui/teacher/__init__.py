"""The teacher's panel: every session's trainings, pretraining, deleting runs, the limits."""
