"""Loading a synthetic county into the ops database (regions and the managed registry)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl
from django.db import transaction
from django.utils import timezone

from fangpin.common.clock import today as clock_today
from fangpin.regions.models import Level, Region
from fangpin.regions.services import region_bulk_create_children, region_load_handan
from fangpin.registry.models import Household, IncomeRecord
from fangpin.registry.services import household_bulk_load

from .funnel import synth_truth_write
from .population import Population, county_population

ERR_EXISTS = (
    "county {code} already has townships or villages; pass --replace to rebuild it "
    "(该县已有乡镇村数据，如需重建请加 --replace)"
)
ERR_UNKNOWN_COUNTY = "unknown county code {code} (县代码不存在)"


class SynthError(Exception):
    pass


@dataclass
class SynthResult:
    county: Region
    townships: int
    villages: int
    households_roster: int
    people_roster: int
    households_managed: int
    members_managed: int
    pairing: Any = None  # synth.pairing.SynthPairingResult with --with-pairing


def synth_county_has_data(*, county_code: str) -> bool:
    county = Region.objects.filter(code=county_code, level=Level.COUNTY).first()
    return bool(county) and Region.objects.filter(parent=county).exists()


@transaction.atomic
def synth_county_build(
    *,
    seed: int,
    county_code: str = "130434",
    households: int | None = None,
    replace: bool = False,
    with_pairing: bool = False,
    population: Population | None = None,
    today: dt.date | None = None,
) -> SynthResult:
    """Regions and the managed registry of one synthetic county (``population``, else drawn);
    ``today`` (default: today) dates the income records of a year still running and ends
    the visit history."""
    today = today or clock_today()
    region_load_handan()
    county = Region.objects.filter(code=county_code, level=Level.COUNTY).first()
    if county is None:
        raise SynthError(ERR_UNKNOWN_COUNTY.format(code=county_code))
    if Region.objects.filter(parent=county).exists():
        if not replace:
            raise SynthError(ERR_EXISTS.format(code=county_code))
        from fangpin.funds.services import fund_data_purge
        from fangpin.pairing.services import pairing_data_purge

        pairing_data_purge(county=county)
        fund_data_purge(county=county)  # payments protect households from deletion
        Household.objects.filter(village__path__startswith=county.path).delete()
        Region.objects.filter(path__startswith=county.path, level=Level.VILLAGE).delete()
        Region.objects.filter(path__startswith=county.path, level=Level.TOWNSHIP).delete()

    if population is None:
        kwargs = {"seed": seed, "county_code": county_code}
        if households:
            kwargs["households"] = households
        population = county_population(**kwargs)
    pop: Population = population
    synth_truth_write(pop)

    village_ids = synth_regions_load(county=county, population=pop)
    managed = pop.households.filter(pl.col("managed"))
    members = pop.people.join(managed.select("household_no"), on="household_no", how="semi")
    incomes = pop.incomes.join(managed.select("household_no"), on="household_no", how="semi")
    household_bulk_load(
        households=managed, members=members, incomes=incomes, village_ids=village_ids
    )
    _backdate_survey_incomes(
        county=county, years=pop.incomes["year"].unique().to_list(), today=today
    )
    pairing = None
    if with_pairing:  # cadres, pairings and a visit history (synth.pairing)
        from .pairing import synth_pairing_build

        pairing = synth_pairing_build(county=county, seed=seed, today=today)
    return SynthResult(
        county,
        pop.townships.height,
        pop.villages.height,
        pop.households.height,
        pop.people.height,
        managed.height,
        members.height,
        pairing,
    )


def synth_regions_load(*, county: Region, population: Population) -> dict[str, tuple[int, str]]:
    """Create the population's townships and villages under ``county``; village code -> (id, path)."""
    towns = region_bulk_create_children(
        parent=county, level=Level.TOWNSHIP, rows=list(population.townships.iter_rows())
    )
    town_by_code = {t.code: t for t in towns}
    villages: list[Region] = []
    for (town_code,), group in population.villages.group_by("township_code", maintain_order=True):
        villages += region_bulk_create_children(
            parent=town_by_code[town_code],
            level=Level.VILLAGE,
            rows=list(group.select("code", "name").iter_rows()),
        )
    return {v.code: (v.pk, v.path) for v in villages}


def _backdate_survey_incomes(*, county: Region, years: list[int], today: dt.date) -> None:
    """Date each synthetic year's income as the annual survey records it: mid-January after;
    a year whose survey is still to come (the year running) as the dynamic monitoring
    (动态监测) has it so far: today.

    Without this every record would carry the build's timestamp, and rules that
    read how long an income has been on record (risk elimination) could never hold.
    """
    records = IncomeRecord.objects.filter(
        household__village__path__startswith=county.path, note="synth"
    )
    tz = timezone.get_current_timezone()
    for year in years:  # one UPDATE per year, set-based
        surveyed = min(dt.date(year + 1, 1, 15), today)
        at = min(dt.datetime.combine(surveyed, dt.time(9), tzinfo=tz), timezone.now())
        records.filter(year=year).update(recorded_at=at)
