"""Reads of the registry, always through the user's region scope."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from fangpin.accounts import permissions
from fangpin.regions.models import Region

from .models import HEAD_RELATIONS, Household, IncomeRecord, Member


def household_scope(*, user: Any) -> QuerySet[Household]:
    return permissions.scope_filter(user, Household.objects.all(), "village__path")


def household_list(
    *,
    user: Any,
    q: str = "",
    region_code: str = "",
    household_type: str = "",
) -> QuerySet[Household]:
    """Households in scope, searched by household number, member name or ID number.

    Annotated with the head's name and ID number (for display, masked by the
    template) and the number of members.
    """
    qs = household_scope(user=user).select_related("village", "village__parent")
    q = q.strip()
    if q:
        matching_members = Member.objects.filter(household=OuterRef("pk")).filter(
            Q(name__contains=q) | Q(id_number=q.upper())
        )
        qs = qs.filter(Q(household_no=q) | Exists(matching_members))
    if region_code:
        region = Region.objects.filter(code=region_code).first()
        qs = qs.filter(village__path__startswith=region.path) if region else qs.none()
    if household_type:
        qs = qs.filter(household_type=household_type)
    head = Member.objects.filter(household=OuterRef("pk"), relation__in=HEAD_RELATIONS).order_by(
        "id"
    )
    # correlated sub-queries, not a join with every member grouped: the database works them
    # out for the page's rows only, and the paginator's COUNT leaves them out
    members = (
        Member.objects.filter(household=OuterRef("pk"))
        .order_by()
        .values("household")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return qs.annotate(
        head_name=Subquery(head.values("name")[:1]),
        head_id_number=Subquery(head.values("id_number")[:1]),
        member_count=Coalesce(Subquery(members), 0),
    ).order_by("household_no")


def household_get(*, user: Any, household_no: str) -> Household | None:
    return (
        household_scope(user=user)
        .select_related("village", "village__parent", "village__parent__parent")
        .filter(household_no=household_no)
        .first()
    )


def household_incomes(*, household: Household) -> QuerySet[IncomeRecord]:
    """Every income record of a household, newest year first, history within a year."""
    return household.incomes.select_related("recorded_by").order_by("-year", "-recorded_at", "-id")


def household_counts_by_type(*, user: Any) -> dict[str, int]:
    rows = household_scope(user=user).values("household_type").annotate(n=Count("id"))
    return {r["household_type"]: r["n"] for r in rows}


def member_count(*, user: Any) -> int:
    return permissions.scope_filter(user, Member.objects.all(), "household__village__path").count()
