"""Benchmark: many users at once on ``fangpin serve`` (issue 13, "Load").

Run: .venv/bin/python bench/load.py [--users 50] [--seconds 60] [--spawn-rate 2] [--pg URL]
     [--workers N --threads N] [--think 2-10] [--strict]

Builds the demo county (``fangpin demo --no-serve``: 魏县, ~230,000 households, funds and
cases at every step) in a PostgreSQL database, analyses it (VACUUM ANALYZE: this machine's
server runs without autovacuum, which a production one would have run after the load), starts
``fangpin serve`` (gunicorn, its default processes and threads) on a loopback port, and runs
locust headless on the same machine:

1. **Alone** — the baseline: one user at a time, the same mix of roles and pages, for 20 s.
2. **The morning** — ``--users`` (50) people arrive ``--spawn-rate`` (2) a second, log in and
   start their day. Logging in is reported on its own and not held to the targets: a login
   hashes the password (argon2), slowly on purpose, once a day per person.
3. **The day** — once every user has logged in, their daily pages and API calls are measured
   for ``--seconds`` (60): each user opens one of their role's pages, reads it for a think
   time (``--think``, 2–10 s, uniform), opens the next.

The users: the demo's logins (one account per role, a session per user), in a fixed mix of
50 — 10 county officers, 10 township officers, 10 village cadres, 8 helper cadres, 5 insurer
adjusters, 4 at the city, 3 auditors. A real county has far more village and helper cadres
than county officers; county-wide users read the most rows (the county's pairing figures,
its households), so the mix leans on the expensive pages. Each role opens the pages of its
day — home, work queue, cases and a case, households, a search and a household, warnings,
follow-up and a household's follow-up, the fund, the cases and households API — reads only,
so that a run leaves the database as it found it and runs compare.

Targets in the day: p95 < 200 ms, p99 < 500 ms, no error (any answer but 2xx is one).
``--strict`` exits 1 when one is missed. Traffic goes to 127.0.0.1 only; the run stops by
itself.
"""

from __future__ import annotations

# locust patches the standard library with gevent: it is imported before anything else
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import itertools  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
from locust import HttpUser, between, constant, task  # noqa: E402
from locust.clients import HttpSession  # noqa: E402
from locust.env import Environment  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FANGPIN = str(ROOT / ".venv" / "bin" / "fangpin")
DEMO_PASSWORD = "fangpin-demo-2017"  # noqa: S105 — the demo's printed password
P95_TARGET, P99_TARGET = 0.200, 0.500
BASELINE_SECONDS = 20
PG_PID_FILE = "/var/run/postgresql/15-main.pid"  # Debian's PostgreSQL 15, for the CPU figures

# a county's morning: how many of the fifty users have each role (the demo's user names)
MIX = {
    "county": 10,
    "township": 10,
    "village": 10,
    "helper": 8,
    "insurer": 5,
    "city": 4,
    "auditor": 3,
}

# the pages of each role's day; CASE, HOUSEHOLD and FOLLOWUP are one of the user's own
CASE, HOUSEHOLD, FOLLOWUP = "/cases/[id]/", "/households/[no]/", "/pairing/h/[no]/"
SEARCH = "/households/?q=王"
QUEUE_API, HOUSEHOLDS_API = "/api/v1/cases/?queue=true", "/api/v1/registry/households"
DAY = {
    "county": [
        "/", "/cases/", "/cases/all/", CASE, "/households/", SEARCH, HOUSEHOLD,
        "/warnings/", "/pairing/", "/funds/", QUEUE_API, HOUSEHOLDS_API,
    ],
    "township": [
        "/", "/cases/", "/cases/all/", CASE, "/households/", SEARCH, HOUSEHOLD,
        "/warnings/", "/pairing/", "/pairing/overdue/", QUEUE_API,
    ],
    "village": [
        "/", "/cases/", CASE, "/households/", SEARCH, HOUSEHOLD, FOLLOWUP, "/pairing/",
        HOUSEHOLDS_API,
    ],
    "helper": ["/", "/households/", HOUSEHOLD, FOLLOWUP, "/pairing/"],
    "insurer": ["/", "/cases/", "/cases/all/", CASE, QUEUE_API],
    "city": ["/", "/cases/all/", "/households/", SEARCH, "/warnings/", "/pairing/", "/funds/"],
    "auditor": ["/", "/cases/all/", CASE, "/households/", HOUSEHOLD, "/warnings/", "/pairing/"],
}  # fmt: skip


