"""``fangpin synth --preset county|city --seed N`` — build a synthetic county or the whole city.

``--funnel`` reports, for data already built and screened, how many warnings the
synthetic household checks verify and the relief they would receive.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from fangpin.common.progress import terminal_progress
from fangpin.synth.population import COUNTY_HOUSEHOLDS
from fangpin.synth.services import SynthError, synth_county_build


class Command(BaseCommand):
    help = "Build synthetic data deterministically from a seed. 生成模拟数据"

    def add_arguments(self, parser):
        parser.add_argument(
            "--preset",
            choices=["county", "city"],
            default="county",
            help="county: one Handan-like county (~230k households, ~800k people); "
            "city: all 18 Handan counties (~1.7M households, ~5.8M people) with feeds for --years",
        )
        parser.add_argument(
            "--funnel",
            action="store_true",
            help="report warned → verified → relief for the screened --years (预警核实漏斗)",
        )
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--county",
            default=None,
            help="county code (default 130434 魏县; with --funnel: every county)",
        )
        parser.add_argument(
            "--households",
            type=int,
            default=COUNTY_HOUSEHOLDS,
            help=f"households in the whole roster (default {COUNTY_HOUSEHOLDS:,}); ~10%% are managed",
        )
        parser.add_argument(
            "--replace", action="store_true", help="rebuild a county that already has data"
        )
        parser.add_argument(
            "--with-pairing",
            action="store_true",
            help="add cadres, pairings and a visit history up to today (结对帮扶)",
        )
        parser.add_argument(
            "--feeds",
            action="store_true",
            help="also write the roster and every department feed into the lake (部门数据入湖)",
        )
        parser.add_argument(
            "--years", default="2017-2019", help="years of the feeds, e.g. 2019 or 2017-2019"
        )

    def handle(self, *args, **o):
        if o["households"] < 1:
            raise CommandError("--households must be at least 1")
        from fangpin.synth.feeds import synth_feeds_years

        years: list[int] = []
        if o["feeds"] or o["preset"] == "city" or o["funnel"]:
            try:
                years = synth_feeds_years(o["years"])
            except ValueError as exc:
                raise CommandError(str(exc)) from None
        if o["funnel"]:
            return self._funnel(years, o["county"] or "")
        o["county"] = o["county"] or "130434"
        if o["preset"] == "city":
            return self._city(o, years)
        started = time.perf_counter()
        self.stdout.write(
            f"building county {o['county']} from seed {o['seed']} ({o['households']:,} households)…"
        )
        from fangpin.synth.population import county_population

        pop = county_population(seed=o["seed"], county_code=o["county"], households=o["households"])
        try:
            r = synth_county_build(
                seed=o["seed"],
                county_code=o["county"],
                replace=o["replace"],
                with_pairing=o["with_pairing"],
                population=pop,
            )
        except SynthError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{r.county.name} {r.county.code}: {r.townships} townships, {r.villages:,} villages; roster "
            f"{r.households_roster:,} households / {r.people_roster:,} people; registry (managed) "
            f"{r.households_managed:,} households / {r.members_managed:,} members "
            f"in {time.perf_counter() - started:.1f}s"
        )
        if o["feeds"]:
            from fangpin.synth.feeds import synth_feeds_load

            with terminal_progress(self.stdout) as progress:
                loaded = synth_feeds_load(
                    population=pop, seed=o["seed"], years=years, progress=progress
                )
            self._feeds(loaded)
        if r.pairing is not None:
            p = r.pairing
            self.stdout.write(
                f"pairing 结对帮扶: {p.cadres:,} cadres, {p.pairings:,} pairings, "
                f"{p.visits:,} visits, {p.problems:,} problems ({p.problems_solved:,} solved), "
                f"{p.placements:,} people placed in jobs"
            )

    def _feeds(self, f) -> None:
        self.stdout.write(
            f"feeds 部门数据: {f.batches} batches, {sum(f.rows.values()):,} rows "
            f"(generated in {f.seconds_generate:.1f}s, imported in {f.seconds_import:.1f}s)"
        )

    def _city(self, o, years: list[int]) -> None:
        from fangpin.synth.city import synth_city_build

        started = time.perf_counter()
        self.stdout.write(
            f"building the city 邯郸市 (18 counties) from seed {o['seed']}, feeds for "
            f"{years[0]}–{years[-1]}…"
        )
        try:
            with terminal_progress(self.stdout) as progress:
                r = synth_city_build(
                    seed=o["seed"], years=years, replace=o["replace"], progress=progress
                )
        except SynthError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"city: roster {r.households_roster:,} households / {r.people_roster:,} people; "
            f"registry (managed) {r.households_managed:,} households in {r.seconds_registry:.1f}s"
        )
        self._feeds(r.feeds)
        self.stdout.write(f"done in {time.perf_counter() - started:.1f}s")

    def _funnel(self, years: list[int], county: str) -> None:
        from fangpin.common.money import Money
        from fangpin.synth.funnel import SEED_FUNNEL, synth_funnel

        rows = synth_funnel(years=years, county_code=county)
        self.stdout.write(
            "year  warned households (预警户)  warnings  verified households (核实户)  relief (元)"
        )
        for r in rows:
            self.stdout.write(
                f"{r.year}  {r.warned_households:>24,}  {r.warned:>8,}  "
                f"{r.verified_households:>26,}  {Money.from_fen(r.relief_fen)}"
            )
        warned = sum(r.warned_households for r in rows)
        verified = sum(r.verified_households for r in rows)
        relief = sum(r.relief_fen for r in rows)
        self.stdout.write(
            f"total {warned:>23,}  {sum(r.warned for r in rows):>8,}  {verified:>26,}  "
            f"{Money.from_fen(relief)}"
        )
        self.stdout.write(
            f"seed (Handan 2017–2019): {SEED_FUNNEL['warned']:,} warned, "
            f"{SEED_FUNNEL['verified']:,} verified, "
            f"{Money.from_fen(SEED_FUNNEL['relief_fen'])} yuan"
        )
