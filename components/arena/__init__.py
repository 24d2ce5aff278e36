"""The arena pages' pieces: side by side (columns, blind votes) and the leaderboard."""
