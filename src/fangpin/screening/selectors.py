"""Reads of warnings, always through the user's region scope (``permissions.scope_filter``)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from fangpin.accounts import permissions

from .models import Warning, WarningStatus

# the work list's "open": still to be worked (new or checking), as ``triage.OPEN_STATES``
OPEN = "open"
OPEN_STATES = (WarningStatus.NEW, WarningStatus.CHECKING)
STATUS_FILTERS = (OPEN, *WarningStatus.values)

SORTS = {
    "relief": ["-estimated_relief", "id"],
    "self_paid": ["-self_paid", "id"],
    "household": ["household__household_no", "circumstance"],
    "newest": ["-created_at", "-id"],
}


def warning_scope(*, user: Any) -> QuerySet[Warning]:
    return permissions.scope_filter(user, Warning.objects.all(), "household__village__path")


def warning_list(
    *,
    user: Any,
    year: int | None = None,
    circumstance: str = "",
    status: str = OPEN,
    region: str = "",
    income_known: str = "",
    sort: str = "relief",
    mine: bool = False,
) -> QuerySet[Warning]:
    """The user's warnings, filtered; ``status`` "open" is new or checking, "" any;
    ``mine``: only those assigned to the user to check."""
    qs = warning_scope(user=user).select_related(
        "household", "household__village", "household__village__parent", "assigned_to"
    )
    if year:
        qs = qs.filter(year=year)
    if circumstance:
        qs = qs.filter(circumstance=circumstance)
    if status == OPEN:
        qs = qs.filter(status__in=OPEN_STATES)
    elif status:
        qs = qs.filter(status=status)
    if mine:
        qs = qs.filter(assigned_to=user)
    if region:
        node = permissions.regions_visible(user).filter(code=region).first()
        qs = qs.filter(household__village__path__startswith=node.path) if node else qs.none()
    if income_known in ("yes", "no"):
        qs = qs.filter(income_known=income_known == "yes")
    return qs.order_by(*SORTS.get(sort, SORTS["relief"]))


def warning_get(*, user: Any, pk: int) -> Warning | None:
    return (
        warning_scope(user=user)
        .select_related("household", "household__village", "run", "assigned_to")
        .filter(pk=pk)
        .first()
    )


def warning_years(*, user: Any) -> list[int]:
    return sorted(
        set(warning_scope(user=user).values_list("year", flat=True).distinct()), reverse=True
    )
