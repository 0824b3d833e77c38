"""The feed facts behind a warning, in words (预警依据).

A warning's ``feed_refs`` name the department rows that make its units (``expression.
UNIT_REFS``: a settlement for medical costs, a student's ID number for schooling, an
event for an accident, a project for a farming loss). The warning page shows those rows
as an officer reads them — the hospital, the admission and discharge dates, the total and
self-paid amounts; the school and its fees; the accident's kind, date and loss; the farming
loss — read back from the lake (``feeds.selectors.feed_rows``) for the warning's year,
each with the batch it came in. ID numbers are masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fangpin.common.idnumber import mask_id_number, mask_if_id_number
from fangpin.common.money import Money
from fangpin.feeds.schemas import SCHEMAS as FEED_SCHEMAS
from fangpin.feeds.selectors import feed_rows

from .expression import UNIT_REFS
from .models import Warning

# what the page shows of each feed's row: (label, how the value is made from the row)
MONEY, DATE, TEXT, ID, CHOICE, FLAG = "money", "date", "text", "id", "choice", "flag"
COLUMNS: dict[str, tuple[tuple[Any, str, str], ...]] = {
    "medical": (
        (_("Hospital"), "hospital", TEXT),
        (_("Patient"), "id_number", ID),
        (_("Admitted"), "admitted", DATE),
        (_("Discharged"), "discharged", DATE),
        (_("Total cost"), "total_cost", MONEY),
        (_("Reimbursed"), "reimbursed", MONEY),
        (_("Self-paid"), "self_paid", MONEY),
    ),
    "education": (
        (_("Student"), "id_number", ID),
        (_("School"), "school", TEXT),
        (pgettext_lazy("school", "Level"), "level", CHOICE),
        (_("School year from"), "term_start", DATE),
        (_("Fees"), "fees", MONEY),
        (_("Loans and grants"), "aid", MONEY),
    ),
    "accident": (
        (pgettext_lazy("accident", "Person"), "id_number", ID),
        (_("Kind"), "event_kind", CHOICE),
        (_("Date"), "event_date", DATE),
        (_("Loss"), "loss", MONEY),
        (_("Insurance paid"), "insurance_paid", MONEY),
        (_("Assistance paid"), "assistance_paid", MONEY),
    ),
    "farming": (
        (_("Project"), "project", TEXT),
        (_("Cause"), "cause", CHOICE),
        (_("Date of the loss"), "loss_date", DATE),
        (pgettext_lazy("farming loss", "Insured"), "insured", FLAG),
        (_("Loss"), "loss", MONEY),
        (_("Insurance paid"), "insurance_paid", MONEY),
    ),
}
# sums the page shows as one figure (integer fen in the lake)
DERIVED = {
    "reimbursed": ("basic_insurance", "serious_illness", "medical_assistance"),
    "fees": ("tuition", "accommodation", "textbooks"),
    "aid": ("loan", "grant"),
}


@dataclass(frozen=True)
class FeedFacts:
    """The rows of one feed behind a warning, as the page shows them."""

    kind: str
    title: str  # the feed and its department, in Chinese as the departments name them
    headers: list[Any]
    rows: list[dict[str, Any]]  # cells (list), batch_id, source_row, reference
    missing: list[str]  # refs the lake no longer holds (masked)


def _choice_label(kind: str, field: str, code: str) -> str:
    """A choice's Chinese spelling from the feed's schema (the lake keeps the code)."""
    choices = FEED_SCHEMAS[kind].column(field).choices
    for spelling, value in choices.items():
        if value == code and not spelling.isascii():
            return spelling
    return code


def _cell(kind: str, row: dict[str, Any], field: str, how: str) -> Any:
    if field in DERIVED:
        return Money.from_fen(sum(int(row.get(f) or 0) for f in DERIVED[field]))
    value = row.get(field)
    if value is None or value == "":
        return ""
    if how == MONEY:
        return Money.from_fen(int(value))
    if how == ID:
        return mask_id_number(str(value))
    if how == CHOICE:
        return _choice_label(kind, field, str(value))
    if how == FLAG:
        return _("yes") if value else _("no")
    return value


def warning_facts(warning: Warning) -> FeedFacts | None:
    """The feed rows behind ``warning`` in words, or ``None`` for a circumstance without."""
    unit = UNIT_REFS.get(warning.circumstance)
    if unit is None:
        return None
    kind, key = unit
    refs = sorted({r for ref in warning.feed_refs for r in str(ref or "").split(",") if r})
    found = feed_rows(kind=kind, field=key, values=refs, years=[warning.year])
    found = [r for r in found if r.get("period_year") == warning.year]
    columns = COLUMNS[kind]
    schema = FEED_SCHEMAS[kind]
    seen = {str(r[key]) for r in found}
    return FeedFacts(
        kind=kind,
        title=f"{schema.title_zh} · {schema.department_zh}",
        headers=[label for label, _field, _how in columns],
        rows=[
            {
                "cells": [(how, _cell(kind, r, field, how)) for _label, field, how in columns],
                "reference": mask_if_id_number(str(r[key])),
                "batch_id": r["batch_id"],
                "source_row": r["source_row"],
            }
            for r in found
        ],
        missing=[mask_if_id_number(r) for r in refs if r not in seen],
    )
