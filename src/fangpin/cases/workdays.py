"""A case's deadlines in working days: the notice's end and each step's deadline.

The calendar is ``common.workdays`` (the State Council's holidays and adjusted working
weekends, and the extra days off configured here as ``Holiday`` rows, which
``configured_days_off`` reads for it).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from fangpin.common.workdays import working_days_after


def configured_days_off(start: dt.date, end: dt.date) -> set[dt.date]:
    """The public holidays configured in the admin (``Holiday``) from ``start`` to ``end``."""
    from .models import Holiday

    return set(
        Holiday.objects.filter(date__gte=start, date__lte=end).values_list("date", flat=True)
    )


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
