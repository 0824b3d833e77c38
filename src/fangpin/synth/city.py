"""The synthetic city: all 18 Handan county-level units, ~5.8 million rural people.

``synth_city_build`` draws each county's population from the seed (the same
generator as ``--preset county``), loads its regions and managed registry into
the ops database one county at a time, and — with ``years`` — writes the roster
and every department feed for the whole city into the lake, one batch per kind
and year, as city-level departments send them.

The households per county are an assumption of ours (A): Handan's rural
population is 5.8 million (POLICY.md, stated), 魏县's about 800,000 (stated); the
other counties' shares follow their relative size, the urban districts having
few rural households. Replace them with the statistical yearbook's figures when
a county needs its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .population import county_population
from .services import SynthResult, synth_county_build

# county code → households in the rural roster (A; sums to 1.665 M households, ~5.8 M people)
CITY_HOUSEHOLDS: dict[str, int] = {
    "130402": 43_000,  # 邯山区
    "130403": 29_000,  # 丛台区
    "130404": 14_000,  # 复兴区
    "130406": 60_000,  # 峰峰矿区
    "130407": 72_000,  # 肥乡区
    "130408": 167_000,  # 永年区
    "130423": 139_000,  # 临漳县
    "130424": 86_000,  # 成安县
    "130425": 172_000,  # 大名县
    "130426": 79_000,  # 涉县
    "130427": 115_000,  # 磁县
    "130430": 48_000,  # 邱县
    "130431": 62_000,  # 鸡泽县
    "130432": 60_000,  # 广平县
    "130433": 67_000,  # 馆陶县
    "130434": 230_000,  # 魏县
    "130435": 93_000,  # 曲周县
    "130481": 129_000,  # 武安市
}


@dataclass
class SynthCityResult:
    counties: list[SynthResult] = field(default_factory=list)
    feeds: Any = None  # synth.feeds.SynthFeedsResult with years
    seconds_registry: float = 0.0

    @property
    def households_roster(self) -> int:
        return sum(c.households_roster for c in self.counties)

    @property
    def people_roster(self) -> int:
        return sum(c.people_roster for c in self.counties)

    @property
    def households_managed(self) -> int:
        return sum(c.households_managed for c in self.counties)


def synth_city_build(
    *,
    seed: int,
    years: Sequence[int] = (),
    replace: bool = False,
    scale: float = 1.0,
    progress: Callable[[str], None] | None = None,
) -> SynthCityResult:
    """Build every county of the city; ``scale`` shrinks each county (tests use a small city)."""
    from .feeds import synth_feeds_load

    say = progress or (lambda message: None)
    result = SynthCityResult()
    populations = []
    started = time.perf_counter()
    for code, households in CITY_HOUSEHOLDS.items():  # 18 counties, each set-based
        pop = county_population(
            seed=seed, county_code=code, households=max(1, round(households * scale))
        )
        built = synth_county_build(seed=seed, county_code=code, replace=replace, population=pop)
        result.counties.append(built)
        populations.append(pop)
        say(
            f"  {built.county.name} {code}: {built.households_roster:,} households, "
            f"{built.people_roster:,} people, {built.households_managed:,} managed"
        )
    result.seconds_registry = time.perf_counter() - started
    if years:
        result.feeds = synth_feeds_load(
            population=populations, seed=seed, years=years, progress=progress
        )
    return result