def arrivals(users: int) -> list[str]:
    """The roles of ``users`` people in the order they arrive: every stretch of the morning
    has the mix (a smooth weighted round robin over MIX)."""
    total, credit, order = sum(MIX.values()), dict.fromkeys(MIX, 0), []
    for _ in range(users):
        for role, weight in MIX.items():
            credit[role] += weight
        role = max(credit, key=lambda r: credit[r])
        credit[role] -= total
        order.append(role)
    return order


class Desk:
    """One logged-in session of a role, with the cases and households of its scope."""

    def __init__(self, client: HttpSession, host: str, role: str) -> None:
        self.client, self.role = client, role
        page = client.get("/login/", name="login page")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        with client.post(
            "/login/",
            {
                "username": role,
                "password": DEMO_PASSWORD,
                "csrfmiddlewaretoken": token.group(1) if token else "",
            },
            headers={"Referer": host + "/login/"},
            name="login",
            allow_redirects=False,
            catch_response=True,
        ) as r:
            if r.status_code != 302:
                r.failure(f"login as {role}: {r.status_code}")
        self.cases = self._ids("/api/v1/cases/", "id") if CASE in DAY[role] else []
        self.households = self._ids(HOUSEHOLDS_API, "household_no")

    def _ids(self, url: str, key: str) -> list:
        r = self.client.get(url, name="setup")
        return [item[key] for item in r.json().get("items", [])][:20] if r.ok else []

    def open_a_page(self) -> None:
        page = random.choice(DAY[self.role])  # noqa: S311 — a walk, not a secret
        url = page
        if page == CASE and self.cases:
            url = f"/cases/{random.choice(self.cases)}/"  # noqa: S311
        elif page in (HOUSEHOLD, FOLLOWUP) and self.households:
            no = random.choice(self.households)  # noqa: S311
            url = page.replace("[no]", str(no))
        self.client.get(url, name=page)


class Staff(HttpUser):
    """One person of the mix: logs in on arrival, then opens the pages of their day."""

    wait_time = between(2, 10)  # --think
    roles: list[str] = []  # the arrival order (set per run)
    arrived = itertools.count()
    ready: set[int] = set()  # users past their log-in (the day is measured once all are)

    def on_start(self) -> None:
        role = Staff.roles[next(Staff.arrived) % len(Staff.roles)]
        self.desk = Desk(self.client, self.host, role)
        Staff.ready.add(id(self))

    @task
    def page(self) -> None:
        self.desk.open_a_page()


class Alone(HttpUser):
    """The baseline: one request at a time, the crowd's mix of roles and pages (a session per
    role, chosen with the mix's weights)."""

    wait_time = constant(0.2)
    ready = False

    def on_start(self) -> None:
        self.desks = []
        for role in MIX:
            client = HttpSession(self.host, self.environment.events.request, self)
            self.desks.append(Desk(client, self.host, role))
        self.weights = list(MIX.values())
        Alone.ready = True

    @task
    def page(self) -> None:
        random.choices(self.desks, self.weights)[0].open_a_page()  # noqa: S311


def figures(entries: list) -> dict:
    """Count, failures and percentiles (s) over locust stats ``entries`` merged."""
    from locust.stats import StatsEntry

    total = StatsEntry(None, "total", "")
    for entry in entries:
        total.extend(entry)
    return {
        "requests": total.num_requests,
        "failures": total.num_failures,
        **{
            f"p{p}": total.get_response_time_percentile(p / 100) / 1000 if total.num_requests else 0
            for p in (50, 95, 99)
        },
        "max": (total.max_response_time or 0) / 1000,
    }


