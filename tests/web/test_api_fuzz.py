"""Schemathesis over /api/v1/openapi.json against a live server, as a county officer and
as a city administrator: no answer is a server error (5xx), and every status an operation
answers is one its OpenAPI document declares.

Bounded and deterministic: for every operation ``EXAMPLES`` positive cases (valid by the
schema) and as many negative ones (each breaks the schema somewhere: a year of 0, a page
of twenty digits, a string for a number, a body that is not an object), drawn by
Hypothesis from the fixed seed ``SEED`` with no shrinking and no example database. Half
the cases name real objects in their path (the county, this year, a household, a case, a
warning, a workflow step, a problem) so that they get past "not found"; the others are
generated whole. Writes happen (contributions, visits, workflow steps, settlements): the
test's database is flushed afterwards like every live-server test's.

It runs on the test server of pytest-django (``live_server``: the WSGI application in a
thread, over HTTP) with bearer tokens, in both suites of ``make test``.
"""

from __future__ import annotations

import functools
import time

import hypothesis
import pytest
import requests
import schemathesis
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, seed
from hypothesis import strategies as st
from schemathesis import GenerationMode

from fangpin.accounts.models import ApiToken
from fangpin.cases import services as case_services
from fangpin.cases.workflow import TRANSITIONS
from fangpin.common.money import Money
from fangpin.funds import services as fund_services
from fangpin.pairing.cadres import cadre_create
from fangpin.pairing.visits import ProblemIn, visit_record
from fangpin.regions.models import Region
from fangpin.registry.models import Household
from fangpin.screening.models import ScreeningRun, Warning
from tests.conftest import SMALL_COUNTY, build_small_county

pytestmark = pytest.mark.django_db(transaction=True)

SEED = 20260413
EXAMPLES = 5  # per operation and mode (positive, negative); two roles: 20 requests an operation


@pytest.fixture
def world(transactional_db, settings, tmp_path, make_user):
    """The small county with what the API's paths can name: this year's insurance contract,
    a case, a warning, a visit's problem; uploads and the lake in the test's own directory."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.LAKE_DIR = tmp_path / "lake"
    if not Region.objects.filter(code=SMALL_COUNTY, children__isnull=False).exists():
        build_small_county()  # an earlier transactional test flushed the session's county
    county = Region.objects.get(code=SMALL_COUNTY)
    year = timezone.localdate().year
    household = (
        Household.objects.filter(village__path__startswith=county.path)
        .exclude(bank_account="")
        .select_related("village")
        .order_by("household_no")
        .first()
    )
    fund_services.insurance_contract_create(
        county=county, year=year, insurer="PICC", rural_population=10_000, actor=None
    )
    village = household.village
    case, _ = case_services.case_open(
        household=household,
        circumstance="medical",
        period=year,
        source="application",
        actor=make_user("village_cadre", village, username="fuzz-cadre"),
    )
    warning = Warning.objects.create(
        household=household,
        region_path=household.village.path,
        circumstance="medical",
        year=year,
        household_type=household.household_type,
        members=3,
        self_paid=Money("30000"),
        annual_income=None,
        income_known=False,
        units=2,
        feed_refs=["M1"],
        parameter_version="v1",
        estimated_relief=Money("5000"),
        run=ScreeningRun.objects.create(year=year),
    )
    cadre = cadre_create(
        name="干部", work_unit="村委会", level="village", phone="13900000001", region=village
    )
    visit = visit_record(
        household=household,
        visited_on=timezone.localdate(),
        mode="in_person",
        met="户主",
        problems=[ProblemIn("income", "收入不稳")],
        cadre=cadre,
        actor=make_user("county_officer", county, username="fuzz-officer"),
    )
    yield {
        "county": county,
        "names": {
            "code": [county.code],
            "year": [year, year - 1],
            "household_no": [household.household_no],
            "case": [case.pk],
            "warning": [warning.pk],
            "name": sorted(TRANSITIONS),
            "problem_id": [visit.problems.get().pk],
        },
    }
    fund_services.fund_data_purge(county=county)  # posted ledger rows block the flush


def _real_paths(operation, names: dict[str, list]) -> dict[str, list]:
    """Real values for the operation's path parameters (``pk`` is a case or a warning)."""
    values = {}
    for parameter in operation.path_parameters:
        name = parameter.name
        if name == "pk":
            name = "warning" if "/screening/" in operation.path else "case"
        if names.get(name):
            values[parameter.name] = names[name]
    return values


def _cases(operation, mode: GenerationMode, names: dict[str, list]) -> st.SearchStrategy:
    """Cases generated whole, or half of the time with real objects in the path."""
    generated = operation.as_strategy(mode)
    real = _real_paths(operation, names)
    if not real:
        return generated

    @functools.cache
    def with_path(items: tuple) -> st.SearchStrategy:
        return operation.as_strategy(mode, path_parameters=dict(items))

    named = st.fixed_dictionaries({k: st.sampled_from(v) for k, v in real.items()}).flatmap(
        lambda fixed: with_path(tuple(sorted(fixed.items())))
    )
    return st.one_of(named, generated)


def _draw(operation, mode: GenerationMode, names: dict[str, list], check) -> None:
    """``check(case)`` on ``EXAMPLES`` cases of the operation, drawn from ``SEED``."""

    @seed(SEED)
    @hypothesis.settings(
        max_examples=EXAMPLES,
        phases=[Phase.generate],  # no shrinking, no replay of earlier failures
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_cases(operation, mode, names))
    def run(case) -> None:
        check(case)

    run()


def _fuzz(base_url: str, token: str, names: dict[str, list]) -> tuple[list[str], int]:
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30, [op.label for op in operations]
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}
    problems: list[str] = []
    calls = 0
    for operation in operations:
        declared = {int(code) for code in operation.definition.raw["responses"]}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            def check(case, operation=operation, declared=declared, mode=mode) -> None:
                nonlocal calls
                calls += 1
                response = case.call(base_url=base_url, session=session, headers=headers)
                if response.status_code >= 500 or response.status_code not in declared:
                    problems.append(
                        f"{operation.label} ({mode.value}): {response.status_code} "
                        f"(declared {sorted(declared)}) for {case.as_curl_command()}\n"
                        f"    {response.text[:300]}"
                    )

            _draw(operation, mode, names, check)
            session.cookies.clear()  # no session cookie a response set carries over
    return problems, calls


@pytest.mark.parametrize("role", ["county_officer", "city_admin"])
def test_no_server_error_and_no_undeclared_status(live_server, world, make_user, role):
    county = world["county"]
    user = make_user(role, county if role == "county_officer" else county.parent)
    _, token = ApiToken.issue(user=user, name="fuzz")
    started = time.monotonic()
    problems, calls = _fuzz(live_server.url, token, world["names"])
    elapsed = time.monotonic() - started
    assert calls >= 30 * EXAMPLES, calls  # the pass ran (a broken strategy would draw none)
    assert not problems, (
        f"{len(problems)} of {calls} requests as {role} ({elapsed:.0f} s):\n" + "\n".join(problems)
    )
