"""Cells of the files Fangpin writes (CSV and XLSX): one helper against formula injection.

A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
read as a formula by a spreadsheet (unless it is a plain signed number) (a head's name ``=HYPERLINK(…)`` typed at intake would
run in the county office's Excel when it opens the bank file). ``safe_text`` puts an
apostrophe before such a value, as OWASP advises, so it stays text; every CSV row and
every XLSX text cell the project writes goes through it (``safe_row``, ``write_text``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# a plain signed number ("-1", "+86", "-5.00") is not a formula: it stays as written
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def safe_text(value: Any) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def safe_row(values: Iterable[Any]) -> list[str]:
    return [safe_text(v) for v in values]


def write_text(ws: Any, row: int, col: int, value: Any, fmt: Any = None) -> None:
    """``xlsxwriter`` ``write_string`` of a neutralised text."""
    if fmt is None:
        ws.write_string(row, col, safe_text(value))
    else:
        ws.write_string(row, col, safe_text(value), fmt)
