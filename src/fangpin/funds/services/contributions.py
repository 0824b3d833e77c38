"""Contributions to the county relief fund (资金筹集): money raised, by source, posted
fund ← source; recorded one by one, in bulk for the import (``funds.importer``), and
reversed when wrong.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from fangpin.common.audit import Action, audit_record, audit_record_many
from fangpin.common.models import AuditEvent
from fangpin.regions.models import Region

from ..models import (
    SOURCE_ACCOUNT,
    SOURCE_ALIASES,
    AccountKind,
    Contribution,
    ContributionSource,
    TransactionKind,
)
from .checks import (
    FundError,
    _actor,
    _check_county,
    _check_date,
    _check_in_year,
    _check_year,
    _money,
    _reason,
    _text,
)
from .ledger import Entry, LegSpec, _post_many, _reverse

ERR_SOURCE = "source must be one of: {choices} (资金来源无效)"
ERR_DUPLICATE_DOCUMENT = (
    "document number {document_no} is already recorded for this county (文号已登记)"
)
ERR_CONTRIBUTION_REVERSED = "this contribution is already reversed (该笔资金已冲正)"


def source_code(value: str) -> str | None:
    """A contribution source as written (code or Chinese name) → its code, or None."""
    text = str(value or "").strip()
    if text.lower() in ContributionSource.values:
        return text.lower()
    return SOURCE_ALIASES.get(text)


def _contribution_entry(c: Contribution) -> Entry:
    label = ContributionSource(c.source).label
    return Entry(
        county=c.county,
        year=c.year,
        kind=TransactionKind.CONTRIBUTION,
        date=c.received_on,
        memo=f"{label} · {c.document_no}",
        reference=c.document_no,
        legs=[LegSpec(AccountKind.FUND, c.amount), LegSpec(SOURCE_ACCOUNT[c.source], -c.amount)],
    )


@transaction.atomic
def fund_contribution_record(
    *,
    county: Region,
    year: int,
    source: str,
    amount: Any,
    document_no: str,
    received_on: dt.date,
    actor: Any,
    note: str = "",
) -> Contribution:
    """Record money raised for ``county``'s fund of ``year`` and post it: fund ← source."""
    _check_county(county)
    _check_year(year)
    code = source_code(source)
    if code is None:
        raise FundError(
            ERR_SOURCE.format(choices=", ".join(ContributionSource.values)), field="source"
        )
    amount = _money(amount)
    document_no = _text(document_no, "document_no", 64)
    note = _text(note, "note", 255, required=False)
    _check_date(received_on, "received_on")
    _check_in_year(received_on, year, "received_on")
    if Contribution.objects.filter(
        county=county, document_no=document_no, reversed_at__isnull=True
    ).exists():
        raise FundError(ERR_DUPLICATE_DOCUMENT.format(document_no=document_no), field="document_no")
    c = Contribution(
        county=county,
        year=year,
        source=code,
        amount=amount,
        document_no=document_no,
        received_on=received_on,
        note=note,
        recorded_by=_actor(actor),
    )
    (c.transaction,) = _post_many([_contribution_entry(c)], actor=actor)
    try:
        with transaction.atomic():
            c.save()
    except IntegrityError:  # the same document recorded concurrently
        raise FundError(
            ERR_DUPLICATE_DOCUMENT.format(document_no=document_no), field="document_no"
        ) from None
    audit_record(
        actor=actor,
        action=Action.CONTRIBUTION_RECORDED,
        obj=c,
        region_path=county.path,
        data={"year": year, "source": code, "amount": str(amount), "document_no": document_no},
    )
    return c


@transaction.atomic
def contributions_bulk_record(
    *, rows: Sequence[Contribution], actor: Any, source_path: str
) -> list[Contribution]:
    """Post and save already validated contributions (the import's write; set-based)."""
    if not rows:
        return []
    txs = _post_many([_contribution_entry(c) for c in rows], actor=actor)
    for c, tx in zip(rows, txs, strict=True):
        c.transaction = tx
        c.recorded_by = _actor(actor)
    try:
        with transaction.atomic():
            created = Contribution.objects.bulk_create(list(rows), batch_size=2000)
    except IntegrityError:  # a document recorded concurrently since the caller checked
        raise FundError(
            ERR_DUPLICATE_DOCUMENT.format(document_no="…"), field="document_no"
        ) from None
    audit_record_many(
        AuditEvent(
            actor=_actor(actor),
            action=Action.CONTRIBUTION_RECORDED,
            object_type="funds.contribution",
            object_id=str(c.pk),
            region_path=c.county.path,
            data={
                "year": c.year,
                "source": c.source,
                "amount": str(c.amount),
                "document_no": c.document_no,
                "file": source_path,
            },
        )
        for c in created
    )
    return created


@transaction.atomic
def fund_contribution_reverse(
    *, contribution: Contribution, actor: Any, reason: str
) -> Contribution:
    """Undo a wrongly recorded contribution with a reversing transaction; its number is free again."""
    reason = _reason(reason)
    c = Contribution.objects.select_for_update().get(pk=contribution.pk)
    if c.reversed_at is not None:
        raise FundError(ERR_CONTRIBUTION_REVERSED, field="contribution")
    c.reversal = _reverse(c.transaction, actor=actor, reason=reason)
    c.reversed_at = timezone.now()
    c.save(update_fields=["reversal", "reversed_at"])
    audit_record(
        actor=actor,
        action=Action.CONTRIBUTION_REVERSED,
        obj=c,
        region_path=c.county.path,
        from_state="recorded",
        to_state="reversed",
        reason=reason,
        data={"document_no": c.document_no, "amount": str(c.amount)},
    )
    return c
