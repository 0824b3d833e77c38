"""Writes to the fund: ledger postings, contributions, insurance, payments, settlement.

Every function here is keyword-only, runs in one database transaction, and writes
its ``AuditEvent`` in that transaction. Bad input raises ``FundError`` with one of
the ``ERR_*`` messages below (English and Chinese) and the field it is about;
nothing is written then.

Posting (``_post_many``) is the one door into the ledger. It locks the accounts it
touches (``SELECT … FOR UPDATE`` in id order on PostgreSQL; SQLite's IMMEDIATE
transactions serialise writers anyway), refuses a settled year, merges legs per
account, checks the sum in Python for a readable message, and writes the header
unposted, the legs, then flips the header to posted — the order the database
triggers require (migration 0002), so the database has the last word on balance.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from fangpin.common.audit import audit_record, audit_record_many
from fangpin.common.models import AuditEvent
from fangpin.common.money import Money, round_fen, to_decimal
from fangpin.regions.models import Level, Region
from fangpin.registry.models import HEAD_RELATIONS, Household

from .models import (
    OPEN_STATUSES,
    SOURCE_ACCOUNT,
    SOURCE_ALIASES,
    Account,
    AccountKind,
    BankBatch,
    Contribution,
    ContributionSource,
    InsuranceContract,
    LedgerTransaction,
    Leg,
    Payment,
    PaymentAttempt,
    PaymentStatus,
    Settlement,
    TransactionKind,
)
from .selectors import account_balances

FIRST_YEAR = 2000
MAX_FEN = 10**15  # ten trillion yuan: anything larger is a typing error
BANK_ACCOUNT = re.compile(r"^\d{8,32}$")

ERR_NOT_A_COUNTY = "{code} is not a county-level region (不是县级行政区划)"
ERR_UNKNOWN_COUNTY = "unknown county code {code!r} (县代码不存在)"
ERR_YEAR = "year must be a whole number from 2000 (年度无效)"
ERR_FUTURE_YEAR = "year {year} is in the future (年度晚于今年)"
ERR_FUTURE_DATE = "date {date} is in the future (日期晚于今天)"
ERR_AMOUNT = (
    "amount must be a number of yuan with at most two decimals, e.g. 12345.60 (金额格式错误)"
)
ERR_NOT_POSITIVE = "amount must be more than zero (金额必须大于零)"
ERR_TOO_LARGE = "amount is too large (金额过大)"
ERR_REQUIRED = "{field} is required (必填)"
ERR_TOO_LONG = "{field} is longer than {n} characters (内容过长)"
ERR_SOURCE = "source must be one of: {choices} (资金来源无效)"
ERR_DUPLICATE_DOCUMENT = (
    "document number {document_no} is already recorded for this county (文号已登记)"
)
ERR_YEAR_SETTLED = (
    "year {year} is settled; reopen it before posting to it (该年度已结算，请先重新打开)"
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
ERR_REASON_REQUIRED = "give a reason (请填写原因)"
ERR_CONTRIBUTION_REVERSED = "this contribution is already reversed (该笔资金已冲正)"
ERR_CONTRACT_EXISTS = (
    "{county} already has an insurance contract for {year} (该县该年度已有保险合同)"
)
ERR_NO_CONTRACT = "{county} has no insurance contract for {year} (该县该年度没有防贫保险合同)"
ERR_POPULATION = "rural population must be a whole number above zero (农村人口须为正整数)"
ERR_SHARE = "insured share must be a rate above 0 and at most 1, e.g. 0.10 (框定比例无效)"
ERR_FEE_RATE = "fee rate must be a rate from 0 to below 1, e.g. 0 or 0.05 (管理费率无效)"
ERR_RATE_PLACES = "a rate has at most four decimal places (比例最多四位小数)"
ERR_NO_POLICY = (
    "the policy parameters are not available ({detail}); give the insured share, premium per "
    "person and fee rate explicitly (政策参数不可用，请直接填写框定比例、人均保费和管理费率)"
)
ERR_PREMIUM_PAID = "the premium of this contract is already paid (保费已缴纳)"
ERR_DECISION_KEY = "decision key must be 1–64 characters (决定编号无效)"
ERR_DECISION_KEY_REUSED = "decision key {key} is already used for another household or amount (决定编号已用于其他农户或金额)"
ERR_HOUSEHOLD_NOT_IN_COUNTY = "household {household} is not in {county} (农户不在该县)"
ERR_NO_BANK_ACCOUNT = "household {household} has no valid bank account (8–32 digits); fix it first (农户银行账号缺失或无效)"
ERR_NO_ACCOUNT_NAME = (
    "household {household} has no members to name the account holder (农户无成员，无法确定户名)"
)
ERR_NOT_FAILED = "only a failed payment can be requested again; this one is {status} (仅支付失败的款项可重新发起)"
ERR_RETURN_CHANGED = "payments {references} changed while the file was checked; import it again (回盘期间款项状态已变化)"
ERR_YEAR_NOT_OVER = "year {year} is not over yet; settle it from 1 January {next} (年度未结束)"
ERR_ALREADY_SETTLED = "{county} {year} is already settled (该年度已结算)"
ERR_NOT_SETTLED = "{county} {year} is not settled (该年度未结算)"
ERR_NEXT_YEAR_SETTLED = (
    "{county} {next} is settled; reopen {next} first (下一年度已结算，请先重新打开)"
)
ERR_PREVIOUS_NOT_SETTLED = (
    "{county} {previous} is not settled yet; settle it first (上一年度尚未结算)"
)
ERR_PAYMENTS_OPEN = (
    "{n} payment(s) of {year} still wait for the bank's return; import the return file first "
    "(尚有支付等待银行回盘)"
)


class FundError(Exception):
    """Bad input to a fund service: ``message`` says what, ``field`` which input."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# --- small checks ---------------------------------------------------------------------------


