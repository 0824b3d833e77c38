"""Working days (工作日): the one calendar every deadline counts in.

A day is a working day as the State Council's yearly holiday notice makes it
(国务院办公厅关于节假日安排的通知): Monday to Friday, except the public holidays, plus the
weekend days made working days in their place (调休). The ``chinese-calendar`` package
holds those notices. For a year it does not know yet (a notice comes out in November for
the next year) the days are Monday to Friday less the holidays on a fixed solar date
(``FIXED_HOLIDAYS``, 全国年节及纪念日放假办法 as revised in 2024: 元旦 1 January, 劳动节
1–2 May, 国庆节 1–3 October); the lunar ones and the adjusted weekends come with the
notice.

Beside it, the extra days off an administrator configures (a local holiday, or next
year's holidays before the package knows them) are skipped too: the cases app keeps them
(``cases.models.Holiday``, edited in the admin) and says so with
``extra_days_off_register`` in its ``AppConfig.ready``, so the calendar lives here, below
every app that counts deadlines (the screening's triage, a case's steps and its notice).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection

import chinese_calendar

# (first, last) -> the configured days off between them, both included
DaysOff = Callable[[dt.date, dt.date], set[dt.date]]

_extra_days_off: list[DaysOff] = []

# (month, day) of the public holidays on a fixed solar date, for a year the package does not know
FIXED_HOLIDAYS = frozenset({(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)})


def extra_days_off_register(read: DaysOff) -> None:
    """Say where configured days off are read (once, from an ``AppConfig.ready``)."""
    if read not in _extra_days_off:
        _extra_days_off.append(read)


def holidays_between(start: dt.date, end: dt.date) -> set[dt.date]:
    """The configured extra days off from ``start`` to ``end`` (one read per reader)."""
    days: set[dt.date] = set()
    for read in _extra_days_off:
        days |= read(start, end)
    return days


def is_working_day(day: dt.date, holidays: Collection[dt.date] = ()) -> bool:
    """Whether ``day`` is a working day; ``holidays``: configured extra days off."""
    if day in holidays:
        return False
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:  # a year the package does not know yet
        return day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS


def working_days_after(
    start: dt.date, n: int, holidays: Collection[dt.date] | None = None
) -> dt.date:
    """The ``n``-th working day after ``start`` (``start`` itself not counted).

    ``holidays``: the configured days off, if the caller has read them already.
    """
    if holidays is None:
        holidays = holidays_between(start, start + dt.timedelta(days=n * 3 + 60))
    day, counted = start, 0
    while counted < n:
        day += dt.timedelta(days=1)
        if is_working_day(day, holidays):
            counted += 1
    return day
