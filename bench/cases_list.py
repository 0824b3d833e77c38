"""Benchmark: the case list of a county with 100,000 relief cases.

Run: .venv/bin/python bench/cases_list.py [--cases 100000] [--runs 7] [--pg URL]

Builds its data at run time in a temporary data dir (SQLite), or in the PostgreSQL
database that ``--pg`` names (flushed first; created if missing — use a database of
your own, e.g. postgres://postgres@127.0.0.1:5432/fangpin_bench_cases):

- the synthetic county 魏县 (``synth_county_build``: 230,000 roster households, ~23,000
  managed, 21 townships, ~560 villages);
- 100,000 cases on the managed households, set-based (``bulk_create`` in batches, not the
  workflow): every step of the workflow, 2017 to this year, most of them closed (paid,
  in follow-up, rejected) as a county's history is, with their decisions;
- a county officer, a township officer and a village cadre.

Then times, as each user, the pages and API calls users make — the work queue, the whole
list (first page, a filtered step, a deep page), the API list — through the Django test
client (URL routing, middleware, session, permissions, query, template; no network), the
median of ``--runs`` after one warm-up. The baseline, measured in the same run, is the
bare ORM query of the same 50 rows (``list(qs[:50])`` with the same scope and order);
each page is reported in milliseconds, as a ratio to its baseline, with its query count.

Target (issue 5): every page under 300 ms.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from page_timing import clients_for, median, page_getter, query_count

TARGET_SECONDS = 0.300


def _pg_database(url: str) -> None:
    """Create the database ``url`` names if it does not exist yet."""
    import psycopg
    from psycopg import sql

    base, _, name = url.rpartition("/")
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--households", type=int, default=230_000, help="roster of the county")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--pg", metavar="URL", help="PostgreSQL database to use (flushed)")
    parser.add_argument(
        "--reuse",
        metavar="DIR",
        help="data dir of an earlier run (with --pg: its database) to measure again, not rebuilt",
    )
    args = parser.parse_args()

    tmp = Path(args.reuse) if args.reuse else Path(tempfile.mkdtemp(prefix="fangpin-bench-cases-"))
    os.environ["FANGPIN_DATA_DIR"] = str(tmp)
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ.pop("DATABASE_URL", None)
    if args.pg:
        _pg_database(args.pg)
        os.environ["DATABASE_URL"] = args.pg
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangpin.config.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    reuse = bool(args.reuse)
    if connection.vendor == "postgresql" and not reuse:
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    # the pages as served: hashed static files from the manifest (``fangpin serve`` does this)
    call_command("collectstatic", interactive=False, verbosity=0)

    if reuse:
        from fangpin.regions.models import Region

        county = Region.objects.get(code="130434")
        print(f"database: {connection.vendor}; reusing {tmp}")
    else:
        started = time.perf_counter()
        county = _build_county(args)
        built = time.perf_counter() - started
        started = time.perf_counter()
        n = _bulk_cases(county, args)
        loaded = time.perf_counter() - started
        with connection.cursor() as cursor:  # as (auto)vacuum leaves a table after a big load
            cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
        print(
            f"database: {connection.vendor} ({tmp}); county built in {built:.1f} s; "
            f"{n:,} cases loaded in {loaded:.1f} s"
        )
    failed = _measure(county, args)
    print(f"target: every page < {TARGET_SECONDS * 1000:.0f} ms")
    sys.exit(1 if failed else 0)


def _build_county(args):
    from fangpin.regions.models import Region
    from fangpin.synth.services import synth_county_build

    synth_county_build(seed=args.seed, county_code="130434", households=args.households)
    return Region.objects.get(code="130434")


def _bulk_cases(county, args) -> int:
    """``args.cases`` cases on the county's managed households, set-based."""
    import datetime as dt

    import numpy as np
    from django.db.models import F
    from django.utils import timezone

    from fangpin.cases.models import Case, Decision, DecisionKind
    from fangpin.cases.workflow import OPEN_STATES, State
    from fangpin.common.money import Money
    from fangpin.policy import spec
    from fangpin.registry.models import Household

    rng = np.random.default_rng(args.seed)
    households = list(
        Household.objects.filter(village__path__startswith=county.path).values_list(
            "id", "village__path"
        )
    )
    today = timezone.localdate()
    years = np.arange(2017, today.year + 1)
    circumstances = list(spec.CIRCUMSTANCES)
    # distinct (household, circumstance, year): at most one open case for each, as the
    # database requires
    combos = len(households) * len(circumstances) * len(years)
    if args.cases > combos:
        raise SystemExit(f"at most {combos:,} cases fit {len(households):,} households")
    pick = rng.choice(combos, size=args.cases, replace=False)
    hh_index, rest = np.divmod(pick, len(circumstances) * len(years))
    circ_index, year_index = np.divmod(rest, len(years))
    # this year's cases are mostly open (waiting at a step); earlier years' mostly closed
    open_states = [s for s in State.values if s in OPEN_STATES]
    closed_states = [State.PAID, State.FOLLOW_UP, State.REJECTED]
    period = years[year_index]
    is_current = period == today.year
    open_pick = rng.integers(0, len(open_states), size=args.cases)
    closed_pick = rng.choice(len(closed_states), size=args.cases, p=[0.45, 0.35, 0.20])
    goes_open = (is_current & (rng.random(args.cases) < 0.8)) | (rng.random(args.cases) < 0.02)
    state = np.where(
        goes_open,
        np.array(open_states)[open_pick],
        np.array(closed_states)[closed_pick],
    )
    # an older case entered its step in its own year; this year's within the last 60 days
    first_day = {int(y): dt.date(int(y), 1, 1).toordinal() for y in years}
    start = np.array([first_day[int(y)] for y in period])
    day = np.where(
        is_current,
        today.toordinal() - rng.integers(0, 60, size=args.cases),
        start + rng.integers(0, 365, size=args.cases),
    )
    tz = timezone.get_current_timezone()
    seconds = rng.integers(8 * 3600, 18 * 3600, size=args.cases)
    sources = np.array(["application", "report", "warning"])[rng.integers(0, 3, size=args.cases)]

    def when(i: int) -> dt.datetime:
        d = dt.date.fromordinal(int(day[i]))
        return dt.datetime(d.year, d.month, d.day, tzinfo=tz) + dt.timedelta(
            seconds=int(seconds[i])
        )

    batch = 10_000
    for lo in range(0, args.cases, batch):
        hi = min(lo + batch, args.cases)
        Case.objects.bulk_create(
            [
                Case(
                    household_id=households[hh_index[i]][0],
                    region_path=households[hh_index[i]][1],
                    circumstance=circumstances[circ_index[i]],
                    period=int(period[i]),
                    source=sources[i],
                    state=state[i],
                    is_open=state[i] in OPEN_STATES,
                    entered_at=when(i),
                    verified_members=3,
                    verified_income=Money("9000"),
                    verified_self_paid=Money("30000"),
                    consent_signed=True,
                )
                for i in range(lo, hi)
            ],
            batch_size=2_000,
        )
    # opened when it entered its step (bulk_create stamps auto_now_add with the load time)
    Case.objects.update(opened_at=F("entered_at"))
    decided = Case.objects.filter(
        state__in=[State.LOSS_DETERMINATION, State.PAYMENT_REQUESTED, State.PAID, State.FOLLOW_UP]
    ).values_list("id", flat=True)
    Decision.objects.bulk_create(
        (
            Decision(
                case_id=pk,
                round=1,
                kind=DecisionKind.COUNTY,
                eligible=True,
                amount=Money("6500"),
                parameter_version="bench",
                inputs={},
                explanation={},
            )
            for pk in decided.iterator()
        ),
        batch_size=2_000,
    )
    return Case.objects.count()