def cpu_seconds(pid: int, *, exited_children: bool = False, descendants: bool = True) -> float:
    """CPU seconds of a process and its live descendants (and the children it has reaped)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if exited_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    own = ticks / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(k)) for k in kids) if descendants else own


def cpu_now(server: int) -> dict[str, float]:
    """CPU seconds so far: the whole machine (busy, and all), the server, PostgreSQL (all its
    databases), locust (this process)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    postmaster = int(Path(PG_PID_FILE).read_text().split()[0]) if Path(PG_PID_FILE).exists() else 0
    return {
        "machine": (sum(values) - values[3] - values[4]) / tick,
        "all": sum(values) / tick,
        "server": cpu_seconds(server),
        "postgres": cpu_seconds(postmaster, exited_children=True) if postmaster else float("nan"),
        "locust": cpu_seconds(os.getpid(), descendants=False),  # the server is its child
    }


def cpu_shares(before: dict, after: dict) -> dict[str, float]:
    """Each one's share of the machine's capacity between two ``cpu_now``."""
    capacity = max(1e-9, after["all"] - before["all"])
    return {
        k: (after[k] - before[k]) / capacity for k in ("machine", "server", "postgres", "locust")
    }


def run_alone(host: str, seconds: float) -> dict:
    env = Environment(user_classes=[Alone], host=host)
    runner = env.create_local_runner()
    runner.start(1, spawn_rate=1)
    while not Alone.ready:  # logged in as every role
        gevent.sleep(0.2)
    env.stats.reset_all()
    gevent.sleep(seconds)
    runner.quit()
    measured = [e for (name, _), e in env.stats.entries.items() if name in PAGE_NAMES]
    return {**figures(measured), "by_page": by_page(measured)}


def run_crowd(host: str, server: int, users: int, spawn_rate: float, seconds: float) -> dict:
    """The morning (arrivals and logins, reported apart), then the day (measured)."""
    Staff.roles, Staff.arrived = arrivals(users), itertools.count()
    Staff.ready.clear()
    env = Environment(user_classes=[Staff], host=host)
    runner = env.create_local_runner()
    started = time.perf_counter()
    runner.start(users, spawn_rate=spawn_rate)
    deadline = started + users / spawn_rate + 120
    while len(Staff.ready) < users and time.perf_counter() < deadline:
        gevent.sleep(0.5)
    morning = {
        "seconds": time.perf_counter() - started,
        "missing": users - len(Staff.ready),
        "login": figures([e for (n, m), e in env.stats.entries.items() if n == "login"]),
        "pages": figures([e for (n, _), e in env.stats.entries.items() if n in PAGE_NAMES]),
        "errors": errors(env),
    }
    env.stats.reset_all()
    cpu_before = cpu_now(server)
    gevent.sleep(seconds)
    cpu = cpu_shares(cpu_before, cpu_now(server))
    runner.quit()
    measured = [e for (name, _), e in env.stats.entries.items() if name in PAGE_NAMES]
    day = {
        **figures(measured),
        "rps": sum(e.num_requests for e in measured) / seconds,
        "by_page": by_page(measured),
        "errors": errors(env),
        "cpu": cpu,
    }
    return {"morning": morning, "day": day}


PAGE_NAMES = {page for pages in DAY.values() for page in pages}


def by_page(entries: list) -> list[tuple[str, int, float, float]]:
    """(page, requests, p50, p95) of each page, slowest p95 first."""
    rows = [
        (
            e.name,
            e.num_requests,
            e.get_response_time_percentile(0.5) / 1000,
            e.get_response_time_percentile(0.95) / 1000,
        )
        for e in entries
        if e.num_requests
    ]
    return sorted(rows, key=lambda r: r[3], reverse=True)


