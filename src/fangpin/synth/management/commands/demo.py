"""``fangpin demo`` — migrate, build the synthetic county, create one login per role, serve.

Safe to run again: the county is built once (same seed, same data), the demo
users are reset to their printed passwords.
"""

from __future__ import annotations

import os
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone

from fangpin.accounts.models import Role, User
from fangpin.accounts.services import user_create
from fangpin.cases.workflow import State as CaseState
from fangpin.regions.models import Level, Region
from fangpin.synth.demo.cases import cases_demo_seed
from fangpin.synth.demo.funds import fund_demo_seed
from fangpin.synth.pairing import synth_pairing_link_demo_user
from fangpin.synth.services import synth_county_has_data

DEMO_COUNTY = "130434"  # 魏县, the pilot county of the insurance mechanism (2017)
DEMO_PASSWORD = "fangpin-demo-2017"  # noqa: S105 — local demo only, printed on start


def demo_users(county: Region) -> list[tuple[str, str, Region]]:
    township = Region.objects.filter(parent=county, level=Level.TOWNSHIP).order_by("code").first()
    village = Region.objects.filter(parent=township, level=Level.VILLAGE).order_by("code").first()
    city = county.parent
    return [
        ("city", Role.CITY_ADMIN, city),
        ("county", Role.COUNTY_OFFICER, county),
        ("township", Role.TOWNSHIP_OFFICER, township),
        ("village", Role.VILLAGE_CADRE, village),
        ("insurer", Role.INSURER_ADJUSTER, county),
        ("auditor", Role.AUDITOR, county),
        ("helper", Role.HELPER_CADRE, county),
    ]


class Command(BaseCommand):
    help = "Build the demo (synthetic 魏县) and serve it on http://127.0.0.1:8000"

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2017)
        parser.add_argument("--households", type=int, default=None)
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="build only")

    def handle(
        self, *args, seed: int, households: int | None, port: int, no_serve: bool, **options
    ):
        call_command("migrate", interactive=False, verbosity=0)
        if not synth_county_has_data(county_code=DEMO_COUNTY):
            self.stdout.write("building the synthetic county 魏县 (a few seconds)…")
            call_command(
                "synth",
                with_pairing=True,
                preset="county",
                seed=seed,
                county=DEMO_COUNTY,
                **({"households": households} if households else {}),
            )
        county = Region.objects.get(code=DEMO_COUNTY)
        year = timezone.localdate().year
        fund_demo_seed(county=county, year=year)  # last year settled, this year under way
        self.stdout.write(f"relief fund 防贫救助金: {year - 1} settled, {year} under way")
        # cases waiting at every step, some paid (needs this year's contract); the household
        # check records the generator's true figures, stored when the county was built
        cases = cases_demo_seed(county=county)
        if cases:
            self.stdout.write(
                "relief cases 救助案件: "
                + ", ".join(f"{s.label} {cases[s]}" for s in CaseState if s in cases)
            )
        lines = []
        for username, role, region in demo_users(county):
            user = User.objects.filter(username=username).first()
            if user is None:
                user = user_create(
                    username=username,
                    password=DEMO_PASSWORD,
                    role=role,
                    region=region,
                    is_staff=role in (Role.CITY_ADMIN, Role.COUNTY_OFFICER),
                )
            else:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            if role in (Role.VILLAGE_CADRE, Role.HELPER_CADRE):
                synth_pairing_link_demo_user(user=user)  # act as a synthetic cadre with households
            lines.append(f"  {username:<9} / {DEMO_PASSWORD}   {Role(role).label} · {region.name}")
        self.stdout.write("")
        self.stdout.write(f"Fangpin demo: http://127.0.0.1:{port}/")
        self.stdout.write("Demo logins (username / password, role · region):")
        for line in lines:
            self.stdout.write(line)
        self.stdout.write("")
        if not no_serve:
            # the server in a fresh process: it forks its workers, and a fork must not inherit
            # this one's database connections and thread pools (polars, DuckDB) of the build
            self.stdout.flush()
            serve = [sys.executable, "-m", "fangpin", "serve", "--port", str(port)]
            os.execv(sys.executable, serve)  # noqa: S606 — our own command, no shell
