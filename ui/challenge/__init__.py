"""The Challenge page's own parts: the leaderboard, its parallel-coordinates view, and a student's entry."""