def _today() -> dt.date:
    return timezone.localdate()


def _actor(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) else None


def county_by_code(code: str) -> Region:
    """The county with ``code``, or ``FundError`` naming the bad code."""
    region = Region.objects.filter(code=str(code).strip()).first()
    if region is None:
        raise FundError(ERR_UNKNOWN_COUNTY.format(code=code), field="county")
    _check_county(region)
    return region


def _check_county(county: Region) -> None:
    if county.level != Level.COUNTY:
        raise FundError(ERR_NOT_A_COUNTY.format(code=county.code), field="county")


def _check_year(year: Any) -> int:
    if isinstance(year, bool) or not isinstance(year, int) or year < FIRST_YEAR:
        raise FundError(ERR_YEAR, field="year")
    if year > _today().year:
        raise FundError(ERR_FUTURE_YEAR.format(year=year), field="year")
    return year


def _check_date(value: dt.date, field_name: str) -> dt.date:
    if value > _today():
        raise FundError(ERR_FUTURE_DATE.format(date=value.isoformat()), field=field_name)
    return value


def _money(value: Any, field_name: str = "amount") -> Money:
    """A positive amount of yuan given exactly to the fen (12.345 is refused, not rounded)."""
    if isinstance(value, Money):
        amount = value
    else:
        try:
            exact = to_decimal(value)
        except (TypeError, ValueError):
            raise FundError(ERR_AMOUNT, field=field_name) from None
        if exact != round_fen(exact):
            raise FundError(ERR_AMOUNT, field=field_name)
        amount = Money(exact)
    if amount.fen <= 0:
        raise FundError(ERR_NOT_POSITIVE, field=field_name)
    if amount.fen >= MAX_FEN:
        raise FundError(ERR_TOO_LARGE, field=field_name)
    return amount


def _text(value: Any, field_name: str, n: int, *, required: bool = True) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise FundError(ERR_REQUIRED.format(field=field_name), field=field_name)
    if len(text) > n:
        raise FundError(ERR_TOO_LONG.format(field=field_name, n=n), field=field_name)
    return text