def _measure(county, args) -> bool:

    from fangpin.accounts.services import user_create
    from fangpin.cases import selectors, workflow
    from fangpin.cases.models import Case
    from fangpin.regions.models import Level, Region

    township = Region.objects.filter(parent=county, level=Level.TOWNSHIP).order_by("code").first()
    village = Region.objects.filter(parent=township).order_by("code").first()
    from fangpin.accounts.models import User

    def user(username: str, role: str, region):
        existing = User.objects.filter(username=username).first()
        return existing or user_create(
            username=username, password="x" * 12, role=role, region=region
        )

    users = {
        "county officer": user("bench-county", "county_officer", county),
        "township officer": user("bench-township", "township_officer", township),
        "village cadre": user("bench-village", "village_cadre", village),
    }
    in_scope = {who: selectors.cases_visible(u).count() for who, u in users.items()}
    print(
        "cases in scope: "
        + ", ".join(f"{who} {count:,}" for who, count in in_scope.items())
        + f"; queue of the township officer "
        f"{selectors.case_queue(users['township officer']).count():,}"
    )

    def baseline(user, queue: bool, state: str = "", page: int = 1):
        """The floor: the same 50 rows by a bare ORM query on the cases table (same scope,
        filter, order and offset) — no count, no households, no template."""
        where = {"region_path__startswith": user.region.path}
        if queue:
            where["state__in"] = workflow.states_waiting_for(user)
        if state:
            where["state"] = state
        order = ("entered_at", "id") if queue else ("-opened_at", "-id")

        def run():
            return list(Case.objects.filter(**where).order_by(*order)[(page - 1) * 50 : page * 50])

        return run

    deep = max(1, in_scope["county officer"] // 50 // 2)
    probes = [
        ("county officer", "/cases/", baseline(users["county officer"], True)),
        ("county officer", "/cases/all/", baseline(users["county officer"], False)),
        (
            "county officer",
            "/cases/all/?state=township_review",
            baseline(users["county officer"], False, "township_review"),
        ),
        (
            "county officer",
            f"/cases/all/?page={deep}",
            baseline(users["county officer"], False, page=deep),
        ),
        ("county officer", "/api/v1/cases/", baseline(users["county officer"], False)),
        (
            "county officer",
            "/api/v1/cases/?queue=true",
            baseline(users["county officer"], True),
        ),
        ("township officer", "/cases/", baseline(users["township officer"], True)),
        ("township officer", "/cases/all/", baseline(users["township officer"], False)),
        ("village cadre", "/cases/", baseline(users["village cadre"], True)),
    ]
    clients = clients_for(users)
    failed = False
    print(f"{'user':17} {'page':38} {'median':>9} {'baseline':>9} {'ratio':>6} {'queries':>7}")
    for who, url, base in probes:
        get = page_getter(clients[who], url)
        queries = query_count(get)
        page_s = median(get, args.runs)
        base_s = median(base, args.runs)
        failed |= page_s >= TARGET_SECONDS
        mark = "✓" if page_s < TARGET_SECONDS else "✗"
        print(
            f"{who:17} {url:38} {page_s * 1000:7.1f}ms {base_s * 1000:7.1f}ms "
            f"{page_s / base_s:5.1f}× {queries:7d} {mark}"
        )
    assert Case.objects.count() >= args.cases
    return failed


if __name__ == "__main__":
    main()
