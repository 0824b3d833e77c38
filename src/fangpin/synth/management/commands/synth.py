"""``fangpin synth --preset county --seed N`` — build a synthetic Handan-like county."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from fangpin.synth.population import COUNTY_HOUSEHOLDS
from fangpin.synth.services import SynthError, synth_county_build


class Command(BaseCommand):
    help = "Build synthetic data deterministically from a seed. 生成模拟数据"

    def add_arguments(self, parser):
        parser.add_argument(
            "--preset",
            choices=["county"],
            default="county",
            help="county: one Handan-like county (~230k households, ~800k people)",
        )
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--county", default="130434", help="county code (default 130434 魏县)")
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
        if o["feeds"]:
            from fangpin.synth.feeds import synth_feeds_years

            try:
                years = synth_feeds_years(o["years"])
            except ValueError as exc:
                raise CommandError(str(exc)) from None
        started = time.perf_counter()
        self.stdout.write(
            f"building county {o['county']} from seed {o['seed']} ({o['households']:,} households)…"
        )
        try:
            r = synth_county_build(
                seed=o["seed"],
                county_code=o["county"],
                households=o["households"],
                replace=o["replace"],
                with_pairing=o["with_pairing"],
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
            from fangpin.synth.population import county_population

            pop = county_population(
                seed=o["seed"], county_code=o["county"], households=o["households"]
            )
            f = synth_feeds_load(
                population=pop, seed=o["seed"], years=years, progress=self.stdout.write
            )
            self.stdout.write(
                f"feeds 部门数据: {f.batches} batches, {sum(f.rows.values()):,} rows "
                f"(generated in {f.seconds_generate:.1f}s, imported in {f.seconds_import:.1f}s)"
            )
        if r.pairing is not None:
            p = r.pairing
            self.stdout.write(
                f"pairing 结对帮扶: {p.cadres:,} cadres, {p.pairings:,} pairings, "
                f"{p.visits:,} visits, {p.problems:,} problems ({p.problems_solved:,} solved), "
                f"{p.placements:,} people placed in jobs"
            )
