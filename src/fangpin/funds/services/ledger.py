"""The double-entry ledger: posting balanced transactions and reversing them (冲正).

Posting (``_post_many``) is the one door into the ledger. It locks the accounts it
touches (``SELECT … FOR UPDATE`` in id order on PostgreSQL; SQLite's IMMEDIATE
transactions serialise writers anyway), refuses a settled year and a date outside the
entry's fund year (``LATER_DATES_OK``), merges legs per
account, checks the sum in Python for a readable message, and writes the header
unposted, the legs, then flips the header to posted — the order the database
triggers require (migration 0002), so the database has the last word on balance.
Every other service module posts through it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from fangpin.common import clock
from fangpin.common.audit import Action, audit_record
from fangpin.common.money import Money
from fangpin.regions.models import Region

from ..models import (
    Account,
    AccountKind,
    LedgerTransaction,
    Leg,
    Settlement,
    TransactionKind,
)
from .checks import (
    ERR_FUTURE_DATE,
    ERR_YEAR_SETTLED,
    FundError,
    _actor,
    _check_county,
    _check_in_year,
    _check_year,
    _reason,
)

ERR_UNBALANCED = "the legs sum to {total} yuan, not zero (借贷不平衡)"
ERR_TOO_FEW_LEGS = "a transaction needs at least two non-zero legs (至少两条非零分录)"
ERR_ACCOUNT_KIND = "unknown account {kind!r} (科目无效)"
ERR_TRANSACTION_KIND = "unknown transaction kind {kind!r} (凭证类型无效)"
ERR_NOT_POSTED = "only a posted transaction can be reversed (凭证未记账)"
ERR_ALREADY_REVERSED = "transaction #{id} is already reversed (凭证已冲正)"
ERR_REVERSE_REVERSAL = (
    "a reversal is not reversed again; post a new transaction (冲正凭证不可再冲正)"
)

# Kinds whose date may fall after their fund year: the bank confirms a year's relief when it
# pays, which may be after 31 December (the year waits for it to be settled), and a
# correction is dated when it is made. Money received, premiums and the settlement (dated
# 31 December) lie within their year; no entry lies before it.
LATER_DATES_OK = frozenset({TransactionKind.RELIEF, TransactionKind.REVERSAL})


@dataclass(frozen=True)
class LegSpec:
    """One account's share of a transaction; ``year`` defaults to the transaction's."""

    kind: str
    amount: Money
    year: int | None = None


@dataclass
class Entry:
    """A transaction to post: header fields and its legs (one county, any years)."""

    county: Region
    year: int
    kind: str
    date: dt.date
    memo: str
    legs: list[LegSpec] = field(default_factory=list)
    reference: str = ""
    reversal_of: LedgerTransaction | None = None


def _accounts_locked(pairs: Collection[tuple[int, int]]) -> dict[tuple[int, int, str], Account]:
    """Every account of the (county id, year) pairs, created if missing, locked in id order."""
    match = Q()
    for c, y in pairs:
        match |= Q(county_id=c, year=y)
    have = set(Account.objects.filter(match).values_list("county_id", "year", "kind"))
    missing = [
        Account(county_id=c, year=y, kind=k)
        for c, y in sorted(pairs)
        for k in AccountKind.values
        if (c, y, k) not in have
    ]
    if missing:  # a concurrent first posting may create them too: the unique key decides
        Account.objects.bulk_create(missing, ignore_conflicts=True)
    accounts = Account.objects.select_for_update().filter(match).order_by("id")
    return {(a.county_id, a.year, a.kind): a for a in accounts}


def _settled(pairs: Collection[tuple[int, int]]) -> set[tuple[int, int]]:
    if not pairs:
        return set()
    counties = {c for c, _ in pairs}
    years = {y for _, y in pairs}
    rows = Settlement.objects.filter(
        county_id__in=counties, year__in=years, reopened_at__isnull=True
    ).values_list("county_id", "year")
    return set(rows) & set(pairs)


def _post_many(entries: Sequence[Entry], *, actor: Any) -> list[LedgerTransaction]:
    """Post balanced transactions (set-based: a fixed number of queries for any number)."""
    if not entries:
        return []
    today = clock.today()
    prepared: list[tuple[Entry, dict[tuple[int, str], int]]] = []
    for e in entries:
        if e.kind not in TransactionKind.values:
            raise FundError(ERR_TRANSACTION_KIND.format(kind=e.kind), field="kind")
        if e.date > today:
            raise FundError(ERR_FUTURE_DATE.format(date=e.date.isoformat()), field="date")
        _check_in_year(e.date, e.year, "date", later_ok=e.kind in LATER_DATES_OK)
        merged: dict[tuple[int, str], int] = defaultdict(int)
        for leg in e.legs:
            if leg.kind not in AccountKind.values:
                raise FundError(ERR_ACCOUNT_KIND.format(kind=leg.kind), field="legs")
            merged[(leg.year or e.year, leg.kind)] += Money(leg.amount).fen
        merged = {k: v for k, v in merged.items() if v}
        total = sum(merged.values())
        if total:
            raise FundError(ERR_UNBALANCED.format(total=Money.from_fen(total)), field="legs")
        if len(merged) < 2:
            raise FundError(ERR_TOO_FEW_LEGS, field="legs")
        prepared.append((e, merged))

    pairs = {(e.county.pk, y) for e, merged in prepared for (y, _) in merged}
    accounts = _accounts_locked(pairs)
    settled = _settled(pairs)
    if settled:
        raise FundError(ERR_YEAR_SETTLED.format(year=min(y for _, y in settled)), field="year")

    who = _actor(actor)
    headers = [
        LedgerTransaction(
            county=e.county,
            year=e.year,
            kind=e.kind,
            date=e.date,
            memo=e.memo[:255],
            reference=e.reference[:64],
            created_by=who,
            reversal_of=e.reversal_of,
        )
        for e, _ in prepared
    ]
    LedgerTransaction.objects.bulk_create(headers, batch_size=2000)
    Leg.objects.bulk_create(
        [
            Leg(transaction=h, account=accounts[(e.county.pk, y, kind)], amount=Money.from_fen(fen))
            for h, (e, merged) in zip(headers, prepared, strict=True)
            for (y, kind), fen in sorted(merged.items())
        ],
        batch_size=5000,
    )
    now = timezone.now()
    ids = [h.pk for h in headers]
    for start in range(0, len(ids), 2000):  # posted last: the triggers check the sum here
        LedgerTransaction.objects.filter(pk__in=ids[start : start + 2000]).update(
            posted=True, posted_at=now
        )
    for h in headers:
        h.posted, h.posted_at = True, now
    return headers


@transaction.atomic
def ledger_post(
    *,
    county: Region,
    year: int,
    kind: str,
    date: dt.date,
    memo: str,
    legs: Sequence[LegSpec],
    actor: Any,
    reference: str = "",
) -> LedgerTransaction:
    """Post one balanced transaction of ``county`` (legs in ``year`` unless a leg says otherwise)."""
    _check_county(county)
    _check_year(year)
    (tx,) = _post_many(
        [
            Entry(
                county=county,
                year=year,
                kind=kind,
                date=date,
                memo=memo,
                legs=list(legs),
                reference=reference,
            )
        ],
        actor=actor,
    )
    audit_record(
        actor=actor,
        action=Action.TRANSACTION_POSTED,
        obj=tx,
        region_path=county.path,
        data={"kind": kind, "memo": memo},
    )
    return tx


def _reverse(
    tx: LedgerTransaction, *, actor: Any, reason: str, on: dt.date | None = None
) -> LedgerTransaction:
    if not tx.posted:
        raise FundError(ERR_NOT_POSTED, field="transaction")
    if tx.kind == TransactionKind.REVERSAL:
        raise FundError(ERR_REVERSE_REVERSAL, field="transaction")
    if LedgerTransaction.objects.filter(reversal_of=tx).exists():
        raise FundError(ERR_ALREADY_REVERSED.format(id=tx.pk), field="transaction")
    legs = [
        LegSpec(kind=leg.account.kind, amount=-leg.amount, year=leg.account.year)
        for leg in tx.legs.select_related("account")
    ]
    memo = f"Reversal of #{tx.pk} 冲正: {reason}"
    try:
        with transaction.atomic():
            (rev,) = _post_many(
                [
                    Entry(
                        county=tx.county,
                        year=tx.year,
                        kind=TransactionKind.REVERSAL,
                        date=on or clock.today(),
                        memo=memo,
                        legs=legs,
                        reference=tx.reference,
                        reversal_of=tx,
                    )
                ],
                actor=actor,
            )
    except IntegrityError:  # a concurrent reversal won the one-to-one
        raise FundError(ERR_ALREADY_REVERSED.format(id=tx.pk), field="transaction") from None
    return rev


@transaction.atomic
def ledger_transaction_reverse(
    *, tx: LedgerTransaction, actor: Any, reason: str, date: dt.date | None = None
) -> LedgerTransaction:
    """Correct a posted transaction by posting its exact opposite (冲正); the original stays."""
    reason = _reason(reason)
    rev = _reverse(tx, actor=actor, reason=reason, on=date)
    audit_record(
        actor=actor,
        action=Action.TRANSACTION_REVERSED,
        obj=tx,
        region_path=tx.county.path,
        reason=reason,
        data={"reversal": rev.pk},
    )
    return rev