def _reason(value: Any) -> str:
    if not str(value or "").strip():
        raise FundError(ERR_REASON_REQUIRED, field="reason")
    return _text(value, "reason", 500)


def _rate(value: Any, field_name: str, message: str, *, zero_ok: bool) -> Decimal:
    """A rate given exactly (at most four places): (0, 1] for a share, [0, 1) for a fee."""
    try:
        rate = to_decimal(value)
    except (TypeError, ValueError):
        raise FundError(message, field=field_name) from None
    in_range = (0 <= rate < 1) if zero_ok else (0 < rate <= 1)
    if not in_range:
        raise FundError(message, field=field_name)
    if rate != rate.quantize(Decimal("0.0001")):
        raise FundError(ERR_RATE_PLACES, field=field_name)
    return rate.quantize(Decimal("0.0001"))


def source_code(value: str) -> str | None:
    """A contribution source as written (code or Chinese name) → its code, or None."""
    text = str(value or "").strip()
    if text.lower() in ContributionSource.values:
        return text.lower()
    return SOURCE_ALIASES.get(text)


# --- the ledger ------------------------------------------------------------------------------


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
    today = _today()
    prepared: list[tuple[Entry, dict[tuple[int, str], int]]] = []
    for e in entries:
        if e.kind not in TransactionKind.values:
            raise FundError(ERR_TRANSACTION_KIND.format(kind=e.kind), field="kind")
        if e.date > today:
            raise FundError(ERR_FUTURE_DATE.format(date=e.date.isoformat()), field="date")
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
        action="funds.transaction.posted",
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
                        date=on or _today(),
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
        action="funds.transaction.reversed",
        obj=tx,
        region_path=tx.county.path,
        reason=reason,
        data={"reversal": rev.pk},
    )
    return rev


# --- contributions (资金筹集) ------------------------------------------------------------------


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
        action="funds.contribution.recorded",
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
            action="funds.contribution.recorded",
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
        action="funds.contribution.reversed",
        obj=c,
        region_path=c.county.path,
        from_state="recorded",
        to_state="reversed",
        reason=reason,
        data={"document_no": c.document_no, "amount": str(c.amount)},
    )
    return c


# --- insurance (防贫保险) ---------------------------------------------------------------------


@dataclass(frozen=True)
class InsuranceTerms:
    insured_share: Decimal
    premium_per_person: Money
    fee_rate: Decimal
    citations: list[dict]


POLICY_PATHS = {
    "insured_share": "insurance.frame_rate",
    "premium_per_person": "insurance.premium_per_person",
    "fee_rate": "insurance.insurer_fee_rate",
}


def insurance_terms_in_force(*, county: Region, on: dt.date) -> InsuranceTerms:
    """The insured share, premium per person and fee rate in force for ``county`` on ``on``.

    Read from the dated policy parameters (``fangpin.policy``,
    ``parameters/city/insurance.yaml`` and any county override); each value is
    cited (path, effective date, value, source, reference).
    """
    try:
        from fangpin.policy.loader import parameters_default

        readings = parameters_default().in_force(county.code, on)
        values = {name: readings.reading(path) for name, path in POLICY_PATHS.items()}
    except (
        ImportError,
        KeyError,
        ValueError,
    ) as exc:  # PolicyInputError and ParameterError are ValueErrors
        raise FundError(ERR_NO_POLICY.format(detail=exc), field="insured_share") from None
    citations = [
        {
            "field": name,
            "path": r.path,
            "effective": r.effective.isoformat(),
            "value": str(r.value),
            "source": r.source,
            "reference": r.reference,
            "origin": r.origin,
        }
        for name, r in values.items()
    ]
    return InsuranceTerms(
        insured_share=Decimal(values["insured_share"].value),
        premium_per_person=Money(values["premium_per_person"].value),
        fee_rate=Decimal(values["fee_rate"].value),
        citations=citations,
    )


