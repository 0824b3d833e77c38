"""Benchmark: the pages a city's users open, over a whole city's registry.

Run: .venv/bin/python bench/city_pages.py [--reuse DIR] [--runs 5]

Builds its data at run time in a temporary data dir (SQLite), or reuses ``--reuse DIR``
(built there the first time; a data dir of ``bench/screening`` works too):

- the synthetic city for 2019 (``fangpin synth --preset city --years 2019``: 18 counties,
  1,665,000 roster households, 166,259 managed households with their members and incomes
  of 2017–2019, every feed in the lake);
- the screening of 2019 (``fangpin screen --year 2019``: ~12,400 warnings, ~12,200 more
  households in the registry);
- a city administrator and a county officer (魏县).

Then times, as each user, the pages and API calls they open — the home page and its
返贫/新致贫 cards, the outcomes report, the household list and API, the warning list and
API, the overdue visits — through the Django test client (URL routing, middleware,
session, permissions, queries, template; no network), the median of ``--runs`` after one
warm-up. The baseline, measured in the same run, is the bare ORM read of the first 50
households in the user's region in household-number order (what any list of the
registry must at least do); each page is reported in milliseconds, as a ratio to that
baseline, with its query count.

Targets: a page under 300 ms; the 返贫/新致贫 count of the whole region (the home page's
cards, loaded after the page, and the outcomes report) under 2 s. ``--strict`` exits 1
when one is missed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from page_timing import clients_for, median, page_getter, query_count

PAGE_TARGET = 0.300  # s
COUNT_TARGET = 2.0  # s, a whole region's 返贫/新致贫 count
YEAR = 2019
COUNTY = "130434"  # 魏县


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse", metavar="DIR", help="data dir to reuse (built there if empty)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    data = Path(args.reuse) if args.reuse else Path(tempfile.mkdtemp(prefix="fangpin-bench-city-"))
    data.mkdir(parents=True, exist_ok=True)
    os.environ["FANGPIN_DATA_DIR"] = str(data)
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangpin.config.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import django

    django.setup()
    from django.core.management import call_command

    from fangpin.registry.models import Household
    from fangpin.screening.models import Warning

    call_command("migrate", verbosity=0)
    # the pages as served: hashed static files from the manifest (``fangpin serve`` does this)
    call_command("collectstatic", interactive=False, verbosity=0)
    if not Household.objects.filter(household_no__startswith="1304").exists():
        started = time.perf_counter()
        call_command("synth", preset="city", seed=args.seed, years=str(YEAR), verbosity=0)
        print(f"city built in {time.perf_counter() - started:.0f} s ({data})")
    if not Warning.objects.filter(year=YEAR).exists():
        call_command("screen", year=YEAR)
    print(
        f"data: {data}; {Household.objects.count():,} households in the registry, "
        f"{Warning.objects.filter(year=YEAR).count():,} warnings of {YEAR}"
    )
    failed = _measure(args)
    print(
        f"targets: a page < {PAGE_TARGET * 1000:.0f} ms; "
        f"a whole region's 返贫/新致贫 count < {COUNT_TARGET:.0f} s"
    )
    sys.exit(1 if failed and args.strict else 0)


def _measure(args) -> bool:

    from fangpin.accounts.models import User
    from fangpin.accounts.services import user_create
    from fangpin.regions.models import Level, Region
    from fangpin.registry.models import Household

    def user(username: str, role: str, region):
        existing = User.objects.filter(username=username).first()
        return existing or user_create(
            username=username, password="x" * 12, role=role, region=region
        )

    users = {
        "city admin": user("bench-city", "city_admin", Region.objects.get(level=Level.CITY)),
        "county officer": user("bench-county", "county_officer", Region.objects.get(code=COUNTY)),
    }

    def baseline(user):
        """The floor: the first 50 households of the user's region by number, bare ORM."""

        def run():
            scope = Household.objects.filter(village__path__startswith=user.region.path)
            return list(scope.order_by("household_no")[:50])

        return run

    counts = {"/pairing/outcomes/home/", f"/pairing/outcomes/?year={YEAR}"}
    pages = [
        "/",
        "/pairing/outcomes/home/",
        f"/pairing/outcomes/?year={YEAR}",
        "/households/",
        "/households/?page=200",
        "/households/?type=unstable",
        "/api/v1/registry/households",
        "/warnings/",
        "/api/v1/screening/warnings",
        "/pairing/overdue/",
    ]
    probes = [(who, url) for who in users for url in pages]

    clients = clients_for(users)
    bases = {who: median(baseline(u), args.runs) for who, u in users.items()}

    failed = False
    print(f"{'user':15} {'page':34} {'median':>9} {'baseline':>9} {'ratio':>7} {'queries':>7}")
    for who, url in probes:
        get = page_getter(clients[who], url)
        queries = query_count(get)
        page_s = median(get, args.runs)
        target = COUNT_TARGET if url in counts else PAGE_TARGET
        met = page_s < target
        failed |= not met
        print(
            f"{who:15} {url:34} {page_s * 1000:7.1f}ms {bases[who] * 1000:7.1f}ms "
            f"{page_s / bases[who]:6.1f}× {queries:7d} {'✓' if met else '✗'}"
        )
    return failed


if __name__ == "__main__":
    main()
