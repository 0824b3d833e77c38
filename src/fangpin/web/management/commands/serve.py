"""``fangpin serve`` — the production WSGI server (waitress) with static files (WhiteNoise)."""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve Fangpin with a production WSGI server (waitress). 启动服务"

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument("--no-collectstatic", action="store_true")

    def handle(self, *args, host: str, port: int, threads: int, no_collectstatic: bool, **options):
        import waitress

        if not no_collectstatic:  # before the app loads, so WhiteNoise indexes the collected files
            call_command("collectstatic", interactive=False, verbosity=0)
        from django.core.wsgi import get_wsgi_application

        application = get_wsgi_application()

        self.stdout.write(f"Fangpin serving on http://{host}:{port}  (Ctrl-C to stop)", ending="\n")
        self.stdout.flush()
        waitress.serve(application, host=host, port=port, threads=threads, ident="fangpin")