def insured_persons(*, rural_population: int, insured_share: Decimal) -> int:
    """Rural population × insured share, rounded half up to a whole person (框定人数)."""
    return int(
        (Decimal(rural_population) * insured_share).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    )


@transaction.atomic
def insurance_contract_create(
    *,
    county: Region,
    year: int,
    insurer: str,
    rural_population: int,
    actor: Any,
    signed_on: dt.date | None = None,
    policy_no: str = "",
    insured_share: Any = None,
    premium_per_person: Any = None,
    fee_rate: Any = None,
) -> InsuranceContract:
    """The county's anti-poverty insurance for ``year``; premium computed, not yet paid.

    Share, premium per person and fee rate default to the policy parameters in
    force on 1 January of ``year``; a value given here (the signed contract's)
    takes precedence and is cited as such.
    """
    _check_county(county)
    _check_year(year)
    insurer = _text(insurer, "insurer", 128)
    policy_no = _text(policy_no, "policy_no", 64, required=False)
    if (
        isinstance(rural_population, bool)
        or not isinstance(rural_population, int)
        or rural_population <= 0
    ):
        raise FundError(ERR_POPULATION, field="rural_population")
    signed_on = _check_date(signed_on or min(_today(), dt.date(year, 12, 31)), "signed_on")
    citations: list[dict] = []
    if insured_share is None or premium_per_person is None or fee_rate is None:
        terms = insurance_terms_in_force(county=county, on=dt.date(year, 1, 1))
        given = {
            "insured_share": insured_share,
            "premium_per_person": premium_per_person,
            "fee_rate": fee_rate,
        }
        citations = [c for c in terms.citations if given[c["field"]] is None]
        insured_share = terms.insured_share if insured_share is None else insured_share
        premium_per_person = (
            terms.premium_per_person if premium_per_person is None else premium_per_person
        )
        fee_rate = terms.fee_rate if fee_rate is None else fee_rate
    share = _rate(insured_share, "insured_share", ERR_SHARE, zero_ok=False)
    fee = _rate(fee_rate, "fee_rate", ERR_FEE_RATE, zero_ok=True)
    per_person = _money(premium_per_person, "premium_per_person")
    citations += [
        {"field": name, "value": str(value), "source": "contract"}
        for name, value in (
            ("insured_share", share),
            ("premium_per_person", per_person),
            ("fee_rate", fee),
        )
        if name not in {c["field"] for c in citations}
    ]
    if InsuranceContract.objects.filter(county=county, year=year).exists():
        raise FundError(ERR_CONTRACT_EXISTS.format(county=county.name, year=year), field="year")
    persons = insured_persons(rural_population=rural_population, insured_share=share)
    contract = InsuranceContract(
        county=county,
        year=year,
        insurer=insurer,
        policy_no=policy_no,
        signed_on=signed_on,
        rural_population=rural_population,
        insured_share=share,
        premium_per_person=per_person,
        fee_rate=fee,
        insured_persons=persons,
        premium=per_person * persons,
        parameters=citations,
        created_by=_actor(actor),
    )
    try:
        with transaction.atomic():
            contract.save()
    except IntegrityError:
        raise FundError(
            ERR_CONTRACT_EXISTS.format(county=county.name, year=year), field="year"
        ) from None
    audit_record(
        actor=actor,
        action="funds.contract.created",
        obj=contract,
        region_path=county.path,
        data={
            "year": year,
            "insurer": insurer,
            "rural_population": rural_population,
            "insured_persons": persons,
            "premium": str(contract.premium),
        },
    )
    return contract


