"""The arena pages' pieces: side by side (columns, blind votes, sessions) and the
leaderboard (filters, standings, charts, the vote list).

Votes are cast from several pages (side by side, Compare's cards) through the shared
``components.voting``; the leaderboard reads them back (``chatlab.arena``) and draws them.
"""
