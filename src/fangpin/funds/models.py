"""The county relief fund (防贫救助资金), its anti-poverty insurance and their ledger.

A double-entry ledger (STYLE.md, *beancount* / *django-hordak*): every movement of
money is a ``LedgerTransaction`` whose ``Leg`` rows — one per account, a signed
amount in integer fen, debit positive, credit negative — sum to zero. The
database itself refuses a posted transaction that does not balance and any change
to a posted transaction or its legs (triggers in migration 0002, one set per
vendor); a correction is a new, reversing transaction.

Accounts exist per county and fund year (``Account``: county × year × kind). The
chart of accounts, with the side a balance normally sits on:

==================  ======  ===================================================
kind                normal  what it holds
==================  ======  ===================================================
fund                debit   the relief fund's money not yet spent (防贫救助资金)
source_*            credit  money raised, by source (社会救助资金 by level, 县本级
                            财政, 社会捐赠)
carried_forward     credit  + brought in from last year / − carried to next (结转)
premium_pool        debit   premiums paid to the insurer less relief paid (保费池)
relief_paid         debit   relief paid to households' bank accounts (救助金)
insurer_fee         debit   the insurer's fee at settlement (管理费)
county_topup        credit  a shortfall the county makes up (县财政补足, receivable)
==================  ======  ===================================================

Relief is booked on a cash basis: a payment is posted when the bank confirms it,
so the "relief payable" of the issue is the set of payments requested or exported
and not yet returned (``Payment.status``), not a ledger balance.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fangpin.common.fields import MoneyField


class AccountKind(models.TextChoices):
    FUND = "fund", _("Relief fund 防贫救助资金")
    SOURCE_CENTRAL = "source_central", _("Social-assistance funds, central 中央财政社会救助资金")
    SOURCE_PROVINCIAL = (
        "source_provincial",
        _("Social-assistance funds, province 省级财政社会救助资金"),
    )
    SOURCE_CITY = "source_city", _("Social-assistance funds, city 市级财政社会救助资金")
    SOURCE_COUNTY = "source_county", _("Social-assistance funds, county 县级财政社会救助资金")
    SOURCE_BUDGET = "source_budget", _("County budget 县本级财政预算")
    SOURCE_DONATION = "source_donation", _("Social donations 社会捐赠")
    CARRIED_FORWARD = "carried_forward", _("Carried forward 上年结转")
    PREMIUM_POOL = "premium_pool", _("Insurer's premium pool 保费资金池")
    RELIEF_PAID = "relief_paid", _("Relief paid to households 支付农户救助金")
    INSURER_FEE = "insurer_fee", _("Insurer fee 保险公司管理费")
    COUNTY_TOPUP = "county_topup", _("County top-up of a shortfall 县财政补足")


# accounts whose balance normally sits on the credit side: shown with the sign turned
CREDIT_NORMAL = frozenset(
    {
        AccountKind.SOURCE_CENTRAL,
        AccountKind.SOURCE_PROVINCIAL,
        AccountKind.SOURCE_CITY,
        AccountKind.SOURCE_COUNTY,
        AccountKind.SOURCE_BUDGET,
        AccountKind.SOURCE_DONATION,
        AccountKind.CARRIED_FORWARD,
        AccountKind.COUNTY_TOPUP,
    }
)


class ContributionSource(models.TextChoices):
    """Where the relief fund's money comes from (POLICY.md, "Fund and insurance")."""

    CENTRAL = "central", _("Social-assistance funds, central 中央财政社会救助资金")
    PROVINCIAL = "provincial", _("Social-assistance funds, province 省级财政社会救助资金")
    CITY = "city", _("Social-assistance funds, city 市级财政社会救助资金")
    COUNTY = "county", _("Social-assistance funds, county 县级财政社会救助资金")
    BUDGET = "budget", _("County budget 县本级财政预算")
    DONATION = "donation", _("Social donations 社会捐赠")


SOURCE_ACCOUNT = {s.value: f"source_{s.value}" for s in ContributionSource}

