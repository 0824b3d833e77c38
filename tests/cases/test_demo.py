from __future__ import annotations

import pytest
from django.utils import timezone

from fangpin.cases.demo import cases_demo_seed
from fangpin.cases.models import Case
from fangpin.cases.workflow import State
from fangpin.funds import services as fund_services

pytestmark = pytest.mark.django_db


def test_the_demo_leaves_cases_waiting_at_every_step(county):
    fund_services.insurance_contract_create(
        county=county,
        year=timezone.localdate().year,
        insurer="PICC",
        rural_population=10_000,
        actor=None,
    )
    counts = cases_demo_seed(county=county)
    states = set(Case.objects.values_list("state", flat=True))
    assert set(State.values) - {"paid", "follow_up", "rejected"} <= states, counts
    assert sum(counts.values()) == Case.objects.count() == 28
    assert cases_demo_seed(county=county) == {}  # safe to run again
