"""The synthetic county end to end: feeds from the same seed as the roster, the command, re-runs."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from fangpin.feeds.models import FeedBatch
from fangpin.registry.models import Household, Member
from fangpin.screening.models import ScreeningRun, Warning
from fangpin.synth.feeds import county_feeds, synth_feeds_load, synth_feeds_years
from fangpin.synth.population import county_population

from ..conftest import SMALL_COUNTY, SMALL_HOUSEHOLDS, SMALL_SEED

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def population():
    return county_population(seed=SMALL_SEED, county_code=SMALL_COUNTY, households=SMALL_HOUSEHOLDS)


def test_the_feeds_are_deterministic_and_name_people_of_the_roster(population):
    one = county_feeds(population, seed=SMALL_SEED, years=[2019])
    two = county_feeds(population, seed=SMALL_SEED, years=[2019])
    assert set(one) == set(two) and all(one[k].equals(two[k]) for k in one)
    roster_ids = set(population.people["id_number"])
    for (kind, _year), frame in one.items():
        assert set(frame["id_number"]) <= roster_ids, kind
    assert one[("medical", 2019)].height > 0 and one[("education", 2019)].height > 0


def test_the_years_option_reads_a_year_or_a_range():
    assert synth_feeds_years("2019") == [2019]
    assert synth_feeds_years("2017-2019") == [2017, 2018, 2019]
    with pytest.raises(ValueError, match="--years"):
        synth_feeds_years("2019-2017")


def test_the_synthetic_county_is_screened_and_re_screened_idempotently(
    population, settings, tmp_path, capsys
):
    settings.LAKE_DIR = tmp_path / "lake"
    loaded = synth_feeds_load(population=population, seed=SMALL_SEED, years=[2019])
    assert loaded.batches == FeedBatch.objects.count() == 11  # 7 yearly feeds + 4 registers
    again = synth_feeds_load(population=population, seed=SMALL_SEED, years=[2019])
    assert again.batches == 0 and FeedBatch.objects.count() == 11

    managed_before = Household.objects.count()
    call_command("screen", "--year", "2019", "--county", SMALL_COUNTY)
    out = capsys.readouterr().out
    run = ScreeningRun.objects.get()
    assert run.warnings_found > 0 and run.warnings_added == Warning.objects.count()
    assert f"{run.warnings_found:,} households × circumstances warned" in out
    added = Household.objects.count() - managed_before
    assert added == run.households_added > 0  # ordinary households brought in by warnings
    new = Household.objects.filter(warnings__isnull=False, household_type="ordinary").distinct()
    assert Member.objects.filter(household__in=new).exists()
    assert all(w.estimated_relief.amount > 0 for w in Warning.objects.all())

    call_command("screen", "--year", "2019", "--county", SMALL_COUNTY)
    second = ScreeningRun.objects.order_by("-id").first()
    assert (second.warnings_found, second.warnings_added, second.households_added) == (
        run.warnings_found,
        0,
        0,
    )


def test_the_command_refuses_a_year_without_a_roster(settings, tmp_path):
    settings.LAKE_DIR = tmp_path / "lake"
    with pytest.raises(CommandError, match="no roster for 2019"):
        call_command("screen", "--year", "2019")


def test_the_synth_command_writes_the_feeds_of_the_years(settings, tmp_path, capsys):
    settings.LAKE_DIR = tmp_path / "lake"
    call_command(
        "synth", "--county", "130481", "--households", "300", "--feeds", "--years", "2018-2019"
    )
    assert "feeds 部门数据: " in capsys.readouterr().out  # small feeds may be empty in a year
    assert sorted(p.name for p in (tmp_path / "lake" / "roster").iterdir()) == [
        "year=2018",
        "year=2019",
    ]
    with pytest.raises(CommandError, match="--years"):
        call_command("synth", "--county", "130481", "--feeds", "--years", "soon")
