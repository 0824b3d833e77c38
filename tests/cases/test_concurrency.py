"""Two officers deciding the same case at the same moment: exactly one wins.

Needs PostgreSQL (real concurrent connections and row locks); the SQLite suite skips
it, the PostgreSQL suite of ``make test`` runs it.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from fangpin.cases import services
from fangpin.cases.models import Case, Decision
from fangpin.common.models import AuditEvent
from fangpin.regions.models import Region
from fangpin.registry.models import Household
from tests.conftest import SMALL_COUNTY, build_small_county

from .conftest import STEPS, step_data

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
THREADS = 8


@pytest.fixture
def committed_county(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: SQLite serialises writers, so there is no race to test "
            "(run with DATABASE_URL=postgres://…; make test does)"
        )
    if not Region.objects.filter(code=SMALL_COUNTY, children__isnull=False).exists():
        build_small_county()  # an earlier transactional test flushed the session's county
    return Region.objects.get(code=SMALL_COUNTY)


def test_two_threads_decide_the_same_case_and_exactly_one_wins(committed_county, make_user):
    household = (
        Household.objects.filter(village__path__startswith=committed_county.path)
        .select_related("village")
        .order_by("household_no")
        .first()
    )
    village = household.village
    users = {
        "village_cadre": make_user("village_cadre", village),
        "township_officer": make_user("township_officer", village.parent),
    }
    officers = [
        make_user("county_officer", committed_county, username=f"co-{i}") for i in range(THREADS)
    ]
    case, _ = services.case_open(
        household=household,
        circumstance="medical",
        period=timezone.localdate().year,
        source="application",
        actor=users["village_cadre"],
    )
    for name, role in STEPS[:5]:
        if name == "notice_close":
            Case.objects.filter(pk=case.pk).update(notice_end=timezone.localdate())
        case = services.case_transition(
            case=Case.objects.get(pk=case.pk),
            transition=name,
            actor=users[role],
            data=step_data(name),
        )
    assert case.state == "county_decision"
    seen = Case.objects.get(pk=case.pk)
    start = threading.Barrier(THREADS)
    wins: list[int] = []
    refusals: list[str] = []
    errors: list[BaseException] = []

    def decide(officer):
        try:
            start.wait()
            services.case_transition(case=seen, transition="county_decide", actor=officer)
            wins.append(officer.pk)
        except services.CaseError as exc:
            refusals.append(exc.message)
        except BaseException as exc:  # noqa: BLE001 — reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=decide, args=(o,)) for o in officers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(wins) == 1 and len(refusals) == THREADS - 1
    assert set(refusals) == {services.ERR_CHANGED}
    assert Decision.objects.filter(case=case).count() == 1
    assert (
        AuditEvent.objects.filter(action="cases.case.county_decide", object_id=str(case.pk)).count()
        == 1
    )
    assert Case.objects.get(pk=case.pk).state == "loss_determination"
