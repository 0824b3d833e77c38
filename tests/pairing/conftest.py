"""A small hand-built county for pairing tests, with answers known by construction.

武安市 (130481) is one of Handan's counties that no other test fills: two
townships, three villages, and households made to order (members with birth
dates and labour, income records by year, relief payments, pairings).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from fangpin.common.idnumber import check_char
from fangpin.common.money import Money
from fangpin.funds.models import LedgerTransaction, Payment, PaymentStatus
from fangpin.regions.models import Level, Region
from fangpin.registry.models import Household, IncomeRecord, IncomeSource, Member

HAND_COUNTY = "130481"  # 武安市
_seq = iter(range(1, 10_000))


def idn(birth: str, area: str = HAND_COUNTY) -> str:
    first17 = f"{area}{birth}{next(_seq) % 1000:03d}"
    return first17 + check_char(first17)


class Hand:
    """The hand-built county: regions and factories for its households."""

    def __init__(self) -> None:
        self.county = Region.objects.get(code=HAND_COUNTY)
        self.town1 = self._region("130481100", "测试一镇", Level.TOWNSHIP, self.county)
        self.town2 = self._region("130481101", "测试二乡", Level.TOWNSHIP, self.county)
        self.village1 = self._region("130481100200", "东测村", Level.VILLAGE, self.town1)
        self.village2 = self._region("130481100201", "西测村", Level.VILLAGE, self.town1)
        self.village3 = self._region("130481101200", "南测村", Level.VILLAGE, self.town2)
        self._n = 0

    @staticmethod
    def _region(code: str, name: str, level: str, parent: Region) -> Region:
        return Region.objects.create(code=code, name=name, level=level, parent=parent)

    def household(
        self,
        *,
        village: Region | None = None,
        household_type: str = "unstable",
        members: tuple[tuple[str, str, str], ...] = (("户主甲", "19800101", "able"),),
        incomes: dict[int, int | str] | None = None,
        no: str | None = None,
    ) -> Household:
        """A household; members are (name, birth YYYYMMDD, labour); incomes {year: yuan}."""
        self._n += 1
        h = Household.objects.create(
            household_no=no or f"WA-{self._n:04d}",
            village=village or self.village1,
            household_type=household_type,
            bank_name="邮储银行",
            bank_account="6217000011112222",
        )
        for i, (name, birth, labour) in enumerate(members):
            Member.objects.create(
                household=h,
                name=name,
                id_number=idn(birth),
                relation="户主" if i == 0 else "子女",
                labour=labour,
            )
        for year, yuan in (incomes or {}).items():
            self.income(h, year, yuan)
        return h

    @staticmethod
    def income(
        household: Household, year: int, yuan: int | str, *, recorded_on: dt.date | None = None
    ) -> IncomeRecord:
        record = IncomeRecord.objects.create(
            household=household,
            year=year,
            annual_income=Money(yuan),
            source=IncomeSource.SURVEY,
        )
        if recorded_on is not None:  # auto_now_add: set the moment it was recorded afterwards
            moment = timezone.make_aware(dt.datetime.combine(recorded_on, dt.time(10)))
            IncomeRecord.objects.filter(pk=record.pk).update(recorded_at=moment)
            record.refresh_from_db()
        return record

    def paid(
        self,
        household: Household,
        on: dt.date,
        *,
        status: str = PaymentStatus.SUCCEEDED,
        amount: str = "4540.00",
    ) -> Payment:
        """A relief payment as the fund records it (its ledger transaction left unposted)."""
        self._n += 1
        tx = None
        if status == PaymentStatus.SUCCEEDED:
            tx = LedgerTransaction.objects.create(
                county=self.county, year=on.year, kind="relief", date=on, memo="test relief"
            )
        return Payment.objects.create(
            decision_key=f"test-{self._n}",
            household=household,
            county=self.county,
            year=on.year,
            amount=Money(amount),
            status=status,
            transaction=tx,
            paid_on=on if status == PaymentStatus.SUCCEEDED else None,
        )


@pytest.fixture
def hand(db) -> Hand:
    return Hand()


@pytest.fixture
def cadre_factory(hand):
    from fangpin.pairing.cadres import cadre_create

    counter = iter(range(1, 1000))

    def make(region: Region | None = None, level: str | None = None, name: str | None = None):
        region = region or hand.village1
        k = next(counter)
        return cadre_create(
            name=name or f"干部{k}",
            work_unit=f"{region.name}委会" if region.level == Level.VILLAGE else "武安市审计局",
            level=level or region.level,
            phone=f"1390481{k:04d}",
            region=region,
        )

    return make


@pytest.fixture
def officer(make_user, hand):
    return make_user("county_officer", hand.county, username="wa-county")


LINE = {2017: Decimal(4301), 2018: Decimal(4833), 2019: Decimal(5336), 2020: Decimal(5962)}
