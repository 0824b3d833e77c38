"""``fangpin import KIND PATH`` — load a file of one kind: registry, contributions, cadres,
feed… — whichever importers the apps registered (``fangpin.common.importers``).

Every file import works the same way: the whole file is checked, every problem
is printed as ``PATH:ROW:COLUMN: message`` and nothing is written, or the
changes are written and counted. ``--as-user`` limits the regions the file may
name to that user's and signs the audit rows.
"""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from fangpin.common.importers import IMPORTERS
from fangpin.common.progress import terminal_progress
from fangpin.common.tabular import PROBLEMS_SHOWN

AS_USER_HELP = "username to import as (limits regions to that user's region; signs the audit rows)"


def user_by_name(username: str) -> object | None:
    """The ``--as-user`` actor, or None when not given; an unknown name is an error."""
    if not username:
        return None
    actor = get_user_model().objects.select_related("region").filter(username=username).first()
    if actor is None:
        raise CommandError(f"no such user {username!r} (用户不存在)")
    return actor


class Command(BaseCommand):
    help = "Import data files. 导入数据: fangpin import registry|contributions|cadres|feed …"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
        for kind, importer in sorted(IMPORTERS.items()):
            p = sub.add_parser(kind, help=importer.help)
            if importer.add_arguments is not None:
                importer.add_arguments(p)
            else:
                p.add_argument("path", help="the file to import")
            p.add_argument("--as-user", dest="as_user", default="", help=AS_USER_HELP)

    def handle(self, *args, **options):
        importer = IMPORTERS.get(options["kind"])
        if importer is None:
            raise CommandError(f"unknown kind {options['kind']!r}")
        actor = user_by_name(options["as_user"])
        if importer.handle is not None:
            return importer.handle(self, options, actor)
        started = time.perf_counter()
        with terminal_progress(self.stdout) as progress:
            kwargs = {"progress": progress} if importer.progress else {}
            result = importer.runner()(path=options["path"], actor=actor, **kwargs)
        if not result.ok:
            for line in result.error_lines(limit=PROBLEMS_SHOWN):
                self.stderr.write(line)
            raise CommandError(
                f"{len(result.problems)} problem(s) found; nothing was imported "
                "(发现错误，未导入任何数据)"
            )
        self.stdout.write(result.summary())
        self.stdout.write(f"done in {time.perf_counter() - started:.1f}s")
