"""``fangpin serve`` — the production WSGI server (waitress) with static files (WhiteNoise).

Behind a reverse proxy (which HTTPS needs: waitress speaks plain HTTP), set
``FANGPIN_TRUSTED_PROXY`` to the proxy's address: waitress then takes the client's address
from the proxy's ``X-Forwarded-For`` (the address the login lockout counts, docs/SECURITY.md)
and the scheme from its ``X-Forwarded-Proto`` (``FANGPIN_HTTPS``). Without it every request
comes from the proxy's address, and waitress drops the forwarded headers.
"""

from __future__ import annotations

import signal

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


def proxy_options(proxy: str) -> dict:
    """waitress's options for a reverse proxy at ``proxy`` (none: no options)."""
    if not proxy:
        return {}
    return {
        "trusted_proxy": proxy,
        "trusted_proxy_count": 1,  # the address the proxy itself appended
        "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"},
    }


def stop_on_sigterm() -> None:
    """End the server on SIGTERM (``kill``, a process manager's stop) as on Ctrl-C: waitress
    closes, and the worker started alongside it is stopped rather than left running on its
    own (a SIGTERM ends a Python process without running its ``finally`` blocks)."""

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)


class Command(BaseCommand):
    help = "Serve Fangpin with a production WSGI server (waitress). 启动服务"

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)
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
        threads: int,
        no_collectstatic: bool,
        trusted_proxy: str,
        no_worker: bool = False,
        **options,
    ):
        import waitress

        if not no_collectstatic:  # before the app loads, so WhiteNoise indexes the collected files
            call_command("collectstatic", interactive=False, verbosity=0)
        from django.core.wsgi import get_wsgi_application

        application = get_wsgi_application()

        self.stdout.write(f"Fangpin serving on http://{host}:{port}  (Ctrl-C to stop)", ending="\n")
        self.stdout.flush()
        from fangpin.jobs.worker import worker_start, worker_stop

        worker = None if no_worker else worker_start()
        stop_on_sigterm()
        try:
            waitress.serve(
                application,
                host=host,
                port=port,
                threads=threads,
                ident="fangpin",
                **proxy_options(trusted_proxy),
            )
        finally:
            if worker is not None:
                worker_stop(worker)
