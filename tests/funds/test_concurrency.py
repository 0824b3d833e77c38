"""Twenty requests to pay the same decision at the same moment make exactly one payment.

Needs PostgreSQL (real concurrent connections and row locks); the SQLite suite skips
it, the PostgreSQL suite of ``make test`` runs it.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from fangpin.common.models import AuditEvent
from fangpin.funds import services
from fangpin.funds.models import Payment, PaymentAttempt
from fangpin.regions.models import Region
from fangpin.registry.models import Household
from tests.conftest import SMALL_COUNTY, build_small_county

from .conftest import Y1

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
THREADS = 20


@pytest.fixture
def committed_county(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: SQLite serialises writers, so there is no race to test "
            "(run with DATABASE_URL=postgres://…; make test does)"
        )
    if not Region.objects.filter(code=SMALL_COUNTY, children__isnull=False).exists():
        build_small_county()  # an earlier transactional test flushed the session's county
    county = Region.objects.get(code=SMALL_COUNTY)
    yield county
    services.fund_data_purge(
        county=county
    )  # posted rows are undeletable; the flush after the test needs them gone


def test_twenty_simultaneous_requests_for_one_decision_make_one_payment(committed_county):
    county = committed_county
    services.insurance_contract_create(
        county=county, year=Y1, insurer="PICC", rural_population=10_000, actor=None
    )
    household = (
        Household.objects.filter(village__path__startswith=county.path)
        .exclude(bank_account="")
        .select_related("village")
        .order_by("household_no")
        .first()
    )
    start = threading.Barrier(THREADS)
    results: list[int] = []
    errors: list[BaseException] = []

    def pay():
        try:
            start.wait(timeout=30)
            p = services.payment_request(
                decision_key="DEC-RACE-1",
                household=household,
                amount="4540.00",
                county=county,
                year=Y1,
                actor=None,
            )
            results.append(p.pk)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=pay) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(results) == THREADS and len(set(results)) == 1
    assert Payment.objects.filter(decision_key="DEC-RACE-1").count() == 1
    assert PaymentAttempt.objects.filter(payment_id=results[0]).count() == 1
    assert (
        AuditEvent.objects.filter(
            action="funds.payment.requested", object_id=str(results[0])
        ).count()
        == 1
    )
