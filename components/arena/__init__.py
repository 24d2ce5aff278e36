"""The arena's pieces: the leaderboard page's filters, standings, charts and vote list.

Votes are cast from other pages (side by side, Compare's cards) through the shared
``components.voting``; what is here reads them back (``chatlab.arena``) and draws them.
"""
