"""The synthetic county: deterministic, valid, and shaped like a Handan county."""

import polars as pl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from fangpin.common.idnumber import id_number_problem_expr
from fangpin.registry.models import Household, IncomeRecord, Member
from fangpin.synth.population import county_population


@pytest.fixture(scope="module")
def pop():
    return county_population(seed=11, households=20_000)


def test_the_same_seed_gives_the_same_county(pop):
    again = county_population(seed=11, households=20_000)
    assert again.people.equals(pop.people) and again.households.equals(pop.households)
    other = county_population(seed=12, households=20_000)
    assert not other.people.equals(pop.people)


def test_every_id_number_is_valid_and_unique(pop):
    assert pop.people.select(id_number_problem_expr("id_number").is_null().all()).item()
    assert pop.people["id_number"].n_unique() == pop.people.height


def test_shapes_are_realistic(pop):
    people_per_household = pop.people.height / pop.households.height
    assert 3.2 < people_per_household < 3.8
    managed_share = pop.households["managed"].mean()
    assert 0.08 < managed_share < 0.12
    heads = pop.people.filter(pl.col("relation") == "户主").height
    assert heads == pop.households.height
    per_capita = pop.incomes.join(pop.households, on="household_no").with_columns(
        (pl.col("annual_income_fen") / 100 / pl.col("size")).alias("pc")
    )
    medians = (
        per_capita.group_by("household_type").agg(pl.col("pc").median()).sort("household_type")
    )
    by_type = dict(medians.iter_rows())
    assert by_type["unstable"] < by_type["ordinary"] and by_type["marginal"] < by_type["ordinary"]


def test_the_command_loads_the_managed_part_and_refuses_to_build_twice(db, capsys):
    # the session's small county is 魏县; build another county here
    call_command(
        "synth", "--preset", "county", "--seed", "3", "--county", "130432", "--households", "2000"
    )
    out = capsys.readouterr().out
    assert "广平县 130432" in out
    managed = Household.objects.filter(village__path__startswith="130400/130432/")
    assert 150 < managed.count() < 260
    assert Member.objects.filter(household__in=managed).count() > managed.count() * 3
    assert IncomeRecord.objects.filter(household__in=managed).count() == managed.count() * 3
    with pytest.raises(CommandError, match="--replace"):
        call_command("synth", "--seed", "3", "--county", "130432", "--households", "2000")
    with pytest.raises(CommandError, match="unknown county"):
        call_command("synth", "--seed", "3", "--county", "999999", "--households", "2000")