@transaction.atomic
def insurance_premium_pay(
    *, contract: InsuranceContract, actor: Any, paid_on: dt.date | None = None
) -> LedgerTransaction:
    """Pay the contract's premium from the fund into the insurer's premium pool (once)."""
    c = InsuranceContract.objects.select_for_update().select_related("county").get(pk=contract.pk)
    if c.premium_transaction_id is not None:
        raise FundError(ERR_PREMIUM_PAID, field="contract")
    paid_on = _check_date(paid_on or min(_today(), dt.date(c.year, 12, 31)), "paid_on")
    (tx,) = _post_many(
        [
            Entry(
                county=c.county,
                year=c.year,
                kind=TransactionKind.PREMIUM,
                date=paid_on,
                memo=f"Premium 保费 · {c.insurer} · {c.insured_persons:,} × {c.premium_per_person}",
                reference=c.policy_no,
                legs=[
                    LegSpec(AccountKind.PREMIUM_POOL, c.premium),
                    LegSpec(AccountKind.FUND, -c.premium),
                ],
            )
        ],
        actor=actor,
    )
    c.premium_transaction = tx
    c.save(update_fields=["premium_transaction"])
    contract.premium_transaction = tx
    audit_record(
        actor=actor,
        action="funds.premium.paid",
        obj=c,
        region_path=c.county.path,
        from_state="unpaid",
        to_state="paid",
        data={"premium": str(c.premium), "transaction": tx.pk},
    )
    return tx


