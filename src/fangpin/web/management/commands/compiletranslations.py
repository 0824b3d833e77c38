"""``fangpin compiletranslations`` — compile the .po catalogues to .mo with Babel.

Django's own ``compilemessages`` needs GNU gettext on the machine; this does the
same in pure Python so ``make`` works on a fresh Debian with only Python.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Compile translation catalogues (.po → .mo) without GNU gettext."
    requires_system_checks = []  # an install step: must not depend on the rest of the project

    def handle(self, *args, **options):
        count = 0
        for base in map(Path, settings.LOCALE_PATHS):
            for po_path in sorted(base.glob("*/LC_MESSAGES/*.po")):
                with po_path.open("rb") as fh:
                    catalog = read_po(
                        fh, locale=po_path.parent.parent.name.replace("_", "-").split("-")[0]
                    )
                with po_path.with_suffix(".mo").open("wb") as fh:
                    write_mo(fh, catalog, use_fuzzy=False)
                count += 1
        self.stdout.write(f"compiled {count} catalogue(s)")
