"""Removing a county's fund rows — for synthetic data only (``synth --replace``, tests).

Posted ledger rows are undeletable by design (migration 0002); this is the one door
round that, opened for its own transaction only. It stays in funds because it opens the
fund's own maintenance switch and deletes the fund's own tables.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction

from fangpin.common.audit import Action, audit_record
from fangpin.regions.models import Region

from ..models import (
    Account,
    BankBatch,
    Contribution,
    InsuranceContract,
    LedgerTransaction,
    Leg,
    Payment,
    PaymentAttempt,
    Settlement,
)


@transaction.atomic
def fund_data_purge(*, county: Region, actor: Any = None) -> int:
    """Delete every fund row of ``county`` — for synthetic data only (``synth --replace``, tests).

    Posted ledger rows are undeletable by design; this is the one door, opened
    for this transaction only (the maintenance switch of migration 0002).
    Returns the number of ledger transactions removed.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL fangpin.ledger_maintenance = 'on'")
        else:
            cursor.execute("INSERT INTO funds_ledger_maintenance (id) VALUES (1)")
    Settlement.objects.filter(county=county).delete()
    PaymentAttempt.objects.filter(payment__county=county).delete()
    Payment.objects.filter(county=county).delete()
    BankBatch.objects.filter(county=county).delete()
    Contribution.objects.filter(county=county).delete()
    InsuranceContract.objects.filter(county=county).delete()
    txs = LedgerTransaction.objects.filter(county=county)
    n = txs.count()
    Leg.objects.filter(transaction__county=county).delete()
    txs.filter(reversal_of__isnull=False).delete()
    txs.delete()
    Account.objects.filter(county=county).delete()
    with (
        connection.cursor() as cursor
    ):  # closed again (a failure above rolls the switch back with the rest)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL fangpin.ledger_maintenance = 'off'")
        else:
            cursor.execute("DELETE FROM funds_ledger_maintenance")
    audit_record(
        actor=actor,
        action=Action.FUND_DATA_PURGED,
        obj=county,
        region_path=county.path,
        data={"transactions": n},
    )
    return n
