"""``fangpin demo`` — migrate, build the synthetic county in the current year, create one
login per role, serve.

The county 魏县 for the current year and the two before it (``synth.demo.county``): its
registry and pairing history up to today, every department feed in the lake, the
screening of each year, warnings worked (``synth.demo.warnings``), the relief fund of
each year — the earlier years settled (``synth.demo.funds``) — and relief cases at every
step (``synth.demo.cases``). Today is ``common.clock.today()``.

Safe to run again: the county is built once (same seed, same data), each later step
skips what is there, the demo users are reset to their printed passwords. A data
directory built for other years (an older demo, or last year's) is left as it is, with a
message saying how to build a fresh one.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from fangpin.accounts.models import Department, Role, User
from fangpin.accounts.services import user_create
from fangpin.cases.workflow import State as CaseState
from fangpin.common import clock
from fangpin.regions.models import Level, Region
from fangpin.screening.models import WarningStatus
from fangpin.synth.demo.cases import cases_demo_seed, system_user
from fangpin.synth.demo.county import (
    county_demo_build,
    demo_stale_years,
    demo_years,
    screening_demo_run,
)
from fangpin.synth.demo.funds import fund_demo_seed
from fangpin.synth.demo.warnings import warning_counts, warnings_demo_seed
from fangpin.synth.pairing import synth_pairing_link_demo_user

DEMO_COUNTY = "130434"  # 魏县, the pilot county of the insurance mechanism (2017)
DEMO_PASSWORD = "fangpin-demo-2017"  # noqa: S105 — local demo only, printed on start


def demo_users(county: Region) -> list[tuple[str, str, Region, str]]:
    """The demo's logins: (username, role, region, department)."""
    township = Region.objects.filter(parent=county, level=Level.TOWNSHIP).order_by("code").first()
    village = Region.objects.filter(parent=township, level=Level.VILLAGE).order_by("code").first()
    city = county.parent
    return [
        ("city", Role.CITY_ADMIN, city, ""),
        ("county", Role.COUNTY_OFFICER, county, ""),
        ("township", Role.TOWNSHIP_OFFICER, township, ""),
        ("village", Role.VILLAGE_CADRE, village, ""),
        ("insurer", Role.INSURER_ADJUSTER, county, ""),
        ("auditor", Role.AUDITOR, county, ""),
        ("helper", Role.HELPER_CADRE, county, ""),
        # the county's 医保 data officer: sends the medical feed, sees no household
        ("medical", Role.DEPARTMENT_OFFICER, county, Department.MEDICAL_INSURANCE),
    ]


def demo_users_ensure(county: Region) -> list[Any]:
    """The demo's logins, created where missing."""
    users = []
    for username, role, region, department in demo_users(county):
        user = User.objects.filter(username=username).first()
        if user is None:
            user = user_create(
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                region=region,
                department=department,
                is_staff=role in (Role.CITY_ADMIN, Role.COUNTY_OFFICER),
            )
        users.append(user)
    return users


