"""What the home page shows of pairing assistance: a cadre's own households, overdue first;
for officers, the overdue count of the visit period and the 返贫/新致贫 cards, which load
just after the page (``home_outcome``, from ``/pairing/outcomes/home/``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q

from fangpin.accounts import permissions
from fangpin.registry.models import Household

from .models import Cadre
from .outcomes import OutcomeReport, outcome_latest_year, outcome_report
from .rules import VisitPeriod, visit_period_of_user
from .selectors import cadre_of, compliance_by_region, followup_households


@dataclass
class HomeSummary:
    cadre: Cadre | None = None
    mine: list[Household] = field(default_factory=list)
    mine_total: int = 0
    mine_overdue: int = 0
    overdue_total: int | None = None
    paired_total: int | None = None
    period: VisitPeriod | None = None  # the visit period the overdue count speaks of
    # the 返贫/新致贫 cards load after the page (``home_outcome``): at city scale they take
    # a second to count, and the rest of the page should not wait for them
    show_outcomes: bool = False


def home_summary(*, user: Any, today: dt.date, mine_limit: int = 10) -> HomeSummary | None:
    """What the home page shows of pairing: a cadre's overdue households first; for
    officers, counts of overdue households and whether to load the 返贫/新致贫 cards."""
    if not permissions.can(user, "pairing.view"):
        return None
    summary = HomeSummary(cadre=cadre_of(user=user))
    if summary.cadre is not None:
        mine = followup_households(user=user, today=today, cadre=summary.cadre)
        counts = mine.aggregate(n=Count("pk"), late=Count("pk", filter=Q(overdue=True)))
        summary.mine_total, summary.mine_overdue = counts["n"], counts["late"]
        summary.mine = list(mine[:mine_limit])
    if permissions.can(user, "pairing.outcomes"):
        summary.paired_total, summary.overdue_total = _followup_counts(user, today)
        summary.period = visit_period_of_user(user=user, today=today)
        summary.show_outcomes = True
    return summary


def home_outcome(*, user: Any, today: dt.date) -> OutcomeReport | None:
    """返贫/新致贫 counts of the current year (``today``'s) in the user's region — or, before
    its incomes are on record, of the latest year that has them."""
    year = outcome_latest_year(user=user, until=today.year)
    return None if year is None else outcome_report(user=user, year=year, with_rows=False)


def _followup_counts(user: Any, today: dt.date) -> tuple[int, int]:
    rows = compliance_by_region(user=user, today=today)
    paired = sum(r.paired for r in rows)
    return paired, paired - sum(r.visited for r in rows)
