"""CSV that a spreadsheet opens as data, never as formulas.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as
a formula by Excel, LibreOffice and Google Sheets (``=HYPERLINK(...)`` in a model's reply
becomes a live link; older versions ran DDE commands). OWASP's advice ("CSV Injection")
is followed: such a text cell gets a leading ``'``, which the spreadsheet hides and which
makes it text. Numbers are left alone: ``-0.5`` is a number, not a formula. Every CSV
Chat Lab writes goes through ``csv_text``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

# OWASP's list: the characters a spreadsheet starts a formula (or DDE) with.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """``value``, with a text that a spreadsheet would read as a formula made text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: Sequence[Mapping[str, object]]) -> str:
    """``rows`` as CSV: columns in the order first seen, every text cell made safe."""
    columns = list(dict.fromkeys(name for row in rows for name in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[str(safe_cell(name)) for name in columns])
    writer.writeheader()
    writer.writerows(
        {str(safe_cell(name)): safe_cell(value) for name, value in row.items()} for row in rows
    )
    return out.getvalue()
