"""Relief payments (救助金支付): at most one per approved decision, sent to the bank in
batches (报盘), booked when the bank's return (回盘) says paid, paid again when it failed.

When a return pays, ``bank_returns_write`` fires ``hooks.payment_succeeded`` in the same
transaction with the payments that just succeeded: the apps downstream (cases) move their
own records there, and funds never imports them.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from fangpin.common.audit import Action, audit_record, audit_record_many
from fangpin.common.models import AuditEvent
from fangpin.common.money import Money
from fangpin.regions.models import Region
from fangpin.registry.models import HEAD_RELATIONS, Household

from ..hooks import payment_succeeded_fire
from ..models import (
    AccountKind,
    BankBatch,
    InsuranceContract,
    Payment,
    PaymentAttempt,
    PaymentStatus,
    TransactionKind,
)
from .checks import (
    ERR_YEAR_SETTLED,
    FundError,
    _actor,
    _check_county,
    _check_year,
    _money,
)
from .ledger import Entry, LegSpec, _accounts_locked, _post_many, _settled

BANK_ACCOUNT = re.compile(r"^\d{8,32}$")

ERR_NO_CONTRACT = "{county} has no insurance contract for {year} (该县该年度没有防贫保险合同)"
ERR_DECISION_KEY = "decision key must be 1–64 characters (决定编号无效)"
ERR_DECISION_KEY_REUSED = "decision key {key} is already used for another household or amount (决定编号已用于其他农户或金额)"
ERR_HOUSEHOLD_NOT_IN_COUNTY = "household {household} is not in {county} (农户不在该县)"
ERR_NO_BANK_ACCOUNT = "household {household} has no valid bank account (8–32 digits); fix it first (农户银行账号缺失或无效)"
ERR_NO_ACCOUNT_NAME = (
    "household {household} has no members to name the account holder (农户无成员，无法确定户名)"
)
ERR_NOT_FAILED = "only a failed payment can be requested again; this one is {status} (仅支付失败的款项可重新发起)"
ERR_RETURN_CHANGED = "payments {references} changed while the file was checked; import it again (回盘期间款项状态已变化)"


def _new_reference(county: Region, year: int) -> str:
    return f"FP{county.code}{year}{secrets.token_hex(4).upper()}"


def _account_holder(household: Household) -> str:
    members = list(household.members.order_by("id").values_list("name", "relation"))
    heads = [name for name, relation in members if relation in HEAD_RELATIONS]
    if heads:
        return heads[0]
    if members:
        return members[0][0]
    raise FundError(ERR_NO_ACCOUNT_NAME.format(household=household.household_no), field="household")


def _check_bank_account(household: Household) -> None:
    if not BANK_ACCOUNT.match(household.bank_account or ""):
        raise FundError(
            ERR_NO_BANK_ACCOUNT.format(household=household.household_no), field="household"
        )


def _attempt_open(payment: Payment, household: Household, number: int) -> PaymentAttempt:
    return PaymentAttempt.objects.create(
        payment=payment,
        number=number,
        reference=_new_reference(payment.county, payment.year),
        bank_name=household.bank_name,
        bank_account=household.bank_account,
        account_name=_account_holder(household),
    )


def _same_request(payment: Payment, household: Household, amount: Money) -> Payment:
    if payment.household_id != household.pk or payment.amount != amount:
        raise FundError(
            ERR_DECISION_KEY_REUSED.format(key=payment.decision_key), field="decision_key"
        )
    return payment


def _payment_existing(key: str) -> Payment | None:
    return Payment.objects.filter(decision_key=key).first()


def _require_open_year(county: Region, year: int) -> None:
    """Lock the year's accounts (serialises with settlement) and refuse a settled year."""
    _accounts_locked({(county.pk, year)})
    if _settled({(county.pk, year)}):
        raise FundError(ERR_YEAR_SETTLED.format(year=year), field="year")


def _require_contract(county: Region, year: int) -> None:
    if not InsuranceContract.objects.filter(county=county, year=year).exists():
        raise FundError(ERR_NO_CONTRACT.format(county=county.name, year=year), field="year")


