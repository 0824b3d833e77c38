"""Anti-poverty insurance (防贫保险): the county's contract of a year — insured persons and
premium computed from the policy parameters in force (or the signed contract's values),
each cited — and its premium, paid once from the fund into the insurer's pool.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, transaction

from fangpin.common import clock
from fangpin.common.audit import Action, audit_record
from fangpin.common.money import Money, to_decimal
from fangpin.regions.models import Region

from ..models import (
    AccountKind,
    InsuranceContract,
    LedgerTransaction,
    TransactionKind,
)
from .checks import (
    FundError,
    _actor,
    _check_county,
    _check_date,
    _check_year,
    _money,
    _text,
)
from .ledger import Entry, LegSpec, _post_many

ERR_CONTRACT_EXISTS = (
    "{county} already has an insurance contract for {year} (该县该年度已有保险合同)"
)
MAX_POPULATION = 100_000_000  # a county's rural population; China's largest are a few million
ERR_POPULATION = (
    "rural population must be a whole number from 1 to 100,000,000 (农村人口须为1至1亿的整数)"
)
ERR_SHARE = "insured share must be a rate above 0 and at most 1, e.g. 0.10 (框定比例无效)"
ERR_FEE_RATE = "fee rate must be a rate from 0 to below 1, e.g. 0 or 0.05 (管理费率无效)"
ERR_RATE_PLACES = "a rate has at most four decimal places (比例最多四位小数)"
ERR_NO_POLICY = (
    "the policy parameters are not available ({detail}); give the insured share, premium per "
    "person and fee rate explicitly (政策参数不可用，请直接填写框定比例、人均保费和管理费率)"
)
ERR_PREMIUM_PAID = "the premium of this contract is already paid (保费已缴纳)"


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
        or not 0 < rural_population <= MAX_POPULATION
    ):
        raise FundError(ERR_POPULATION, field="rural_population")
    signed_on = _check_date(signed_on or min(clock.today(), dt.date(year, 12, 31)), "signed_on")
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
        action=Action.CONTRACT_CREATED,
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
    paid_on = _check_date(paid_on or min(clock.today(), dt.date(c.year, 12, 31)), "paid_on")
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
        action=Action.PREMIUM_PAID,
        obj=c,
        region_path=c.county.path,
        from_state="unpaid",
        to_state="paid",
        data={"premium": str(c.premium), "transaction": tx.pk},
    )
    return tx
