"""The demo county in the current year (``make demo``): the registry, the pairing history,
every department feed in the lake and the screening, for the current year and the two
before it.

- **Years**: ``demo_years(today)`` — the year of ``today`` (``common.clock.today()``, so a
  test can fix it) and the two before. The population's incomes are drawn for those
  years (``synth.population.county_population(years=…)``); a year's income is recorded
  by the survey of mid-January after, the year still running by today's monitoring.
- **Registry and pairing** (``county_demo_build``): built once from the seed, with the
  visit history up to today (``synth.pairing``).
- **Feeds** (``feeds_demo_load``): every kind for every demo year, drawn from the same
  population and imported through ``feeds.services.feed_import`` like any department's
  file, so the lake's manifest (``feeds.models.FeedBatch``) holds them as committed
  batches. A year whose roster is in the lake already is not drawn again.
- **Screening** (``screening_demo_run``): ``screening.services.screening_run`` once for
  each year and the county; a year screened already is left alone.

Each step is safe to run again. A data directory built for other years (an older demo)
is *stale*: ``demo_stale_years`` says which years it holds, and the command asks for a
fresh one rather than mixing years.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Max, Min

from fangpin.feeds.lake import lake_files, lake_manifest
from fangpin.regions.models import Region
from fangpin.registry.models import IncomeRecord
from fangpin.screening.models import ScreeningRun
from fangpin.screening.services import screening_run
from fangpin.synth.feeds import SynthFeedsResult, synth_feeds_load
from fangpin.synth.population import Population, county_population
from fangpin.synth.services import SynthResult, synth_county_build, synth_county_has_data

DEMO_YEARS = 3  # the current year and the two before it


def demo_years(today: dt.date) -> list[int]:
    """The demo's years, oldest first: ``today``'s year and the two before it."""
    return list(range(today.year - DEMO_YEARS + 1, today.year + 1))


def demo_population(
    *, seed: int, county_code: str, households: int | None, today: dt.date
) -> Population:
    """The demo county's population: incomes of the demo's years, ages as at ``today``."""
    kwargs: dict[str, Any] = {
        "seed": seed,
        "county_code": county_code,
        "years": demo_years(today),
        "as_of": today,
    }
    if households:
        kwargs["households"] = households
    return county_population(**kwargs)


def demo_stale_years(*, county: Region, years: list[int]) -> tuple[int, int] | None:
    """The first and last year of income on record in a county built for other years than
    ``years`` (it has no income of the last of them); None when it fits."""
    records = IncomeRecord.objects.filter(household__village__path__startswith=county.path)
    if records.filter(year=years[-1]).exists():
        return None
    span = records.aggregate(first=Min("year"), last=Max("year"))
    return (span["first"], span["last"]) if span["first"] is not None else None


@dataclass
class DemoCounty:
    county: Region
    built: SynthResult | None = None  # None: built by an earlier run
    feeds: SynthFeedsResult | None = None  # None: every year's feeds were in the lake
    runs: list[ScreeningRun] = field(default_factory=list)  # this run's screenings


def county_demo_build(
    *,
    county_code: str,
    seed: int,
    households: int | None,
    today: dt.date,
    replace: bool = False,
) -> DemoCounty:
    """The county's registry and pairing for the demo's years (once), and the feeds of any
    year the lake does not hold yet."""
    population = None
    built = None
    if replace or not synth_county_has_data(county_code=county_code):
        population = demo_population(
            seed=seed, county_code=county_code, households=households, today=today
        )
        built = synth_county_build(
            seed=seed,
            county_code=county_code,
            replace=replace,
            with_pairing=True,
            population=population,
            today=today,
        )
    county = Region.objects.get(code=county_code)
    result = DemoCounty(county=county, built=built)
    result.feeds = feeds_demo_load(
        county_code=county_code,
        seed=seed,
        households=households,
        today=today,
        population=population,
    )
    return result


def _years_without_roster(years: list[int]) -> list[int]:
    manifest = lake_manifest(["roster"])
    return [y for y in years if not lake_files("roster", years=[y], manifest=manifest)]


def feeds_demo_load(
    *,
    county_code: str,
    seed: int,
    households: int | None,
    today: dt.date,
    population: Population | None = None,
) -> SynthFeedsResult | None:
    """Every department's feed of the demo's years into the lake — the current year's up to
    ``today`` — unless each year's roster is there already (None then). The registers (property, vehicles, businesses, disability)
    come with the last year, as ``synth.feeds`` draws them; a file imported before is a
    no-op (``feed_import`` knows its checksum)."""
    years = demo_years(today)
    if not _years_without_roster(years):
        return None
    if population is None:  # the same seed draws the same population
        population = demo_population(
            seed=seed, county_code=county_code, households=households, today=today
        )
    return synth_feeds_load(population=population, seed=seed, years=years, until=today)


def screening_demo_run(
    *, county: Region, years: list[int], actor: Any = None
) -> list[ScreeningRun]:
    """Screen each of ``years`` for ``county`` over the lake (``screening_run``), those not
    screened yet; the runs made."""
    done = set(
        ScreeningRun.objects.filter(county_code=county.code, year__in=years).values_list(
            "year", flat=True
        )
    )
    return [
        screening_run(year=year, county_code=county.code, actor=actor)
        for year in years
        if year not in done
    ]
