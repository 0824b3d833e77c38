"""Fixtures for the case tests: a managed household with a bank account, a user of every
role at the right level for it, an insurance contract for this year, and a helper that
walks a case to any step."""

from __future__ import annotations

import pytest
from django.utils import timezone

from fangpin.cases import services
from fangpin.funds import services as fund_services
from fangpin.registry.models import Household

# figures the policy engine finds eligible for a marginal/unstable household (medical)
MEMBERS, INCOME, SELF_PAID = 4, "12000.00", "30000.00"


@pytest.fixture(autouse=True)
def lake(settings, tmp_path):
    """Each test's own lake, empty unless the test imports feeds: data comparison reads it."""
    settings.LAKE_DIR = tmp_path / "lake"
    return settings.LAKE_DIR


@pytest.fixture
def household(county):
    return (
        Household.objects.filter(village__path__startswith=county.path)
        .exclude(bank_account="")
        .select_related("village")
        .order_by("household_no")
        .first()
    )


@pytest.fixture
def other_household(county, household):
    """A household in another township than ``household``."""
    township_path = "/".join(household.village.path.strip("/").split("/")[:3]) + "/"
    return (
        Household.objects.filter(village__path__startswith=county.path)
        .exclude(village__path__startswith=township_path)
        .exclude(bank_account="")
        .select_related("village")
        .order_by("household_no")
        .first()
    )


@pytest.fixture
def roles(make_user, household):
    """One user of each role, scoped to the household's village / township / county."""
    village = household.village
    township = village.parent
    county = township.parent
    return {
        "village_cadre": make_user("village_cadre", village),
        "township_officer": make_user("township_officer", township),
        "county_officer": make_user("county_officer", county),
        "insurer_adjuster": make_user("insurer_adjuster", county),
        "auditor": make_user("auditor", county),
        "city_admin": make_user("city_admin", county.parent),
    }


@pytest.fixture
def contract(county):
    year = timezone.localdate().year
    return fund_services.insurance_contract_create(
        county=county, year=year, insurer="PICC", rural_population=10_000, actor=None
    )


# approval steps alternate between users (separation of duties: nobody takes two in a row)
STEPS = [
    ("household_check", "village_cadre"),
    ("data_compare", "township_officer"),
    ("village_review", "township_officer"),
    ("notice_close", "village_cadre"),
    ("township_review", "township_officer"),
    ("county_decide", "county_officer"),
    ("loss_determine", "insurer_adjuster"),
]


def step_data(name: str) -> dict:
    if name == "household_check":
        return {
            "verified_members": MEMBERS,
            "verified_income": INCOME,
            "verified_self_paid": SELF_PAID,
            "consent_signed": True,
        }
    if name == "village_review":
        return {
            "review_date": timezone.localdate(),
            "review_attendees": 15,
            "review_result": "同意 agreed",
        }
    return {}


@pytest.fixture
def walk(roles, monkeypatch):
    """walk(case, until=step name): take every step before ``until`` by the right role."""

    def run(case, until: str | None = None):
        for name, role in STEPS:
            if name == until:
                break
            if name == "notice_close":
                case.notice_end = timezone.localdate()  # let the notice period have passed
                case.save(update_fields=["notice_end"])
            case = services.case_transition(
                case=case, transition=name, actor=roles[role], data=step_data(name)
            )
        return case

    return run


@pytest.fixture
def opened(household, roles):
    case, _ = services.case_open(
        household=household,
        circumstance="medical",
        period=timezone.localdate().year,
        source="application",
        description="住院 hospital stay",
        amount_claimed="30000",
        actor=roles["village_cadre"],
    )
    return case
