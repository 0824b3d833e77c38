"""``fangpin serve`` — the production server: gunicorn, several processes of several threads
each, with static files by WhiteNoise, and a background-job worker alongside.

Why gunicorn (a process-based WSGI server): Python runs one thread of a process at a time, so a
one-process server (waitress, before) does one core's work however many threads it has — fifty
users' pages and logins queued behind one another on a two-core machine (docs/PERFORMANCE.md,
"Many users at once"). gunicorn forks ``--workers`` processes that share the listening socket;
each serves ``--threads`` requests at once (its ``gthread`` worker), so the threads cover the
time a request waits for PostgreSQL and the processes use every core.

Behind a reverse proxy (which HTTPS needs: the server speaks plain HTTP), set
``FANGPIN_TRUSTED_PROXY`` to the proxy's address: a request from that address then has the
client's address from the proxy's ``X-Forwarded-For`` (the entry the proxy appended — the
address the login lockout counts, docs/SECURITY.md) and the scheme from its
``X-Forwarded-Proto`` (``FANGPIN_HTTPS``). From any other address, and without the setting, the
forwarded headers are dropped: a client cannot choose the address it is counted under.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import sys
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

# the forwarding headers a client could forge; a trusted proxy's X-Forwarded-For and -Proto are
# used, the rest never (Django would read X-Forwarded-Host with USE_X_FORWARDED_HOST)
FORWARDED_HEADERS = (
    "HTTP_FORWARDED",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_BY",
)
TRUSTED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO")


def workers_default() -> int:
    """Server processes: one per core, and at least two (one busy hashing a password at login
    does not hold up the other); each process's threads cover its waits for the database."""
    return max(2, os.cpu_count() or 1)


def behind_proxy(application: Callable, proxy: str) -> Callable:
    """The WSGI ``application`` taking the client's address and scheme from the forwarding
    headers of a request that comes from ``proxy``, and dropping those headers otherwise."""

    def wrapped(environ: dict, start_response: Callable) -> Iterable[bytes]:
        trusted = bool(proxy) and environ.get("REMOTE_ADDR") == proxy
        if trusted:
            # the proxy appends the address it saw to what the client sent: the last entry
            client = environ.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", 1)[-1].strip()
            with contextlib.suppress(ValueError):  # none, or not an address: the proxy's stays
                environ["REMOTE_ADDR"] = str(ipaddress.ip_address(client))
            scheme = environ.get("HTTP_X_FORWARDED_PROTO", "").strip().lower()
            if scheme in ("http", "https"):
                environ["wsgi.url_scheme"] = scheme
        for header in FORWARDED_HEADERS:
            if not (trusted and header in TRUSTED_HEADERS):
                environ.pop(header, None)
        return application(environ, start_response)

    return wrapped


def server_options(*, host: str, port: int, workers: int, threads: int) -> dict:
    """gunicorn's settings for ``fangpin serve``."""
    return {
        "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        # the forwarding headers are judged by ``behind_proxy`` alone: gunicorn trusts nobody
        "forwarded_allow_ips": "",
        "secure_scheme_headers": {},
        "proc_name": "fangpin",
        # a person reads a page for seconds before the next click: gunicorn's 2 s would close
        # the connection under most of them, and a click sent as it closes meets a reset (an
        # idle connection waits in the process's poller, not in a thread); nginx's default
        "keepalive": 75,
        # gunicorn 25's control socket is one path per user ($HOME/.gunicorn): two servers would
        # share it, and nothing here uses it (an older gunicorn has none: the option is skipped)
        "control_socket_disable": True,
        "graceful_timeout": 20,
    }


def server_run(application: Callable, *, proxy: str = "", **options) -> None:
    """Serve ``application`` until the server is told to stop (Ctrl-C, SIGTERM): gunicorn's
    master process here, its workers forked from it. ``options`` as ``server_options``."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in server_options(**options).items():
                if key != "control_socket_disable" or key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self) -> Callable:
            return behind_proxy(application, proxy)

    master = os.getpid()
    try:
        Server().run()
    except SystemExit as stop:  # gunicorn ends its master, and each worker, with sys.exit
        if os.getpid() != master:  # a worker: none of the master's clean-up (its job worker…)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(stop.code if isinstance(stop.code, int) else 1)
        if stop.code not in (None, 0):
            raise CommandError(f"the server stopped with status {stop.code}") from None


class Command(BaseCommand):
    help = "Serve Fangpin with a production WSGI server (gunicorn). 启动服务"

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--workers",
            type=int,
            default=workers_default(),
            help="server processes (default: one per CPU core, at least 2)",
        )
        parser.add_argument("--threads", type=int, default=8, help="threads per process")
        parser.add_argument("--no-collectstatic", action="store_true")
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="do not start a background-job worker (run `fangpin worker` elsewhere)",
        )
        parser.add_argument(
            "--trusted-proxy",
            default=settings.FANGPIN_TRUSTED_PROXY,
            help="the reverse proxy's address (default FANGPIN_TRUSTED_PROXY)",
        )

    def handle(
        self,
        *args,
        host: str,
        port: int,
        workers: int,
        threads: int,
        no_collectstatic: bool,
        trusted_proxy: str,
        no_worker: bool = False,
        **options,
    ):
        if not no_collectstatic:  # before the app loads, so WhiteNoise indexes the collected files
            call_command("collectstatic", interactive=False, verbosity=0)
        from django.core.wsgi import get_wsgi_application
        from django.db import connections
        from django.urls import get_resolver

        application = get_wsgi_application()
        get_resolver().url_patterns  # noqa: B018 — every view imported once, before the fork
        connections.close_all()  # a forked worker must not share the master's connection

        self.stdout.write(
            f"Fangpin serving on http://{host}:{port}  ({workers} processes × {threads} threads;"
            " Ctrl-C to stop)",
            ending="\n",
        )
        self.stdout.flush()
        from fangpin.jobs.worker import worker_start, worker_stop

        worker = None if no_worker else worker_start()
        try:
            server_run(
                application,
                proxy=trusted_proxy,
                host=host,
                port=port,
                workers=workers,
                threads=threads,
            )
        finally:
            if worker is not None:
                worker_stop(worker)
