"""The working-day calendar: the State Council's holidays and adjusted weekends, a year the
calendar package does not know yet, and the days off an administrator configures."""

from __future__ import annotations

import datetime as dt

from fangpin.common.workdays import (
    extra_days_off_register,
    holidays_between,
    is_working_day,
    working_days_after,
)

D = dt.date


def test_the_spring_festival_of_2026_and_its_working_saturdays():
    # 国办发明电〔2025〕7号: 15–23 February off; Saturdays 14 and 28 February worked
    assert not is_working_day(D(2026, 2, 16))  # a Monday of the holiday
    assert is_working_day(D(2026, 2, 14)) and is_working_day(D(2026, 2, 28))  # Saturdays
    # two working days after Thursday 12 February: Friday 13, Saturday 14
    assert working_days_after(D(2026, 2, 12), 2, holidays=()) == D(2026, 2, 14)
    # two working days after Friday 13 February: Saturday 14, then Tuesday 24
    assert working_days_after(D(2026, 2, 13), 2, holidays=()) == D(2026, 2, 24)


def test_a_year_the_package_does_not_know_is_monday_to_friday_less_the_fixed_holidays():
    assert not is_working_day(D(2027, 1, 1))  # 元旦, a Friday
    assert not is_working_day(D(2027, 1, 2))  # a Saturday
    assert is_working_day(D(2027, 1, 4))
    assert not is_working_day(D(2027, 10, 1)) and is_working_day(D(2027, 5, 3))  # Mon 3 May
    # across the new year: Thursday 31 December 2026, then Monday 4 January 2027
    assert working_days_after(D(2026, 12, 30), 2, holidays=()) == D(2027, 1, 4)


def test_configured_days_off_are_skipped_too(db):
    from fangpin.cases.models import Holiday

    Holiday.objects.create(date=D(2027, 1, 4), name="县里另放一天 (a local day off)")
    assert holidays_between(D(2027, 1, 1), D(2027, 1, 31)) == {D(2027, 1, 4)}
    assert working_days_after(D(2026, 12, 30), 2) == D(2027, 1, 5)
    assert not is_working_day(D(2027, 1, 4), holidays_between(D(2027, 1, 4), D(2027, 1, 4)))


def test_a_reader_is_registered_once():
    def read(start: dt.date, end: dt.date) -> set[dt.date]:
        return set()

    from fangpin.common import workdays

    before = list(workdays._extra_days_off)
    extra_days_off_register(read)
    extra_days_off_register(read)
    assert workdays._extra_days_off.count(read) == 1
    workdays._extra_days_off[:] = before
