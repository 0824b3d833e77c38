"""The ``fangpin`` command: every Django management command, plus Fangpin's own.

fangpin demo | serve | synth | import registry PATH | migrate | shell -c … | createsuperuser
"""

from __future__ import annotations

import logging
import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangpin.config.settings")
    from django.core.management import execute_from_command_line

    console = argv is None
    argv = list(sys.argv if argv is None else argv)
    argv[0] = "fangpin"
    execute_from_command_line(argv)
    if console:
        _leave()


def _leave() -> None:
    """End the process once a command has finished well: its work is committed, the database
    connections are closed (SQLite checkpoints its log then) and the output is flushed.
    Python's own shutdown would then spend another half second taking apart the modules of
    Ibis, sqlglot, polars and Django one object at a time — a tenth of a city's screening."""
    from django.db import connections

    connections.close_all()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