class Command(BaseCommand):
    help = "Build the demo (synthetic 魏县, the current year) and serve it on http://127.0.0.1:8000"

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2017)
        parser.add_argument("--households", type=int, default=None)
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="build only")

    def handle(
        self, *args, seed: int, households: int | None, port: int, no_serve: bool, **options
    ):
        call_command("migrate", interactive=False, verbosity=0)
        today = clock.today()
        years = demo_years(today)
        county = Region.objects.filter(code=DEMO_COUNTY, level=Level.COUNTY).first()
        stale = county is not None and demo_stale_years(county=county, years=years)
        if stale:
            self.stdout.write(
                _(
                    "This data directory holds a demo built for %(first)s–%(last)s, not "
                    "%(from)s–%(to)s; it is served as it is. For the current years, remove "
                    "%(dir)s (make clean; on PostgreSQL, drop the database) and run make demo "
                    "again."
                )
                % {
                    "first": stale[0],
                    "last": stale[1],
                    "from": years[0],
                    "to": years[-1],
                    "dir": settings.DATA_DIR,
                }
            )
        else:
            county = self._build(seed=seed, households=households, today=today, years=years)
        self._logins(county, port)
        if not no_serve:
            # the server in a fresh process: it forks its workers, and a fork must not inherit
            # this one's database connections and thread pools (polars, DuckDB) of the build
            self.stdout.flush()
            serve = [sys.executable, "-m", "fangpin", "serve", "--port", str(port)]
            os.execv(sys.executable, serve)  # noqa: S606 — our own command, no shell

    def _build(self, *, seed: int, households: int | None, today, years: list[int]) -> Region:
        started = time.perf_counter()
        self.stdout.write(
            _("The demo county %(county)s for %(first)s–%(last)s (what is there already is kept)…")
            % {"county": "魏县", "first": years[0], "last": years[-1]}
        )
        built = county_demo_build(
            county_code=DEMO_COUNTY, seed=seed, households=households, today=today
        )
        county = built.county
        if built.built is not None:
            r = built.built
            self.stdout.write(
                _(
                    "registry: %(households)s managed households in %(villages)s villages "
                    "(roster %(roster)s households)"
                )
                % {
                    "households": f"{r.households_managed:,}",
                    "villages": f"{r.villages:,}",
                    "roster": f"{r.households_roster:,}",
                }
            )
        if built.feeds is not None:
            self.stdout.write(
                _("department feeds in the lake: %(batches)s batches, %(rows)s rows")
                % {"batches": built.feeds.batches, "rows": f"{sum(built.feeds.rows.values()):,}"}
            )
        actor = system_user()  # the synthetic account that works the demo (cannot log in)
        for run in screening_demo_run(county=county, years=years, actor=actor):
            self.stdout.write(
                _("screening %(year)s: %(found)s warnings (%(excluded)s excluded)")
                % {"year": run.year, "found": run.warnings_found, "excluded": run.warnings_excluded}
            )
        demo_users_ensure(county)  # the township officer checks some of the warnings
        for year in years:
            warnings_demo_seed(county=county, year=year, actor=actor)
        # the earlier years settled, this year under way
        fund_demo_seed(county=county, year=years[-1], earlier=len(years) - 1)
        self.stdout.write(
            _("relief fund: %(first)s–%(last)s settled, %(year)s under way")
            % {"first": years[0], "last": years[-2], "year": years[-1]}
        )
        # cases waiting at every step, some paid (needs this year's contract); the household
        # check records the generator's true figures, stored when the county was built
        cases = cases_demo_seed(county=county, year=years[-1])
        if cases:
            self.stdout.write(
                _("relief cases: %(states)s")
                % {"states": ", ".join(f"{s.label} {cases[s]}" for s in CaseState if s in cases)}
            )
        for year in years:
            counts = warning_counts(county=county, year=year)
            self.stdout.write(
                _("warnings %(year)s: %(states)s")
                % {
                    "year": year,
                    "states": ", ".join(
                        f"{s.label} {counts[s]}" for s in WarningStatus if counts.get(s)
                    ),
                }
            )
        self.stdout.write(
            _("built in %(seconds).0f s") % {"seconds": time.perf_counter() - started}
        )
        return county

    def _logins(self, county: Region, port: int) -> None:
        lines = []
        for user, (username, role, region, department) in zip(
            demo_users_ensure(county), demo_users(county), strict=True
        ):
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
            if role in (Role.VILLAGE_CADRE, Role.HELPER_CADRE):
                synth_pairing_link_demo_user(user=user)  # act as a synthetic cadre with households
            where = region.name
            if department:
                where += f" · {Department(department).label}"
            lines.append(f"  {username:<9} / {DEMO_PASSWORD}   {Role(role).label} · {where}")
        self.stdout.write("")
        self.stdout.write(f"Fangpin demo: http://127.0.0.1:{port}/")
        self.stdout.write("Demo logins (username / password, role · region):")
        for line in lines:
            self.stdout.write(line)
        self.stdout.write("")