# the names county offices write in their spreadsheets -> source code
SOURCE_ALIASES = {
    "中央": "central",
    "中央财政": "central",
    "中央财政社会救助资金": "central",
    "中央社会救助资金": "central",
    "省级": "provincial",
    "省级财政": "provincial",
    "省级财政社会救助资金": "provincial",
    "省级社会救助资金": "provincial",
    "市级": "city",
    "市级财政": "city",
    "市级财政社会救助资金": "city",
    "市级社会救助资金": "city",
    "县级": "county",
    "县级财政社会救助资金": "county",
    "县级社会救助资金": "county",
    "县本级财政": "budget",
    "县本级财政预算": "budget",
    "县财政预算": "budget",
    "财政预算": "budget",
    "社会捐赠": "donation",
    "捐赠": "donation",
}


class Account(models.Model):
    """One account of one county's fund for one year; created on first use."""

    county = models.ForeignKey("regions.Region", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField(_("year 年度"))
    kind = models.CharField(_("account 科目"), max_length=20, choices=AccountKind.choices)

    class Meta:
        ordering = ["county_id", "year", "id"]
        verbose_name = _("ledger account 账户")
        constraints = [
            models.UniqueConstraint(fields=["county", "year", "kind"], name="funds_account_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=AccountKind.values), name="funds_account_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.county_id}/{self.year}/{self.kind}"

    @property
    def region_path(self) -> str:
        return self.county.path


class TransactionKind(models.TextChoices):
    CONTRIBUTION = "contribution", _("Contribution 资金筹集")
    PREMIUM = "premium", _("Premium 保费缴纳")
    RELIEF = "relief", _("Relief payment 救助金支付")
    SETTLEMENT = "settlement", _("Year-end settlement 年终结算")
    REVERSAL = "reversal", _("Reversal 冲正")


class LedgerTransaction(models.Model):
    """A ledger transaction (记账凭证): a header and its legs, balanced once posted.

    Written unposted, its legs added, then posted in the same database
    transaction; from then on neither it nor its legs can change (database
    triggers). ``reversal_of`` links a correction to the transaction it undoes;
    a transaction is reversed at most once.
    """

    county = models.ForeignKey("regions.Region", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField(_("fund year 资金年度"))
    kind = models.CharField(_("kind 类型"), max_length=12, choices=TransactionKind.choices)
    date = models.DateField(_("date 记账日期"))
    memo = models.CharField(_("memo 摘要"), max_length=255)
    reference = models.CharField(_("reference 凭证号/文号"), max_length=64, blank=True)
    posted = models.BooleanField(default=False)
    posted_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reversal_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )

    class Meta:
        ordering = ["date", "id"]
        verbose_name = _("ledger transaction 记账凭证")
        indexes = [models.Index(fields=["county", "year"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=TransactionKind.values), name="funds_tx_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(posted=False) | Q(posted_at__isnull=False),
                name="funds_tx_posted_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.date} {self.kind} {self.memo}"

    @property
    def region_path(self) -> str:
        return self.county.path


class Leg(models.Model):
    """One account's share of a transaction: + debit, − credit, in fen; never zero."""

    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.CASCADE, related_name="legs"
    )
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="legs")
    amount = MoneyField(_("amount 金额"))

    class Meta:
        ordering = ["transaction_id", "id"]
        verbose_name = _("ledger leg 分录")
        constraints = [
            models.UniqueConstraint(
                fields=["transaction", "account"], name="funds_leg_one_per_account"
            ),
            models.CheckConstraint(condition=~Q(amount=0), name="funds_leg_not_zero"),
        ]

    def __str__(self) -> str:
        return f"#{self.transaction_id} {self.account_id} {self.amount}"


class Contribution(models.Model):
    """Money raised for the fund from one source, under one document (文号)."""

    county = models.ForeignKey("regions.Region", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField(_("fund year 资金年度"))
    source = models.CharField(
        _("source 资金来源"), max_length=12, choices=ContributionSource.choices
    )
    amount = MoneyField(_("amount 金额"))
    document_no = models.CharField(_("document number 文号"), max_length=64)
    received_on = models.DateField(_("received on 到账日期"))
    note = models.CharField(_("note 备注"), max_length=255, blank=True)
    transaction = models.OneToOneField(
        LedgerTransaction, on_delete=models.PROTECT, related_name="contribution"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    reversal = models.OneToOneField(
        LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reversed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["county_id", "year", "received_on", "id"]
        verbose_name = _("contribution 资金筹集")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="funds_contribution_positive"),
            models.CheckConstraint(
                condition=Q(source__in=ContributionSource.values),
                name="funds_contribution_source_valid",
            ),
            # a document is recorded once (a reversed one may be recorded again, corrected)
            models.UniqueConstraint(
                fields=["county", "document_no"],
                condition=Q(reversed_at__isnull=True),
                name="funds_contribution_document_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_no} {self.amount}"

    @property
    def region_path(self) -> str:
        return self.county.path


class InsuranceContract(models.Model):
    """The county's anti-poverty insurance (防贫保险) for one year.

    Premium = rural population × insured share, rounded half up to a whole
    person, × premium per insured person (POLICY.md: Wei County ~800,000 rural
    people → 80,000 × 50 = 4,000,000 yuan). ``parameters`` cites the policy
    parameters the terms came from (path, effective date, value, source).
    """

    county = models.ForeignKey("regions.Region", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField(_("year 年度"))
    insurer = models.CharField(_("insurer 承保公司"), max_length=128)
    policy_no = models.CharField(_("policy number 保单号"), max_length=64, blank=True)
    signed_on = models.DateField(_("signed on 签订日期"))
    rural_population = models.PositiveIntegerField(_("rural population 农村人口"))
    insured_share = models.DecimalField(_("insured share 框定比例"), max_digits=6, decimal_places=4)
    premium_per_person = MoneyField(_("premium per insured person 人均保费"))
    fee_rate = models.DecimalField(_("insurer fee rate 管理费率"), max_digits=6, decimal_places=4)
    insured_persons = models.PositiveIntegerField(_("insured persons 框定人数"))
    premium = MoneyField(_("premium 保费"))
    parameters = models.JSONField(default=list, blank=True)
    premium_transaction = models.OneToOneField(
        LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["county_id", "year"]
        verbose_name = _("insurance contract 防贫保险合同")
        constraints = [
            models.UniqueConstraint(fields=["county", "year"], name="funds_contract_one_per_year"),
            models.CheckConstraint(
                condition=Q(insured_share__gt=0) & Q(insured_share__lte=1),
                name="funds_contract_share_range",
            ),
            models.CheckConstraint(
                condition=Q(fee_rate__gte=0) & Q(fee_rate__lt=1), name="funds_contract_fee_range"
            ),
            models.CheckConstraint(
                condition=Q(premium__gte=0), name="funds_contract_premium_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(rural_population__gt=0), name="funds_contract_population_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.county_id}/{self.year} {self.insurer}"

    @property
    def insured_share_percent(self) -> str:
        return f"{(self.insured_share * 100).normalize():f}%"

    @property
    def fee_rate_percent(self) -> str:
        return f"{(self.fee_rate * 100).normalize():f}%"

    @property
    def region_path(self) -> str:
        return self.county.path


class PaymentStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested 待导出")
    EXPORTED = "exported", _("Sent to bank 已报盘")
    SUCCEEDED = "succeeded", _("Paid 已到账")
    FAILED = "failed", _("Failed 支付失败")


OPEN_STATUSES = (PaymentStatus.REQUESTED, PaymentStatus.EXPORTED)


class Payment(models.Model):
    """Relief paid from the premium pool to a household, exactly once per decision.

    ``decision_key`` is the idempotency key: one approved decision, one payment,
    whatever the retries or concurrency (unique constraint). The cases app adds a
    foreign key to its decision. Each try at the bank is a ``PaymentAttempt``;
    ``status`` is the latest attempt's.
    """

    decision_key = models.CharField(_("decision key 决定编号"), max_length=64, unique=True)
    household = models.ForeignKey(
        "registry.Household", on_delete=models.PROTECT, related_name="fund_payments"
    )
    county = models.ForeignKey("regions.Region", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField(_("fund year 资金年度"))
    amount = MoneyField(_("amount 金额"))
    status = models.CharField(
        _("status 状态"),
        max_length=10,
        choices=PaymentStatus.choices,
        default=PaymentStatus.REQUESTED,
    )
    transaction = models.OneToOneField(
        LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="payment"
    )
    paid_on = models.DateField(_("paid on 到账日期"), null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("relief payment 救助金支付")
        indexes = [models.Index(fields=["county", "year", "status"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="funds_payment_positive"),
            models.CheckConstraint(
                condition=Q(status__in=PaymentStatus.values), name="funds_payment_status_valid"
            ),
            # paid means booked, and only paid is booked
            models.CheckConstraint(
                condition=(Q(status=PaymentStatus.SUCCEEDED) & Q(transaction__isnull=False))
                | (~Q(status=PaymentStatus.SUCCEEDED) & Q(transaction__isnull=True)),
                name="funds_payment_paid_iff_booked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.decision_key} {self.amount} {self.status}"

    @property
    def region_path(self) -> str:
        return self.household.village.path


class BankBatch(models.Model):
    """One batch file sent to the bank (报盘): the attempts it holds, their total."""

    county = models.ForeignKey("regions.Region", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField(_("fund year 资金年度"))
    count = models.PositiveIntegerField(_("payments 笔数"))
    total = MoneyField(_("total 合计"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("bank batch 银行报盘")

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.count})"

    @property
    def region_path(self) -> str:
        return self.county.path

    @property
    def filename_stem(self) -> str:
        return f"fangpin-bank-batch-{self.county.code}-{self.year}-{self.pk}"


class PaymentAttempt(models.Model):
    """One try at paying: the bank account it went to, its reference and outcome.

    The bank account and name are copied at request time, so a later fix of the
    household's account does not rewrite what was sent. At most one attempt of a
    payment is open and at most one succeeds (partial unique indexes).
    """

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    reference = models.CharField(_("reference 参考号"), max_length=32, unique=True)
    bank_name = models.CharField(_("bank 开户行"), max_length=64, blank=True)
    bank_account = models.CharField(_("bank account 银行账号"), max_length=32)
    account_name = models.CharField(_("account name 户名"), max_length=64)
    status = models.CharField(
        _("status 状态"),
        max_length=10,
        choices=PaymentStatus.choices,
        default=PaymentStatus.REQUESTED,
    )
    batch = models.ForeignKey(
        BankBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="attempts"
    )
    reason = models.CharField(_("bank's reason 失败原因"), max_length=255, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["payment_id", "number"]
        verbose_name = _("payment attempt 支付尝试")
        constraints = [
            models.UniqueConstraint(
                fields=["payment", "number"], name="funds_attempt_number_unique"
            ),
            models.UniqueConstraint(
                fields=["payment"],
                condition=Q(status__in=[s.value for s in OPEN_STATUSES]),
                name="funds_attempt_one_open",
            ),
            models.UniqueConstraint(
                fields=["payment"],
                condition=Q(status=PaymentStatus.SUCCEEDED),
                name="funds_attempt_paid_once",
            ),
            models.CheckConstraint(
                condition=Q(status__in=PaymentStatus.values), name="funds_attempt_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.reference


class Settlement(models.Model):
    """The year-end settlement (多退少补) of one county's premium pool.

    result = premium pool balance − insurer fee: a surplus (> 0) is carried
    forward into next year's fund with the fund's own unspent balance; a
    shortfall (< 0) is made up by the county (county top-up). A year settles
    once (partial unique index); reopening posts the reversal and keeps the row.
    """

    county = models.ForeignKey("regions.Region", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField(_("year 年度"))
    premium = MoneyField(_("premium 保费"))
    relief_paid = MoneyField(_("relief paid 已付救助金"))
    relief_count = models.PositiveIntegerField(_("payments 笔数"))
    fee = MoneyField(_("insurer fee 管理费"))
    pool_balance = MoneyField(_("premium pool before settlement 结算前保费池"))
    result = MoneyField(_("surplus (+) or shortfall (−) 结余(+)/缺口(−)"))
    fund_remainder = MoneyField(_("unspent fund 资金结余"))
    carried_forward = MoneyField(_("carried into next year 结转下年"))
    transaction = models.OneToOneField(
        LedgerTransaction,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="settlement",
    )
    settled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    settled_at = models.DateTimeField(auto_now_add=True)
    reopened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reopened_at = models.DateTimeField(null=True, blank=True)
    reopen_reason = models.TextField(blank=True)
    reversal = models.OneToOneField(
        LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["county_id", "year", "-settled_at"]
        verbose_name = _("settlement 年终结算")
        constraints = [
            models.UniqueConstraint(
                fields=["county", "year"],
                condition=Q(reopened_at__isnull=True),
                name="funds_settlement_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.county_id}/{self.year} {self.result}"

    @property
    def region_path(self) -> str:
        return self.county.path

    @property
    def is_surplus(self) -> bool:
        return self.result.fen > 0
