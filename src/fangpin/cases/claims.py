"""The claims (救助事项) behind a screening warning, read back from the lake.

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

import ibis
import pyarrow as pa

from fangpin.common.money import Money
from fangpin.feeds.lake import lake_table
from fangpin.screening.expression import EDUCATION_COUNTED_LEVELS


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
        t = t.filter(
            (t.period_year == year) & t.full_time & t.level.isin(list(EDUCATION_COUNTED_LEVELS))
        )
        t = t.join(keys, t.id_number == keys.key)
        net = ibis.greatest(t.tuition + t.accommodation + t.textbooks - t.loan - t.grant, 0)
        per = t.group_by("id_number").aggregate(
            fen=net.sum(), day=t.term_start.min(), person=t.id_number.min()
        )
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