# --- payments (救助金支付) --------------------------------------------------------------------


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
        action="funds.payment.requested",
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
        action="funds.payment.retried",
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
        action="funds.batch.exported",
        obj=batch,
        region_path=county.path,
        data={"count": len(attempts), "total": str(total), "year": year},
    )
    audit_record_many(
        AuditEvent(
            actor=_actor(actor),
            action="funds.payment.exported",
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


def bank_returns_write(
    *, lines: Sequence[ReturnLine], actor: Any, source_path: str
) -> tuple[int, int]:
    """Mark attempts paid or failed and book the paid ones (validated lines; set-based).

    Returns (succeeded, failed). Runs inside the caller's transaction.
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
            action=f"funds.payment.{a.status}",
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
    return len(paid_attempts), len(failed_attempts)


# --- year-end settlement (年终结算, 多退少补) --------------------------------------------------


def _has_activity(county: Region, year: int) -> bool:
    return Leg.objects.filter(
        account__county=county, account__year=year, transaction__posted=True
    ).exists()


@transaction.atomic
def fund_settle_year(*, county: Region, year: int, actor: Any) -> Settlement:
    """Settle ``county``'s premium pool for ``year`` (多退少补) and close the year.

    result = premium pool − insurer fee (the pool being premiums paid in less
    relief paid out). A surplus is carried forward into next year's fund, with
    the fund's own unspent balance; a shortfall is booked as the county's top-up
    (a receivable of the pool). Posted as one transaction dated 31 December; the
    year then refuses further postings until reopened.
    """
    _check_county(county)
    _check_year(year)
    if year >= _today().year:
        raise FundError(ERR_YEAR_NOT_OVER.format(year=year, next=year + 1), field="year")
    _accounts_locked({(county.pk, year), (county.pk, year + 1)})
    settled = _settled({(county.pk, year - 1), (county.pk, year), (county.pk, year + 1)})
    if (county.pk, year) in settled:
        raise FundError(ERR_ALREADY_SETTLED.format(county=county.name, year=year), field="year")
    if (county.pk, year + 1) in settled:
        raise FundError(
            ERR_NEXT_YEAR_SETTLED.format(county=county.name, next=year + 1), field="year"
        )
    if (county.pk, year - 1) not in settled and _has_activity(county, year - 1):
        raise FundError(
            ERR_PREVIOUS_NOT_SETTLED.format(county=county.name, previous=year - 1), field="year"
        )
    waiting = Payment.objects.filter(county=county, year=year, status__in=OPEN_STATUSES).count()
    if waiting:
        raise FundError(ERR_PAYMENTS_OPEN.format(n=waiting, year=year), field="year")

    balances = account_balances(county=county, year=year)
    contract = InsuranceContract.objects.filter(county=county, year=year).first()
    premium = contract.premium if contract and contract.premium_transaction_id else Money(0)
    fee = Money(premium.amount * contract.fee_rate) if premium else Money(0)
    pool = balances[AccountKind.PREMIUM_POOL]
    result = pool - fee
    fund_remainder = balances[AccountKind.FUND]
    surplus = result if result.fen > 0 else Money(0)
    carried = surplus + fund_remainder
    legs = [
        LegSpec(AccountKind.PREMIUM_POOL, -pool),  # the pool closes to zero
        LegSpec(AccountKind.INSURER_FEE, fee),
        LegSpec(AccountKind.CARRIED_FORWARD, surplus + fund_remainder),  # carried out of this year
        LegSpec(AccountKind.FUND, -fund_remainder),
        # a shortfall is made up by the county: a receivable of the pool
        LegSpec(AccountKind.COUNTY_TOPUP, result if result.fen < 0 else Money(0)),
        LegSpec(AccountKind.CARRIED_FORWARD, -carried, year=year + 1),  # brought into next year
        LegSpec(AccountKind.FUND, carried, year=year + 1),
    ]
    legs = [leg for leg in legs if leg.amount.fen]
    tx = None
    if legs:
        (tx,) = _post_many(
            [
                Entry(
                    county=county,
                    year=year,
                    kind=TransactionKind.SETTLEMENT,
                    date=dt.date(year, 12, 31),
                    memo=f"Year-end settlement 年终结算 {year}",
                    legs=legs,
                )
            ],
            actor=actor,
        )
    relief_count = Payment.objects.filter(
        county=county, year=year, status=PaymentStatus.SUCCEEDED
    ).count()
    try:
        with transaction.atomic():
            s = Settlement.objects.create(
                county=county,
                year=year,
                premium=premium,
                relief_paid=balances[AccountKind.RELIEF_PAID],
                relief_count=relief_count,
                fee=fee,
                pool_balance=pool,
                result=result,
                fund_remainder=fund_remainder,
                carried_forward=carried,
                transaction=tx,
                settled_by=_actor(actor),
            )
    except IntegrityError:
        raise FundError(
            ERR_ALREADY_SETTLED.format(county=county.name, year=year), field="year"
        ) from None
    audit_record(
        actor=actor,
        action="funds.year.settled",
        obj=s,
        region_path=county.path,
        from_state="open",
        to_state="settled",
        data={
            "year": year,
            "premium": str(premium),
            "relief_paid": str(s.relief_paid),
            "fee": str(fee),
            "result": str(result),
            "carried_forward": str(carried),
            "transaction": tx.pk if tx else None,
        },
    )
    return s


@transaction.atomic
def fund_reopen_year(*, county: Region, year: int, actor: Any, reason: str) -> Settlement:
    """Reopen a settled year: its settlement transaction is reversed, the row kept."""
    _check_county(county)
    reason = _reason(reason)
    _accounts_locked({(county.pk, year), (county.pk, year + 1)})
    s = (
        Settlement.objects.select_for_update()
        .filter(county=county, year=year, reopened_at__isnull=True)
        .first()
    )
    if s is None:
        raise FundError(ERR_NOT_SETTLED.format(county=county.name, year=year), field="year")
    if _settled({(county.pk, year + 1)}):
        raise FundError(
            ERR_NEXT_YEAR_SETTLED.format(county=county.name, next=year + 1), field="year"
        )
    s.reopened_at = timezone.now()
    s.reopened_by = _actor(actor)
    s.reopen_reason = reason
    s.save(update_fields=["reopened_at", "reopened_by", "reopen_reason"])  # the year is open again
    if s.transaction_id:
        s.reversal = _reverse(s.transaction, actor=actor, reason=reason, on=s.transaction.date)
        s.save(update_fields=["reversal"])
    audit_record(
        actor=actor,
        action="funds.year.reopened",
        obj=s,
        region_path=county.path,
        from_state="settled",
        to_state="open",
        reason=reason,
        data={"year": year, "reversal": s.reversal_id},
    )
    return s


# --- synthetic data ----------------------------------------------------------------------------


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
        action="funds.data.purged",
        obj=county,
        region_path=county.path,
        data={"transactions": n},
    )
    return n
