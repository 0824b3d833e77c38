"""Demo warnings in several states (``make demo``): after the screening of a year (its
warnings *open*, or *excluded* by data comparison), a few are worked as a township
officer would — dismissed with a reason found at the household. The relief cases opened
from warnings (*case opened*) are ``synth.demo.cases``'.

``WARNING_PLAN`` says how many of a year's open warnings end in each state, and
``warning_demo_set`` is the one place that knows how a warning reaches a state (through
``screening.services``: permissions aside, the same guards and audit rows as the page's
buttons). When the warning states change, these two are what to adapt.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Count

from fangpin.regions.models import Region
from fangpin.screening.models import Warning, WarningStatus
from fangpin.screening.services import warning_dismiss

# (state, how many of a year's open warnings end there), taken from the newest warnings
# of the year so that the oldest stay open for the cases (``cases.WARNING_SHARE``)
WARNING_PLAN: list[tuple[str, int]] = [(WarningStatus.DISMISSED, 6)]
# what the household check found, as a township officer writes it (排除理由)
DISMISS_REASONS = [
    "入户核查：医疗费用已由商业保险报销，实际自付低于起付线",
    "入户核查：家庭实际收入高于收入线（子女务工收入未入台账）",
    "入户核查：该户已于年内迁出本县",
    "入户核查：住院人员已不在该户，户籍信息待更新",
]


def warning_demo_set(*, warning: Warning, state: str, actor: Any, k: int) -> Warning:
    """Move one open ``warning`` to ``state`` (``k``: its place in the plan, to vary the
    reason)."""
    if state == WarningStatus.DISMISSED:
        reason = DISMISS_REASONS[k % len(DISMISS_REASONS)]
        return warning_dismiss(warning=warning, actor=actor, reason=reason)
    raise ValueError(f"the demo cannot move a warning to {state!r}")


@transaction.atomic
def warnings_demo_seed(*, county: Region, year: int, actor: Any) -> dict[str, int]:
    """Work ``year``'s warnings in ``county`` as ``WARNING_PLAN`` says, unless a warning of
    the year has been worked already (safe to run again); how many warnings of the year are
    in each state."""
    warnings = Warning.objects.filter(region_path__startswith=county.path, year=year)
    planned = [state for state, _n in WARNING_PLAN]
    if not warnings.filter(status__in=planned).exists():
        wanted = sum(n for _state, n in WARNING_PLAN)
        # the newest; within one run by household (not by id: see cases._intakes)
        newest = list(
            warnings.filter(status=WarningStatus.OPEN).order_by(
                "-created_at", "-household__household_no", "-circumstance"
            )[:wanted]
        )
        states = [state for state, n in WARNING_PLAN for _ in range(n)]
        for k, (warning, state) in enumerate(zip(newest, states, strict=False)):
            warning_demo_set(warning=warning, state=state, actor=actor, k=k)
    return warning_counts(county=county, year=year)


def warning_counts(*, county: Region, year: int) -> dict[str, int]:
    """How many of ``year``'s warnings in ``county`` are in each state."""
    rows = (
        Warning.objects.filter(region_path__startswith=county.path, year=year)
        .order_by()
        .values("status")
        .annotate(n=Count("id"))
    )
    return {r["status"]: r["n"] for r in rows}
