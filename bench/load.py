"""Benchmark: many users at once on ``fangpin serve`` (issue 13, "Load").

Run: .venv/bin/python bench/load.py [--pg URL] [--users 50] [--seconds 60] [--reuse DIR]

Builds the demo county (``fangpin demo --no-serve``: 魏县, ~230,000 households, funds and
cases at every step) in a PostgreSQL database, starts ``fangpin serve`` (waitress, the
production server) on a loopback port, and runs locust headless against it: users of the
demo's roles — county, township and village staff, the insurer, the city — logging in and
doing their daily pages and API calls (home, work queue, case list and a case, household
list and search, warnings, follow-up, the fund: those their role may open). Logging in is
not measured (a login hashes the password, slowly on purpose). The baseline, measured in the same run
on the same server, is one user doing the same walk alone; the report gives each figure
and its ratio to the baseline.

Targets: with ``--users`` (50) concurrent users for ``--seconds`` (60): p95 < 200 ms,
p99 < 500 ms, no error. ``--strict`` exits 1 when one is missed. Traffic goes to
127.0.0.1 only; the run stops by itself.
"""

from __future__ import annotations

# locust patches the standard library with gevent: it is imported before anything else
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
from locust import HttpUser, between, task  # noqa: E402
from locust.env import Environment  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FANGPIN = str(ROOT / ".venv" / "bin" / "fangpin")
DEMO_PASSWORD = "fangpin-demo-2017"  # noqa: S105 — the demo's printed password
P95_TARGET, P99_TARGET = 0.200, 0.500
ROLES = ["county", "township", "village", "insurer", "city"]


# a user's daily pages and API calls; each user keeps those their role may open (probed once)
PAGES = [
    ("/", "/"),
    ("/cases/", "/cases/"),
    ("/cases/all/", "/cases/all/"),
    ("/households/", "/households/"),
    ("/households/?q=王", "/households/?q="),
    ("/warnings/", "/warnings/"),
    ("/pairing/", "/pairing/"),
    ("/funds/", "/funds/"),
    ("/api/v1/cases/?queue=true", "/api/v1/cases/?queue"),
    ("/api/v1/registry/households", "/api/v1/registry/households"),
]


class Staff(HttpUser):
    """One of the demo's users doing their day: log in, then open their pages in turn."""

    wait_time = between(0.5, 1.5)
    ready: set[int] = set()  # users past their log-in and probes (the measurement waits)
    ready_missing = 0  # users of the last run that had not got there when it began

    def on_start(self) -> None:
        self.username = random.choice(ROLES)  # noqa: S311 — a mix of roles, not a secret
        page = self.client.get("/login/", name="login")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        self.client.post(
            "/login/",
            {
                "username": self.username,
                "password": DEMO_PASSWORD,
                "csrfmiddlewaretoken": token.group(1) if token else "",
            },
            headers={"Referer": self.host + "/login/"},
            name="login",
        )
        self.pages = []
        for url, name in PAGES:  # a page the role may not open answers 403: left out
            with self.client.get(url, name="probe", catch_response=True) as r:
                if r.status_code == 403:
                    r.success()
                elif r.status_code == 200:
                    self.pages.append((url, name))
        with self.client.get("/api/v1/cases/", name="probe", catch_response=True) as r:
            ok = r.status_code == 200
            if r.status_code == 403:
                r.success()
        self.case_ids = [c["id"] for c in r.json().get("items", [])][:20] if ok else []
        Staff.ready.add(id(self))

    @task(5)
    def page(self) -> None:
        if self.pages:
            url, name = random.choice(self.pages)  # noqa: S311
            self.client.get(url, name=name)

    @task(1)
    def case(self) -> None:
        if self.case_ids:
            pk = random.choice(self.case_ids)  # noqa: S311
            self.client.get(f"/cases/{pk}/", name="/cases/[id]/")


def run_locust(host: str, users: int, seconds: float) -> dict:
    """``users`` log in and settle (not measured: a login hashes a password on purpose), then
    their daily pages are measured for ``seconds``."""
    env = Environment(user_classes=[Staff], host=host)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=max(1, users // 5))
    # spawned, logged in, probed: every user has started its day (or 120 s have passed)
    deadline = time.perf_counter() + 120
    while len(Staff.ready) < users and time.perf_counter() < deadline:
        gevent.sleep(1)
    Staff.ready_missing = users - len(Staff.ready)
    Staff.ready.clear()
    env.stats.reset_all()
    gevent.sleep(seconds)
    runner.quit()
    total = env.stats.total
    return {
        "requests": total.num_requests,
        "failures": total.num_failures,
        "p50": total.get_response_time_percentile(0.50) / 1000,
        "p95": total.get_response_time_percentile(0.95) / 1000,
        "p99": total.get_response_time_percentile(0.99) / 1000,
        "rps": total.total_rps,
        "errors": {f"{e.method} {e.name}": e.occurrences for e in env.stats.errors.values()},
        "worst": sorted(
            (
                (s.get_response_time_percentile(0.95) / 1000, f"{s.method} {s.name}")
                for s in env.stats.entries.values()
            ),
            reverse=True,
        )[:5],
    }


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(env: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(  # noqa: S603 — our own command
        [FANGPIN, "serve", "--port", str(port), "--threads", "16"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    for _ in range(120):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2)  # noqa: S310
            return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("fangpin serve did not answer in 60 s: " + proc.stderr.read().decode()[-2000:])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/fangpin_load")
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--port", type=int, default=0, help="default: a free loopback port")
    ap.add_argument("--reuse", default=str(ROOT / "bench" / "out" / "load"))
    ap.add_argument("--strict", action="store_true")
    args = ap.parse_args()

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
    print(f"demo county ready in {time.perf_counter() - started:.0f} s (reused when built)")
    port = args.port or free_port()
    proc = serve(env, port)
    host = f"http://127.0.0.1:{port}"
    try:
        alone = run_locust(host, 1, min(args.seconds, 20))
        crowd = run_locust(host, args.users, args.seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"\n{'':24}{'1 user':>10}{f'{args.users} users':>12}{'ratio':>8}")
    for key in ("p50", "p95", "p99"):
        ratio = crowd[key] / alone[key] if alone[key] else float("nan")
        print(f"{key + ' (s)':24}{alone[key]:>10.3f}{crowd[key]:>12.3f}{ratio:>8.1f}×")
    print(f"{'requests':24}{alone['requests']:>10}{crowd['requests']:>12}")
    print(f"{'requests/s':24}{alone['rps']:>10.1f}{crowd['rps']:>12.1f}")
    print(f"{'failures':24}{alone['failures']:>10}{crowd['failures']:>12}")
    print("slowest (p95 under load):")
    for p95, name in crowd["worst"]:
        print(f"  {p95:.3f} s  {name}")
    for name, n in crowd["errors"].items():
        print(f"  error ×{n}: {name}")
    if Staff.ready_missing:
        print(f"{Staff.ready_missing} of {args.users} users had not finished logging in in 120 s")
    met = (
        crowd["requests"] > 0
        and not Staff.ready_missing
        and crowd["p95"] < P95_TARGET
        and crowd["p99"] < P99_TARGET
        and crowd["failures"] == 0
    )
    print(
        f"targets p95 < {P95_TARGET} s, p99 < {P99_TARGET} s, 0 errors: {'met' if met else 'MISSED'}"
    )
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
