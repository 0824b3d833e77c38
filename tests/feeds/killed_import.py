"""A child process for ``test_lake.py``: import a feed and die at a stage, or count the lake.

    python killed_import.py import STAGE KIND FILE   # STAGE: writing, committing or none
    python killed_import.py count KIND               # prints "<batches> <rows>" as the lake reads

The process dies with ``os._exit`` — no exception handler, no ``finally``, no rollback
from Python: the database sees a connection vanish mid-transaction, as with ``kill -9``.
(Not a test module: pytest collects ``test_*.py`` only.)
"""

from __future__ import annotations

import os
import sys

KILLED = 137


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangpin.config.settings")
    import django

    django.setup()
    import ibis

    from fangpin.feeds import services
    from fangpin.feeds.lake import lake_table
    from fangpin.feeds.models import BatchStatus, FeedBatch

    if argv[0] == "count":
        kind = argv[1]
        rows = lake_table(ibis.duckdb.connect(), kind).count().execute()
        batches = FeedBatch.objects.filter(kind=kind, status=BatchStatus.ACCEPTED).count()
        print(batches, rows)
        return
    stage, kind, path = argv[1:4]
    real_sync = services._sync_folders

    def die_writing(path):  # the temporary file half written
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        os._exit(KILLED)

    def die_committing(folders):  # every file renamed into place, the manifest not committed
        real_sync(folders)
        os._exit(KILLED)

    if stage == "writing":
        services._fsync = die_writing
    elif stage == "committing":
        services._sync_folders = die_committing
    result = services.feed_import(kind=kind, path=path)
    print(result.summary())


if __name__ == "__main__":
    main(sys.argv[1:])
