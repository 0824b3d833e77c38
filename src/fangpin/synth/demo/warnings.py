"""Demo warnings in several states (``make demo``): after the screening of a year (its
warnings *open*, or *excluded* by data comparison), a few are worked as a township
officer would — some given to the township officer to check, some dismissed with a
reason found at the household. The relief cases opened
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

from fangpin.accounts.models import Role
from fangpin.regions.models import Region
from fangpin.screening.models import DismissReason, Warning, WarningStatus
from fangpin.screening.triage import checkers, warnings_assign, warnings_dismiss

# (state, how many of a year's new warnings end there), taken from the newest warnings
# of the year so that the oldest stay new for the cases (``cases.WARNING_SHARE``); the
# ones being checked are the demo township's, given to its township officer
WARNING_PLAN: list[tuple[str, int]] = [(WarningStatus.CHECKING, 8), (WarningStatus.DISMISSED, 6)]
# what the household check found, as a township officer writes it (排除理由)
DISMISS_REASONS = [
    (DismissReason.COSTS_COVERED, "入户核查：医疗费用已由商业保险报销，实际自付低于起付线"),
    (DismissReason.INCOME_ABOVE, "入户核查：家庭实际收入高于收入线（子女务工收入未入台账）"),
    (DismissReason.NOT_RESIDENT, "入户核查：该户已于年内迁出本县"),
    (DismissReason.DATA_WRONG, "入户核查：住院人员已不在该户，户籍信息待更新"),
]


def warning_demo_set(*, warnings: list[Warning], state: str, actor: Any) -> int:
    """Move ``warnings`` (new) to ``state`` as the page's buttons do; how many moved."""
    if not warnings:
        return 0
    if state == WarningStatus.CHECKING:
        township = warnings[0].region_path
        checker = next(
            (
                c
                for c in checkers(user=actor).filter(role=Role.TOWNSHIP_OFFICER)
                if township.startswith(c.region.path)
            ),
            None,
        )
        if checker is None:
            return 0
        return len(warnings_assign(warnings=warnings, assignee=checker, actor=actor))
    if state == WarningStatus.DISMISSED:
        moved = 0
        for k, warning in enumerate(warnings):
            code, text = DISMISS_REASONS[k % len(DISMISS_REASONS)]
            moved += len(
                warnings_dismiss(warnings=[warning], actor=actor, reason_code=code, reason=text)
            )
        return moved
    raise ValueError(f"the demo cannot move a warning to {state!r}")


@transaction.atomic
def warnings_demo_seed(*, county: Region, year: int, actor: Any) -> dict[str, int]:
    """Work ``year``'s warnings in ``county`` as ``WARNING_PLAN`` says, unless a warning of
    the year has been worked already (safe to run again); how many warnings of the year are
    in each state."""
    warnings = Warning.objects.filter(region_path__startswith=county.path, year=year)
    planned = [state for state, _n in WARNING_PLAN]
    if not warnings.filter(status__in=planned).exists():
        # the newest; within one run by household (not by id: see cases._intakes)
        newest = ("-created_at", "-household__household_no", "-circumstance")
        for state, n in WARNING_PLAN:
            pool = warnings.filter(status=WarningStatus.NEW)
            if state == WarningStatus.CHECKING:
                township = (
                    checkers(user=actor)
                    .filter(role=Role.TOWNSHIP_OFFICER, region__path__startswith=county.path)
                    .order_by("username")
                    .first()
                )
                if township is None:
                    continue
                pool = pool.filter(region_path__startswith=township.region.path)
            warning_demo_set(warnings=list(pool.order_by(*newest)[:n]), state=state, actor=actor)
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
