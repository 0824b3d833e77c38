"""Hit rates of the department feeds (预警命中率): what became of the warnings each feed raised.

The seed checked 33,704 warnings to verify 2,992; a county elsewhere reports 800 warnings
→ 6 households (MONITORING.md). This is the feedback a department and a county need: per
year, county and feed — the rule (circumstance) its rows make warnings of — how many
warnings went how far. A warning is one household × circumstance × year, and its stages
are read from the triage, the cases opened from it and the fund's payments:

=========  ==========================================================================
warned     the screening recorded it (whatever its status: excluded ones too)
excluded   of those, still excluded by data comparison (信息比对) — not checked by anyone
checked    a person took it up: it left "new" (checking, confirmed or dismissed)
confirmed  relief cases were opened from it (status confirmed; each case's intake names
           the warning, ``cases.Intake.warning``)
verified   a case opened from it passed the county decision with an amount above 0 and
           has not gone back or been rejected since: it is at the insurer's loss
           determination, payment requested, paid or follow-up (``VERIFIED_STATES``); the
           yuan are its current decision's amount (after an insurer's adjustment)
paid       the fund's payment of a case opened from it succeeded at the bank; the yuan
           are the amounts paid
=========  ==========================================================================

Each stage counts warnings and households (distinct, so a household warned for two
circumstances counts once in a total). The yuan of *warned* are the screening's
estimated relief. The hit rate is verified households ÷ warned households.

Everything is one aggregate query per table (``_aggregate``): the verified and paid yuan
of each warning are correlated subqueries over its cases' decisions and payments, summed
in the same GROUP BY — never a loop over warnings.

Visibility: the counties of the user's region (``permissions.visible_counties``); a
department data officer (部门数据员) only the rows of the feeds its department sends
(``feeds.schemas.SENT_BY``). No row names a household.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import (
    BigIntegerField,
    Count,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models import Case as SqlCase
from django.db.models.functions import Coalesce

from fangpin.accounts import permissions
from fangpin.accounts.models import Role
from fangpin.cases.models import Decision, Intake
from fangpin.cases.states import State
from fangpin.common.money import Money
from fangpin.feeds.schemas import SCHEMAS as FEED_SCHEMAS
from fangpin.feeds.schemas import kinds_sent_by
from fangpin.funds.models import Payment, PaymentStatus
from fangpin.policy import spec
from fangpin.regions.models import Region
from fangpin.screening.expression import UNIT_REFS
from fangpin.screening.models import Warning, WarningStatus

# a case past the county decision with an amount to pay, not sent back or rejected since
VERIFIED_STATES = (
    State.LOSS_DETERMINATION,
    State.PAYMENT_REQUESTED,
    State.PAID,
    State.FOLLOW_UP,
)
CHECKED_STATUSES = (WarningStatus.CHECKING, WarningStatus.CONFIRMED, WarningStatus.DISMISSED)
STAGES = ("warned", "excluded", "checked", "confirmed", "verified", "paid")
TOTAL = ""  # the county or circumstance of a total row


@dataclass(frozen=True)
class HitRow:
    """One row of the hit rates: a year, a county ("" for all), a circumstance ("" for
    all); per stage the warnings and households; yuan where the stage has an amount."""

    year: int
    county_code: str
    county_name: str
    circumstance: str
    warnings: dict[str, int] = field(default_factory=dict)
    households: dict[str, int] = field(default_factory=dict)
    estimated: Money = Money(0)  # the screening's estimated relief of the warned
    verified_yuan: Money = Money(0)
    paid_yuan: Money = Money(0)

    @property
    def feed(self) -> str:
        return UNIT_REFS[self.circumstance][0] if self.circumstance else ""

    @property
    def feed_label(self) -> str:
        schema = FEED_SCHEMAS.get(self.feed)
        return f"{schema.title_zh} · {schema.department_zh}" if schema else ""

    @property
    def circumstance_label(self) -> str:
        return spec.CIRCUMSTANCE_LABELS.get(self.circumstance, "") if self.circumstance else ""

    @property
    def hit_rate(self) -> Decimal | None:
        """Verified households ÷ warned households, in percent to one decimal."""
        warned = self.households.get("warned", 0)
        if not warned:
            return None
        share = Decimal(self.households.get("verified", 0) * 100) / Decimal(warned)
        return share.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def is_total(self) -> bool:
        return not self.county_code or not self.circumstance


def visible_circumstances(user: Any) -> tuple[str, ...]:
    """The circumstances whose feed the user may see the rows of: all of them, or for a
    department data officer those of the feeds its department sends."""
    if getattr(user, "role", "") == Role.DEPARTMENT_OFFICER and not user.is_superuser:
        kinds = set(kinds_sent_by(getattr(user, "department", "")))
        return tuple(c for c, (kind, _key) in UNIT_REFS.items() if kind in kinds)
    return tuple(UNIT_REFS)


def hit_rate_counties(user: Any) -> list[Region]:
    return list(permissions.visible_counties(user))


def _sum(qs: QuerySet) -> Subquery:
    """SUM(amount) of ``qs`` as a correlated scalar subquery (integer fen, 0 for none)."""
    total = qs.order_by().annotate(total=Func(F("amount"), function="SUM")).values("total")[:1]
    return Coalesce(Subquery(total, output_field=BigIntegerField()), Value(0))


def _warnings(*, user: Any, year: int | None, counties: list[Region]) -> QuerySet[Warning]:
    """The warnings the hit rates count, each with its county and its verified and paid fen."""
    circumstances = visible_circumstances(user)
    qs = permissions.scope_filter(user, Warning.objects.all(), "region_path")
    qs = qs.filter(circumstance__in=circumstances)
    if year:
        qs = qs.filter(year=year)
    in_counties = Q()
    for c in counties:
        in_counties |= Q(region_path__startswith=c.path)
    qs = qs.filter(in_counties) if counties else qs.none()
    # the cases opened from the warning of the outer query (an IN: a case joined twice by
    # the same warning's claims counts once)
    cases = Intake.objects.filter(warning=OuterRef(OuterRef("pk"))).values("case_id")
    decided = Decision.objects.filter(
        case__in=cases, superseded_by__isnull=True, case__state__in=VERIFIED_STATES
    )
    paid = Payment.objects.filter(decision__case__in=cases, status=PaymentStatus.SUCCEEDED)
    return qs.annotate(
        county=SqlCase(
            *[When(region_path__startswith=c.path, then=Value(c.code)) for c in counties],
            default=Value(""),
        ),
        verified_fen=_sum(decided),
        paid_fen=_sum(paid),
    )


def _aggregate(qs: QuerySet[Warning], keys: list[str]) -> list[dict[str, Any]]:
    """One GROUP BY over ``keys``: per stage the warnings and distinct households, and the
    yuan (as fen) of the warned, the verified and the paid."""
    stages = {
        "warned": Q(),
        "excluded": Q(status=WarningStatus.EXCLUDED),
        "checked": Q(status__in=CHECKED_STATUSES),
        "confirmed": Q(status=WarningStatus.CONFIRMED),
        "verified": Q(verified_fen__gt=0),
        "paid": Q(paid_fen__gt=0),
    }
    counts: dict[str, Any] = {}
    for stage, where in stages.items():
        counts[f"w_{stage}"] = Count("pk", filter=where) if where else Count("pk")
        counts[f"h_{stage}"] = (
            Count("household_id", filter=where, distinct=True)
            if where
            else Count("household_id", distinct=True)
        )
    return list(
        qs.values(*keys)
        .annotate(
            **counts,
            estimated_fen=Coalesce(Sum("estimated_relief", output_field=BigIntegerField()), 0),
            verified_sum=Coalesce(Sum("verified_fen", output_field=BigIntegerField()), 0),
            paid_sum=Coalesce(Sum("paid_fen", output_field=BigIntegerField()), 0),
        )
        .order_by(*keys)
    )


def _row(values: dict[str, Any], names: dict[str, str]) -> HitRow:
    county = values.get("county", TOTAL)
    return HitRow(
        year=values["year"],
        county_code=county,
        county_name=names.get(county, ""),
        circumstance=values.get("circumstance", TOTAL),
        warnings={s: int(values[f"w_{s}"]) for s in STAGES},
        households={s: int(values[f"h_{s}"]) for s in STAGES},
        estimated=Money.from_fen(int(values["estimated_fen"])),
        verified_yuan=Money.from_fen(int(values["verified_sum"])),
        paid_yuan=Money.from_fen(int(values["paid_sum"])),
    )


def hit_rates(*, user: Any, year: int | None = None, county: str = "") -> list[HitRow]:
    """The hit rates ``user`` may see, for ``year`` (all years when None) and ``county``
    (a code among the user's counties; "" for all): per year, county and circumstance,
    then per year and circumstance over the counties, then per year — in that order
    within each year. Three aggregate queries."""
    counties = hit_rate_counties(user)
    if county:
        counties = [c for c in counties if c.code == county]
    names = {c.code: c.name for c in counties}
    qs = _warnings(user=user, year=year, counties=counties)
    detail = [_row(v, names) for v in _aggregate(qs, ["year", "county", "circumstance"])]
    by_feed = [_row(v, names) for v in _aggregate(qs, ["year", "circumstance"])]
    by_year = [_row(v, names) for v in _aggregate(qs, ["year"])]
    rows: list[HitRow] = []
    for y in sorted({r.year for r in by_year}, reverse=True):
        rows += [r for r in detail if r.year == y]
        if len(counties) > 1:  # the counties together, per feed
            rows += [r for r in by_feed if r.year == y]
        rows += [r for r in by_year if r.year == y]
    return rows


def hit_rate_years(*, user: Any) -> list[int]:
    qs = permissions.scope_filter(user, Warning.objects.all(), "region_path")
    qs = qs.filter(circumstance__in=visible_circumstances(user))
    return sorted(set(qs.order_by().values_list("year", flat=True).distinct()), reverse=True)