@transaction.atomic
def payment_request(
    *, decision_key: str, household: Household, amount: Any, county: Region, year: int, actor: Any
) -> Payment:
    """Ask for relief to be paid to ``household`` for one approved decision — at most once.

    Idempotent: a retry, or any number of concurrent calls, with the same
    ``decision_key`` returns the one payment (unique key; a losing concurrent
    insert lands on ``IntegrityError`` and returns the winner's row). The same
    key with another household or amount is refused.
    """
    key = str(decision_key or "").strip()
    if not key or len(key) > 64:
        raise FundError(ERR_DECISION_KEY, field="decision_key")
    amount = _money(amount)
    existing = _payment_existing(key)
    if existing is not None:
        return _same_request(existing, household, amount)
    _check_county(county)
    _check_year(year)
    if not household.village.path.startswith(county.path):
        raise FundError(
            ERR_HOUSEHOLD_NOT_IN_COUNTY.format(
                household=household.household_no, county=county.name
            ),
            field="household",
        )
    _check_bank_account(household)
    _require_contract(county, year)
    _require_open_year(county, year)
    existing = _payment_existing(key)  # a concurrent request may have committed while we waited
    if existing is not None:
        return _same_request(existing, household, amount)
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                decision_key=key,
                household=household,
                county=county,
                year=year,
                amount=amount,
                requested_by=_actor(actor),
            )
            attempt = _attempt_open(payment, household, 1)
    except IntegrityError:
        existing = Payment.objects.filter(decision_key=key).first()
        if existing is None:
            raise
        return _same_request(existing, household, amount)
    audit_record(
        actor=actor,
        action=Action.PAYMENT_REQUESTED,
        obj=payment,
        region_path=household.village.path,
        to_state=PaymentStatus.REQUESTED,
        data={
            "decision_key": key,
            "amount": str(amount),
            "reference": attempt.reference,
            "year": year,
        },
    )
    return payment


@transaction.atomic
def payment_retry(*, payment: Payment, actor: Any, year: int | None = None) -> Payment:
    """Request a failed payment again, to the household's bank account as it is now.

    The failed attempt keeps the bank's reason. ``year`` moves the payment to
    another open fund year (e.g. the next one, when the failed one is settled).
    """
    p = (
        Payment.objects.select_for_update()
        .select_related("county", "household__village")
        .get(pk=payment.pk)
    )
    if p.status != PaymentStatus.FAILED:
        raise FundError(ERR_NOT_FAILED.format(status=p.status), field="payment")
    household = p.household
    _check_bank_account(household)
    old_year = p.year
    if year is not None and year != p.year:
        _check_year(year)
        _require_contract(p.county, year)
        p.year = year
    _require_open_year(p.county, p.year)
    last = p.attempts.order_by("-number").first()
    attempt = _attempt_open(p, household, (last.number if last else 0) + 1)
    p.status = PaymentStatus.REQUESTED
    p.save(update_fields=["status", "year"])
    audit_record(
        actor=actor,
        action=Action.PAYMENT_RETRIED,
        obj=p,
        region_path=household.village.path,
        from_state=PaymentStatus.FAILED,
        to_state=PaymentStatus.REQUESTED,
        reason=last.reason if last else "",
        data={
            "reference": attempt.reference,
            "previous_reference": last.reference if last else "",
            "bank_account": attempt.bank_account,
            "year": p.year,
            "previous_year": old_year,
        },
    )
    payment.status, payment.year = p.status, p.year
    return p


@transaction.atomic
def payment_batch_export(*, county: Region, year: int, actor: Any) -> BankBatch | None:
    """Put every requested payment of ``county``'s ``year`` into one bank batch (报盘).

    Returns None when nothing waits. The file itself is ``exports.bank_batch_file``
    and can be downloaded again at any time.
    """
    _check_county(county)
    _require_open_year(county, year)
    attempts = list(
        PaymentAttempt.objects.select_for_update(of=("self",))
        .filter(payment__county=county, payment__year=year, status=PaymentStatus.REQUESTED)
        .select_related("payment", "payment__household__village")
        .order_by("id")
    )
    if not attempts:
        return None
    total = sum((a.payment.amount for a in attempts), Money(0))
    batch = BankBatch.objects.create(
        county=county, year=year, count=len(attempts), total=total, created_by=_actor(actor)
    )
    ids = [a.pk for a in attempts]
    payment_ids = [a.payment_id for a in attempts]
    for start in range(0, len(ids), 2000):
        PaymentAttempt.objects.filter(pk__in=ids[start : start + 2000]).update(
            status=PaymentStatus.EXPORTED, batch=batch
        )
        Payment.objects.filter(pk__in=payment_ids[start : start + 2000]).update(
            status=PaymentStatus.EXPORTED
        )
    audit_record(
        actor=actor,
        action=Action.BATCH_EXPORTED,
        obj=batch,
        region_path=county.path,
        data={"count": len(attempts), "total": str(total), "year": year},
    )
    audit_record_many(
        AuditEvent(
            actor=_actor(actor),
            action=Action.PAYMENT_EXPORTED,
            object_type="funds.payment",
            object_id=str(a.payment_id),
            region_path=a.payment.household.village.path,
            from_state=PaymentStatus.REQUESTED,
            to_state=PaymentStatus.EXPORTED,
            data={"reference": a.reference, "batch": batch.pk},
        )
        for a in attempts
    )
    return batch


