"""The ``fangpin`` command: every Django management command, plus Fangpin's own.

fangpin demo | serve | synth | import registry PATH | migrate | shell -c … | createsuperuser
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangpin.config.settings")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv if argv is None else argv)
    argv[0] = "fangpin"
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
