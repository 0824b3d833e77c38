"""``fangpin demo`` in the current year: for a fixed "today" the demo builds that year and the
two before it — every feed in the lake, each year screened, warnings in several states,
cases from warnings and applications, a fund per year (the earlier ones settled), visits
up to today — and the pages speak of the current year: the home page's 返贫/新致贫 cards and
the risk checks against the current year's line. The county's 医保 data officer logs in,
sees the feeds and no household."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from fangpin.accounts.models import Department, Role, User
from fangpin.cases.models import Case, Source
from fangpin.feeds.lake import lake_files
from fangpin.feeds.models import BatchStatus, FeedBatch
from fangpin.feeds.schemas import KINDS
from fangpin.funds import selectors as fund_selectors
from fangpin.funds.models import InsuranceContract
from fangpin.pairing.models import Pairing, Visit
from fangpin.pairing.outcomes import outcome_report
from fangpin.pairing.risk import risk_checks
from fangpin.policy.lines import income_line_of_year
from fangpin.policy.loader import parameters_default
from fangpin.regions.models import Region
from fangpin.registry.models import Household
from fangpin.screening.models import ScreeningRun, Warning, WarningStatus
from fangpin.synth.demo.county import county_demo_build, demo_years
from fangpin.synth.demo.warnings import WARNING_PLAN
from fangpin.synth.management.commands.demo import DEMO_PASSWORD
from tests.conftest import SMALL_COUNTY, SMALL_HOUSEHOLDS, SMALL_SEED

pytestmark = pytest.mark.django_db

TODAY = dt.date(2025, 10, 15)  # a fixed "today": the demo's years are 2023–2025
YEARS = [2023, 2024, 2025]


@pytest.fixture
def today(monkeypatch):
    """Fix today (``common.clock.today()``, and every ``timezone.localdate()``) at TODAY."""
    real = timezone.localdate

    def localdate(value=None, timezone=None):
        return TODAY if value is None else real(value, timezone)

    monkeypatch.setattr("django.utils.timezone.localdate", localdate)
    return TODAY


@pytest.fixture
def data_dir(settings, tmp_path):
    """Each test's own data directory: the lake and the synthetic truth."""
    settings.DATA_DIR = tmp_path
    settings.LAKE_DIR = tmp_path / "lake"
    return tmp_path


@pytest.fixture
def demo(today, data_dir, capsys):
    """The demo of the small county for TODAY: built for the demo's years (the session's
    small county is rebuilt for them, in this test's transaction), then ``fangpin demo``."""
    county_demo_build(
        county_code=SMALL_COUNTY,
        seed=SMALL_SEED,
        households=SMALL_HOUSEHOLDS,
        today=today,
        replace=True,
    )
    call_command("demo", no_serve=True, seed=SMALL_SEED, households=SMALL_HOUSEHOLDS)
    return capsys.readouterr().out


def test_the_demo_years_are_the_current_year_and_the_two_before():
    assert demo_years(TODAY) == YEARS
    assert demo_years(dt.date(2027, 1, 1)) == [2025, 2026, 2027]