def errors(env: Environment) -> dict[str, int]:
    return {f"{e.method} {e.name}: {e.error}": e.occurrences for e in env.stats.errors.values()}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(env: dict, port: int, extra: list[str], log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(  # noqa: S603 — our own command
        [FANGPIN, "serve", "--port", str(port), "--no-worker", *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    for _ in range(240):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2)  # noqa: S310
            return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit(
        "fangpin serve did not answer in 120 s: " + proc.stderr.read().decode()[-2000:]
    )


def report(args: argparse.Namespace, alone: dict, crowd: dict) -> bool:
    morning, day = crowd["morning"], crowd["day"]
    n = args.users
    print(f"\n{'the day':24}{'alone':>10}{f'{n} users':>12}{'ratio':>8}")
    for key in ("p50", "p95", "p99", "max"):
        ratio = day[key] / alone[key] if alone[key] else float("nan")
        print(f"{key + ' (s)':24}{alone[key]:>10.3f}{day[key]:>12.3f}{ratio:>7.1f}×")
    print(f"{'requests':24}{alone['requests']:>10}{day['requests']:>12}")
    print(f"{'failures':24}{alone['failures']:>10}{day['failures']:>12}")
    cpu = day["cpu"]
    other = cpu["machine"] - cpu["server"] - cpu["postgres"] - cpu["locust"]
    print(
        f"requests/s {day['rps']:.1f}; the machine's CPU {100 * cpu['machine']:.0f}% busy: the"
        f" server {100 * cpu['server']:.0f}%, PostgreSQL {100 * cpu['postgres']:.0f}% (all its"
        f" databases), locust {100 * cpu['locust']:.0f}%, other work {100 * other:.0f}%"
    )
    print(f"\n{'page':32}{'alone p50':>10}{'p95':>8}{'day n':>8}{'p50':>8}{'p95':>8}")
    alone_pages = {name: (p50, p95) for name, _, p50, p95 in alone["by_page"]}
    for name, count, p50, p95 in day["by_page"]:
        a50, a95 = alone_pages.get(name, (float("nan"), float("nan")))
        print(f"{name:32}{a50:>10.3f}{a95:>8.3f}{count:>8}{p50:>8.3f}{p95:>8.3f}")
    login = morning["login"]
    print(
        f"\nthe morning: {n - morning['missing']} of {n} users arrived ({args.spawn_rate}/s) and"
        f" logged in within {morning['seconds']:.0f} s; login p50 {login['p50']:.3f} s,"
        f" p95 {login['p95']:.3f} s, max {login['max']:.3f} s (not held to the targets);"
        f" pages meanwhile p95 {morning['pages']['p95']:.3f} s"
    )
    for name, count in {**morning["errors"], **day["errors"]}.items():
        print(f"  error ×{count}: {name}")
    met = (
        day["requests"] > 0
        and not morning["missing"]
        and day["p95"] < P95_TARGET
        and day["p99"] < P99_TARGET
        and day["failures"] == 0
        and not morning["errors"]
    )
    print(
        f"targets p95 < {P95_TARGET} s, p99 < {P99_TARGET} s, 0 errors: {'met' if met else 'MISSED'}"
    )
    return met


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/fangpin_load")
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--spawn-rate", type=float, default=2, help="arrivals a second (default 2)")
    ap.add_argument("--think", default="2-10", help="seconds between requests, MIN-MAX")
    ap.add_argument("--workers", type=int, help="fangpin serve --workers (default its own)")
    ap.add_argument("--threads", type=int, help="fangpin serve --threads (default its own)")
    ap.add_argument("--port", type=int, default=0, help="default: a free loopback port")
    ap.add_argument("--reuse", default=str(ROOT / "bench" / "out" / "load"))
    ap.add_argument("--strict", action="store_true")
    args = ap.parse_args()
    low, high = (float(v) for v in args.think.split("-"))
    Staff.wait_time = between(low, high)

    data = Path(args.reuse)
    data.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DATABASE_URL": args.pg, "FANGPIN_DATA_DIR": str(data), "DEBUG": "0"}
    env["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    db = args.pg.rsplit("/", 1)[1]
    subprocess.run(  # noqa: S603 — a missing database is created; an existing one is kept
        ["createdb", "-h", "127.0.0.1", "-U", "postgres", db],  # noqa: S607
        capture_output=True,
    )
    started = time.perf_counter()
    subprocess.run([FANGPIN, "demo", "--no-serve"], env=env, check=True)  # noqa: S603
    subprocess.run(  # noqa: S603
        [FANGPIN, "dbshell", "--", "-qc", "VACUUM ANALYZE"], env=env, check=True
    )
    print(f"demo county ready and analysed in {time.perf_counter() - started:.0f} s")
    port = args.port or free_port()
    extra = [f"--{k}={getattr(args, k)}" for k in ("workers", "threads") if getattr(args, k)]
    log = data / "serve.log"
    proc = serve(env, port, extra, log)
    host = f"http://127.0.0.1:{port}"
    try:
        alone = run_alone(host, BASELINE_SECONDS)
        crowd = run_crowd(host, proc.pid, args.users, args.spawn_rate, args.seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    met = report(args, alone, crowd)
    print(f"the server's log: {log}")
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
