"""Working days: weekends and the configured public holidays (``Holiday``) are skipped."""

from __future__ import annotations

import datetime as dt

from django.conf import settings


def holidays_between(start: dt.date, end: dt.date) -> set[dt.date]:
    from .models import Holiday

    return set(
        Holiday.objects.filter(date__gte=start, date__lte=end).values_list("date", flat=True)
    )


def is_working_day(day: dt.date, holidays: set[dt.date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def working_days_after(start: dt.date, n: int, holidays: set[dt.date] | None = None) -> dt.date:
    """The ``n``-th working day after ``start`` (``start`` itself not counted).

    ``holidays``: the public holidays to skip, if the caller has read them already.
    """
    if holidays is None:
        holidays = holidays_between(start, start + dt.timedelta(days=n * 3 + 60))
    day, counted = start, 0
    while counted < n:
        day += dt.timedelta(days=1)
        if is_working_day(day, holidays):
            counted += 1
    return day


def notice_end(start: dt.date, days: int) -> dt.date:
    """The day a notice posted on ``start`` may close: after ``days`` full working days.

    The notice counts from the first working day on or after ``start``; it may
    close on the working day after the last of them.
    """
    return working_days_after(start - dt.timedelta(days=1), days + 1)


def step_deadline_days(state: str) -> int | None:
    return getattr(settings, "FANGPIN_CASE_DEADLINES", DEFAULT_DEADLINES).get(state)


DEFAULT_DEADLINES: dict[str, int] = {
    "household_check": 5,
    "data_comparison": 3,
    "village_review": 10,
    "public_notice": 8,
    "township_review": 5,
    "county_decision": 5,
    "loss_determination": 5,
    "payment_requested": 10,
}
