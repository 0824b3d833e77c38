"""The city preset (every county, one lake) and the funnel of the synthetic household checks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest
from django.core.management import call_command

from fangpin.feeds.models import FeedBatch
from fangpin.policy import spec
from fangpin.policy.loader import CITY, parameters_default
from fangpin.regions.models import Level, Region
from fangpin.screening.models import Warning, WarningStatus
from fangpin.screening.services import screening_run
from fangpin.synth.city import CITY_HOUSEHOLDS, synth_city_build
from fangpin.synth.funnel import synth_funnel, synth_household_checks, synth_truth

pytestmark = pytest.mark.django_db
YEAR = 2019


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.LAKE_DIR = tmp_path / "lake"
    return tmp_path


def test_the_city_preset_builds_every_county_into_one_lake_and_its_funnel_is_consistent(
    data_dir, capsys
):
    built = synth_city_build(seed=3, years=[YEAR], replace=True, scale=0.01)
    assert [c.county.code for c in built.counties] == list(CITY_HOUSEHOLDS)
    for code in CITY_HOUSEHOLDS:
        county = Region.objects.get(code=code)
        assert Region.objects.filter(path__startswith=county.path, level=Level.VILLAGE).exists()
    # one roster batch for the whole city, as a city-level department sends it
    roster = FeedBatch.objects.get(kind="roster")
    assert roster.rows_accepted == built.people_roster
    assert len(list((data_dir / "synth" / "truth").glob("county-*.parquet"))) == 18

    run = screening_run(year=YEAR)
    assert run.warnings_found > 0
    [funnel] = synth_funnel(years=[YEAR])
    # the warnings checked at the household: all but those excluded by data comparison
    checkable = Warning.objects.filter(year=YEAR).exclude(status=WarningStatus.EXCLUDED)
    assert funnel.warned == checkable.count() == run.warnings_found - run.warnings_excluded
    assert 0 < funnel.verified < funnel.warned and funnel.relief_fen > 0

    # The household check keeps exactly the medical warnings whose true income passes the
    # income test after the rigid expense (the reference basis): (income − self-paid) / members
    # below the line. Managed households' registry income is the truth, so they all pass.
    line = Decimal(parameters_default().resolve(spec.LINE, CITY, dt.date(YEAR, 12, 31)).value)
    truth = dict(synth_truth(year=YEAR).iter_rows())
    checks = synth_household_checks(year=YEAR).filter(pl.col("circumstance") == "medical")
    verified_nos = set(checks.filter("verified")["household_no"])
    medical = checkable.filter(circumstance="medical").select_related("household")
    checked = 0
    for w in medical:
        income = Decimal(truth[w.household.household_no]) / 100
        passes = (income - w.self_paid.amount) / w.members < line
        assert passes == (w.household.household_no in verified_nos), w.household.household_no
        if w.income_source == "registry":
            assert passes
        checked += 1
    assert checked > 0

    call_command("synth", "--funnel", "--years", str(YEAR))
    out = capsys.readouterr().out
    assert f"{funnel.warned_households:,}" in out and "33,704" in out
