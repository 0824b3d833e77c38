"""Claims (救助事项): what one cap is counted over, and the claims behind a warning.

A case is one claim. Which cases share a cap follows from the circumstance's cap scope, a
policy parameter read on the case's deciding date: the household's year, a student's
year, or one person's accident on one day (``claim_key``). ``claim_check`` checks an
intake's member and event date against it; ``deciding_date`` is the date whose parameters
decide a case.

The claims behind a screening warning are read back from the lake:

A warning is one household × circumstance × year; the cap it is relieved under may be
counted over less than that (the circumstance's cap scope, a policy parameter): one
student's year for education, one event for an accident. A case is one claim, so a
warning becomes as many cases as it has claims — each student, each accident, with
its own cap and start line.

The claims are found from the warning's feed rows (``Warning.feed_refs``): for education
the students' ID numbers, for an accident the event numbers — whose rows in the lake give
the injured person and the day. Medical and farming warnings are one claim of the
household's year. Each claim carries its self-paid amount (or loss) as the screening
counted it, so that the household check starts from the feeds' figure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import ibis
import pyarrow as pa

from fangpin.common.clock import today
from fangpin.common.idnumber import id_number_problem, mask_id_number, normalize_id_number
from fangpin.common.money import Money
from fangpin.feeds.lake import lake_table
from fangpin.policy import spec
from fangpin.policy.loader import PolicyInputError, parameters_default
from fangpin.regions.models import Level, Region
from fangpin.registry.models import Household, Member
from fangpin.screening.expression import education_units

from .errors import (
    ERR_EVENT_DATE,
    ERR_EVENT_DATE_REQUIRED,
    ERR_MEMBER_NOT_IN_HOUSEHOLD,
    ERR_MEMBER_REQUIRED,
    ERR_POLICY,
    SCOPE_MEMBER,
    CaseError,
)


@dataclass(frozen=True)
class Claim:
    member_id_number: str = ""
    event_date: dt.date | None = None
    self_paid: Money | None = None


def _refs(feed_refs: object) -> list[str]:
    refs = feed_refs if isinstance(feed_refs, list) else [feed_refs]
    return sorted({r for ref in refs for r in str(ref or "").split(",") if r})


def warning_claims(*, circumstance: str, year: int, feed_refs: object) -> list[Claim]:
    """The claims of a warning's feed rows (one for a household-year circumstance)."""
    refs = _refs(feed_refs)
    if circumstance not in ("education", "accident") or not refs:
        return [Claim()]
    con = ibis.duckdb.connect()
    keys = ibis.memtable(pa.table({"key": pa.array(refs, type=pa.string())}))
    if circumstance == "education":
        t = lake_table(con, "education", years=[year])
        t = t.filter(t.period_year == year).join(keys, t.id_number == keys.key)
        # summed per student and netted as the screening does (``education_units``)
        units = education_units(t.mutate(household_no=ibis.literal("")))
        per = units.select(fen=units.self_paid_fen, day=ibis.null("date"), person=units.refs)
    else:
        t = lake_table(con, "accident", years=[year])
        t = t.filter(t.period_year == year)
        t = t.join(keys, t.event_no == keys.key)
        net = ibis.greatest(t.loss - t.insurance_paid - t.assistance_paid, 0)
        per = t.group_by("event_no").aggregate(
            fen=net.sum(), day=t.event_date.min(), person=t.id_number.min()
        )
    rows = con.to_pyarrow(per.order_by(["person", "day"])).to_pylist()
    claims = [
        Claim(
            member_id_number=r["person"],
            # a school year that began before the case's year is dated by the year itself
            event_date=r["day"] if circumstance == "accident" else None,
            self_paid=Money.from_fen(int(r["fen"])) if r["fen"] is not None else None,
        )
        for r in rows
    ]
    return claims or [Claim()]


def county_of(household: Household) -> Region:
    codes = household.village.path.strip("/").split("/")
    return Region.objects.get(code__in=codes, level=Level.COUNTY)


def deciding_date(*, period: int, event_date: dt.date | None) -> dt.date:
    """The date whose parameters decide a case: the event's date (the accident, the admission,
    the school year's start) when given, else the last day of the case's year — the date the
    screening of that year reads its parameters on (``screening.expression``)."""
    return event_date if event_date is not None else dt.date(period, 12, 31)


def cap_scope(*, county_code: str, circumstance: str, on: dt.date) -> str:
    """The circumstance's cap scope in force (``spec.CAP_SCOPES``), a policy parameter."""
    try:
        force = parameters_default().in_force(county_code, on)
    except PolicyInputError as exc:
        raise CaseError(
            ERR_POLICY.format(field=exc.field, message=exc.message), field="period"
        ) from None
    return str(force.value(spec.cap_scope_path(circumstance)))


def claim_key(*, scope: str, member_id_number: str, event_date: dt.date | None) -> str:
    """Which cases share one cap: "" for the household's year, the student for a student's
    year, the person and the day for one event."""
    if scope == "student_year":
        return member_id_number
    if scope == "event":
        return f"{member_id_number}@{event_date.isoformat()}"
    return ""


def claim_check(
    *,
    household: Household,
    circumstance: str,
    period: int,
    member_id_number: str,
    event_date: Any,
) -> tuple[str, dt.date | None, str]:
    """Check the claim's person and date against the cap scope; (member, event date, key)."""
    if isinstance(event_date, str):
        try:
            event_date = dt.date.fromisoformat(event_date) if event_date.strip() else None
        except ValueError:
            event_date = dt.date.min  # refused below with the allowed range
    if event_date is not None:
        first, last = dt.date(period - 1, 1, 1), min(dt.date(period, 12, 31), today())
        if not (first <= event_date <= last):
            raise CaseError(ERR_EVENT_DATE.format(first=first, last=last), field="event_date")
    on = deciding_date(period=period, event_date=event_date)
    scope = cap_scope(county_code=county_of(household).code, circumstance=circumstance, on=on)
    member = normalize_id_number(member_id_number or "")
    if scope in SCOPE_MEMBER and not member:
        who, who_zh = SCOPE_MEMBER[scope]
        raise CaseError(
            ERR_MEMBER_REQUIRED.format(who=who, who_zh=who_zh), field="member_id_number"
        )
    if member:
        problem = id_number_problem(member)
        if problem:
            raise CaseError(problem, field="member_id_number")
        if not Member.objects.filter(household=household, id_number=member).exists():
            raise CaseError(
                ERR_MEMBER_NOT_IN_HOUSEHOLD.format(
                    masked=mask_id_number(member),
                    household_no=household.household_no,
                ),
                field="member_id_number",
            )
    if scope == "event" and event_date is None:
        raise CaseError(ERR_EVENT_DATE_REQUIRED, field="event_date")
    return (
        member,
        event_date,
        claim_key(scope=scope, member_id_number=member, event_date=event_date),
    )
