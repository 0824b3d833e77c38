"""Today, in the configured time zone (``TIME_ZONE``): the one ``today()``."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def today() -> dt.date:
    return timezone.localdate()
