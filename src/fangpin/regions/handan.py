"""The real Handan tree at county level, shipped with the package (public fact).

Source: ``data/handan-counties.csv`` (copy of shared/design/handan-counties.csv):
the city 邯郸市 130400 and its 18 county-level units. Former codes (邯郸县
130421, 肥乡县 130428, 永年县 130429) name no region today but still begin valid
resident ID numbers.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

CITY_CODE = "130400"
FORMER_CODES = {"130421": "邯郸县", "130428": "肥乡县", "130429": "永年县"}


@cache
def _rows() -> tuple[dict[str, str], ...]:
    text = (
        resources.files("fangpin.regions").joinpath("data/handan-counties.csv").read_text("utf-8")
    )
    return tuple(dict(r) for r in csv.DictReader(text.splitlines()))


def city() -> dict[str, str]:
    """The city row: {code, name, kind, note}."""
    return next(r for r in _rows() if r["kind"] == "city")


def counties() -> list[dict[str, str]]:
    """The 18 county-level units: [{code, name, kind, note}], in code order."""
    return [r for r in _rows() if r["kind"] != "city"]


def county_codes() -> frozenset[str]:
    return frozenset(r["code"] for r in counties())
