"""Reads for the policy page and API: which counties a user may compute for.

The engine itself (``loader``, ``scalar``, ``batch``…) never touches the
database; this module is the Django side's one place that does.
"""

from __future__ import annotations

from typing import Any

from fangpin.accounts.permissions import visible_counties
from fangpin.regions.models import Region

ERR_COUNTY_NOT_VISIBLE = "county {code} is outside your region (不在您的辖区内)"


def policy_counties(*, user: Any) -> list[Region]:
    """The counties whose parameters the user may see and compute with, by code."""
    return list(visible_counties(user).only("code", "name"))


def policy_county_visible(*, user: Any, code: str) -> bool:
    return visible_counties(user).filter(code=code).exists()