@dataclass(frozen=True)
class ReturnLine:
    """One validated line of a bank return: which attempt, paid or not, why, when."""

    attempt_id: int
    ok: bool
    reason: str
    paid_on: dt.date


@transaction.atomic
def bank_returns_write(
    *, lines: Sequence[ReturnLine], actor: Any, source_path: str
) -> tuple[int, int]:
    """Mark attempts paid or failed and book the paid ones (validated lines; set-based).

    Returns (succeeded, failed). Then fires ``hooks.payment_succeeded`` with the payments
    just paid, in this transaction: a subscriber that raises rolls the whole return back.
    """
    if not lines:
        return 0, 0
    attempts = {
        a.pk: a
        for a in PaymentAttempt.objects.select_for_update(of=("self",))
        .filter(pk__in=[ln.attempt_id for ln in lines])
        .select_related("payment", "payment__county", "payment__household__village")
    }
    moved = sorted(a.reference for a in attempts.values() if a.status != PaymentStatus.EXPORTED)
    if moved:  # returned by a concurrent import since the caller checked
        raise FundError(
            ERR_RETURN_CHANGED.format(references=", ".join(moved[:5])), field="reference"
        )
    now = timezone.now()
    ok_lines = [ln for ln in lines if ln.ok]
    failed_lines = [ln for ln in lines if not ln.ok]
    entries = []
    for ln in ok_lines:
        p = attempts[ln.attempt_id].payment
        entries.append(
            Entry(
                county=p.county,
                year=p.year,
                kind=TransactionKind.RELIEF,
                date=ln.paid_on,
                memo=f"Relief 救助金 · {p.household.household_no} · {p.decision_key}",
                reference=attempts[ln.attempt_id].reference,
                legs=[
                    LegSpec(AccountKind.RELIEF_PAID, p.amount),
                    LegSpec(AccountKind.PREMIUM_POOL, -p.amount),
                ],
            )
        )
    txs = _post_many(entries, actor=actor)
    paid_attempts, paid_payments = [], []
    for ln, tx in zip(ok_lines, txs, strict=True):
        a = attempts[ln.attempt_id]
        a.status, a.reason, a.returned_at = PaymentStatus.SUCCEEDED, "", now
        a.payment.status, a.payment.transaction, a.payment.paid_on = (
            PaymentStatus.SUCCEEDED,
            tx,
            ln.paid_on,
        )
        paid_attempts.append(a)
        paid_payments.append(a.payment)
    failed_attempts, failed_payments = [], []
    for ln in failed_lines:
        a = attempts[ln.attempt_id]
        a.status, a.reason, a.returned_at = PaymentStatus.FAILED, ln.reason[:255], now
        a.payment.status = PaymentStatus.FAILED
        failed_attempts.append(a)
        failed_payments.append(a.payment)
    all_attempts = paid_attempts + failed_attempts
    PaymentAttempt.objects.bulk_update(
        all_attempts, ["status", "reason", "returned_at"], batch_size=2000
    )
    Payment.objects.bulk_update(
        paid_payments, ["status", "transaction", "paid_on"], batch_size=2000
    )
    Payment.objects.bulk_update(failed_payments, ["status"], batch_size=2000)
    audit_record_many(
        AuditEvent(
            actor=_actor(actor),
            action=Action(f"funds.payment.{a.status}"),
            object_type="funds.payment",
            object_id=str(a.payment_id),
            region_path=a.payment.household.village.path,
            from_state=PaymentStatus.EXPORTED,
            to_state=a.status,
            reason=a.reason,
            data={
                "reference": a.reference,
                "file": source_path,
                **(
                    {"transaction": a.payment.transaction_id}
                    if a.status == PaymentStatus.SUCCEEDED
                    else {}
                ),
            },
        )
        for a in all_attempts
    )
    payment_succeeded_fire(payments=paid_payments, actor=actor)
    return len(paid_attempts), len(failed_attempts)
