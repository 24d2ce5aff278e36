"""The usage page's pieces: the totals and the charts over time."""