def test_the_demo_screens_each_year_over_the_lake_and_works_its_warnings(demo, county):
    assert "2023–2025" in demo
    # every feed of every year in the lake, as committed batches of its manifest
    batches = FeedBatch.objects.filter(status=BatchStatus.ACCEPTED)
    assert set(batches.values_list("kind", flat=True)) == set(KINDS)
    for year in YEARS:
        assert lake_files("roster", years=[year]), year
        assert lake_files("medical", years=[year]), year
    # the current year's feeds run to today: no stay discharged, no accident after it
    medical = pl.read_parquet(lake_files("medical", years=[TODAY.year]))
    assert medical.height and medical["discharged"].max() <= TODAY

    # one screening per year, over the lake, which raised warnings in the current year
    runs = {r.year: r for r in ScreeningRun.objects.filter(county_code=county.code)}
    assert sorted(runs) == YEARS
    warnings = Warning.objects.filter(year=TODAY.year, region_path__startswith=county.path)
    assert runs[TODAY.year].warnings_added == warnings.count() > 0
    assert all(w.feed_refs for w in warnings)  # each names the feed rows behind it
    # warnings at every triage state: new, checking, confirmed, dismissed, excluded
    states = set(warnings.values_list("status", flat=True))
    assert set(WarningStatus) <= states, states
    checking = warnings.filter(status=WarningStatus.CHECKING)
    assert checking.exists() and all(w.assigned_to.username == "township" for w in checking)
    dismissed = dict(WARNING_PLAN)[WarningStatus.DISMISSED]
    for year in YEARS:
        worked = Warning.objects.filter(year=year, status=WarningStatus.DISMISSED)
        assert worked.count() == dismissed and all(w.reason and w.decided_by for w in worked)

    # cases opened from the current year's warnings as well as applications
    cases = Case.objects.filter(region_path__startswith=county.path)
    assert set(cases.values_list("period", flat=True)) == {TODAY.year}
    opened = warnings.filter(status=WarningStatus.CONFIRMED)
    assert cases.filter(source=Source.WARNING, household__in=opened.values("household")).exists()
    assert cases.filter(source=Source.APPLICATION).exists()

    # the fund of each year: the earlier ones settled, the current one under way
    assert set(InsuranceContract.objects.filter(county=county).values_list("year", flat=True)) == (
        set(YEARS)
    )
    for year in YEARS[:-1]:
        assert fund_selectors.settlement_current(county=county, year=year) is not None, year
    assert fund_selectors.settlement_current(county=county, year=TODAY.year) is None

    # visits up to today, the current quarter under way
    last_visit = Visit.objects.order_by("-visited_on").first().visited_on
    assert dt.date(2025, 10, 1) <= last_visit <= TODAY

    # the logins, the department's data officer among them
    assert DEMO_PASSWORD in demo and "medical" in demo
    assert str(Department.MEDICAL_INSURANCE.label) in demo

    # safe to run again: nothing is screened, worked or opened twice
    before = (ScreeningRun.objects.count(), Warning.objects.count(), Case.objects.count())
    dismissed_before = Warning.objects.filter(status=WarningStatus.DISMISSED).count()
    call_command("demo", no_serve=True, seed=SMALL_SEED, households=SMALL_HOUSEHOLDS)
    assert (ScreeningRun.objects.count(), Warning.objects.count(), Case.objects.count()) == before
    assert Warning.objects.filter(status=WarningStatus.DISMISSED).count() == dismissed_before
    assert FeedBatch.objects.filter(status=BatchStatus.ACCEPTED).count() == batches.count()


def test_the_home_page_and_the_risk_checks_speak_of_the_current_year(demo, county):
    officer = User.objects.get(username="county")
    client = Client()
    client.force_login(officer)
    assert client.get("/").status_code == 200
    cards = client.get("/pairing/outcomes/home/").content.decode()
    report = outcome_report(user=officer, year=TODAY.year, with_rows=False)
    assert report.evaluated > 0  # the current year's incomes are on record, and last year's
    assert f"?year={TODAY.year}" in cards and f"?year={TODAY.year - 1}" not in cards
    returned = re.search(r'data-testid="home-returned">([\d,]+)<', cards).group(1)
    assert int(returned.replace(",", "")) == report.returned

    # the risk checks compare the current year's income with the current year's line
    line = income_line_of_year(parameters_default(), county=county.code, year=TODAY.year)
    paired = Household.objects.filter(
        pk__in=Pairing.objects.filter(end_date__isnull=True).values("household"),
        household_type="unstable",
    ).order_by("household_no")
    passed = None
    for household in paired[:30]:
        income = risk_checks(household=household, on=TODAY).checks[0]
        if income.passed:
            passed = household, income
            break
    assert passed is not None, "no paired household is stably above the line"
    household, income = passed
    assert f"{TODAY.year} income" in income.detail and f"line of {line:.2f}" in income.detail
    page = client.get(f"/pairing/h/{household.household_no}/risk/").content.decode()
    assert f"{TODAY.year} income" in page


def test_the_department_officer_sees_the_feeds_and_no_household(today, data_dir, capsys):
    # the session's small county was built for 2017–2019: the demo says so, builds nothing
    # for the current years, and still creates its logins
    call_command("demo", no_serve=True)
    out = capsys.readouterr().out
    assert "2017–2019" in out and "2023–2025" in out
    assert not ScreeningRun.objects.exists()

    officer = User.objects.get(username="medical")
    assert officer.role == Role.DEPARTMENT_OFFICER
    assert officer.department == Department.MEDICAL_INSURANCE
    assert officer.region == Region.objects.get(code=SMALL_COUNTY)
    assert officer.check_password(DEMO_PASSWORD)
    client = Client()  # logs in on the login page with the printed password
    login = client.post("/login/", {"username": "medical", "password": DEMO_PASSWORD})
    assert login.status_code == 302 and login.url == "/"
    assert client.get("/feeds/").status_code == 200
    household = Household.objects.filter(village__path__startswith=officer.region.path).first()
    assert client.get("/households/").status_code == 403
    assert client.get(f"/households/{household.household_no}/").status_code == 403
    assert client.get("/warnings/").status_code == 403
    assert client.get("/api/v1/registry/households").status_code == 403
    home = client.get("/").content.decode()
    assert 'data-testid="households-total"' not in home and "/feeds/" in home
