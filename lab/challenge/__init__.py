"""The class challenge: a teacher's contest on held-out digits, with a public and a private leaderboard.

``rules`` says whether a run may enter (the challenge's limits), ``scoring`` scores a run on the
held-out digits (``lab.data.held_out``: a public half and a private half), ``board`` keeps the
challenges and their entries in SQLite beside the run folders, so that they survive a restart.
"""
