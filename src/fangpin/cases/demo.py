"""Demo cases for ``make demo``: a few applications, reports and warnings walked through
the workflow so that cases wait at every step and some have a payment requested.

Runs every step through ``services`` (permissions, guards, audit) as a synthetic system
account (a superuser that cannot log in). Deterministic, and safe to run again: a county
that already has cases is left alone.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from fangpin.common.money import Money
from fangpin.regions.models import Region
from fangpin.registry.models import Household

from . import services
from .models import Case
from .workflow import State

SYSTEM_USERNAME = "synth-cases"
# (step the case stops before, how many); None: walked to payment requested
PLAN: list[tuple[str | None, int]] = [
    ("household_check", 4),
    ("data_compare", 3),
    ("village_review", 3),
    ("notice_close", 3),
    ("township_review", 3),
    ("county_decide", 3),
    ("loss_determine", 3),
    (None, 6),
]
ORDER = [
    "household_check",
    "data_compare",
    "village_review",
    "notice_close",
    "township_review",
    "county_decide",
    "loss_determine",
]
SOURCES = ["application", "report", "warning"]


def _system_user() -> Any:
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=SYSTEM_USERNAME,
        defaults={"is_superuser": True, "is_staff": False, "is_active": True},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def _figures(household: Household) -> dict[str, Any]:
    members = max(1, household.members.count())
    record = household.incomes.order_by("-year", "-recorded_at", "-id").first()
    income = record.annual_income if record is not None else Money("8000")
    self_paid = Money(income.amount) + Money(20_000 + 1_000 * (household.pk % 17))
    return {
        "verified_members": members,
        "verified_income": str(income),
        "verified_self_paid": str(self_paid),
        "consent_signed": True,
    }


@transaction.atomic
def cases_demo_seed(*, county: Region) -> dict[str, int]:
    """Open and walk demo cases in ``county``; returns how many cases end at each state."""
    if Case.objects.filter(region_path__startswith=county.path).exists():
        return {}
    actor = _system_user()
    today = timezone.localdate()
    households = list(
        Household.objects.filter(village__path__startswith=county.path)
        .exclude(bank_account="")
        .select_related("village")
        # the first households: the demo's township officer and village cadre see them
        .order_by("household_no")[: sum(n for _, n in PLAN)]
    )
    counts: dict[str, int] = {}
    i = 0
    for stop, n in PLAN:
        for _ in range(n):
            if i >= len(households):
                break
            household = households[i]
            case, _joined = services.case_open(
                household=household,
                circumstance="medical" if i % 3 else "education",
                period=today.year,
                source=SOURCES[i % 3],
                reference=f"DEMO-{i:03d}" if SOURCES[i % 3] == "warning" else "",
                description="demo 演示",
                actor=actor,
            )
            i += 1
            for name in ORDER:
                if name == stop:
                    break
                if name == "notice_close":
                    Case.objects.filter(pk=case.pk).update(notice_end=today)
                    case.refresh_from_db()
                data: dict[str, Any] = {}
                if name == "household_check":
                    data = _figures(household)
                elif name == "village_review":
                    data = {"review_date": today, "review_attendees": 18, "review_result": "同意"}
                try:
                    case = services.case_transition(
                        case=case, transition=name, actor=actor, data=data
                    )
                except services.CaseError as exc:  # not eligible, or the fund refused
                    case = services.case_transition(
                        case=Case.objects.get(pk=case.pk),
                        transition="reject",
                        actor=actor,
                        reason=exc.message,
                    )
                    break
            counts[case.state] = counts.get(case.state, 0) + 1
    return counts


__all__ = ["cases_demo_seed", "State"]
