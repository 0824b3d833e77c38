"""Managed households (户), their members (成员) and annual income records.

A *managed* household is one the poverty-alleviation office follows by name:
registered out-of-poverty households that are unstable, marginal households,
households hit by a sudden hardship, and any ordinary household that a warning
or an application brought in (POLICY.md, "Who is protected").
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from fangpin.common.fields import MoneyField
from fangpin.common.idnumber import mask_id_number


class HouseholdType(models.TextChoices):
    UNSTABLE = "unstable", _("Unstable out-of-poverty 脱贫不稳定户")
    MARGINAL = "marginal", _("Marginal, prone to poverty 边缘易致贫户")
    SUDDEN = "sudden", _("Sudden severe hardship 突发严重困难户")
    ORDINARY = "ordinary", _("Ordinary rural 一般农户")


# Chinese names as they appear in county spreadsheets -> code
HOUSEHOLD_TYPE_ALIASES = {
    "脱贫不稳定户": HouseholdType.UNSTABLE.value,
    "边缘易致贫户": HouseholdType.MARGINAL.value,
    "突发严重困难户": HouseholdType.SUDDEN.value,
    "一般农户": HouseholdType.ORDINARY.value,
}


class IncomeSource(models.TextChoices):
    SURVEY = "survey", _("Annual survey 年度收入调查")
    FEED = "feed", _("Department feed 部门数据")
    CASE_CHECK = "case_check", _("Household check 入户核查")


class Household(models.Model):
    household_no = models.CharField(_("household number 户编号"), max_length=32, unique=True)
    village = models.ForeignKey(
        "regions.Region",
        on_delete=models.PROTECT,
        related_name="households",
        verbose_name=_("village"),
    )
    household_type = models.CharField(
        _("household type 户类型"), max_length=10, choices=HouseholdType.choices, db_index=True
    )
    bank_name = models.CharField(_("bank 开户行"), max_length=64, blank=True)
    bank_account = models.CharField(_("bank account 银行账号"), max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["household_no"]
        verbose_name = _("household 农户")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(household_type__in=[t.value for t in HouseholdType]),
                name="household_type_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.household_no

    @property
    def region_path(self) -> str:
        return self.village.path


class Labour(models.TextChoices):
    """Labour capacity (劳动能力) as the annual survey records it; blank when not recorded."""

    ABLE = "able", _("Able to work 有劳动能力")
    WEAK = "weak", _("Weak or partial 弱劳动能力")
    NONE = "none", _("Unable to work 无劳动能力")


class Member(models.Model):
    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="members")
    # no index: names are searched for as a part (LIKE %…%), which a B-tree index cannot serve
    name = models.CharField(_("name 姓名"), max_length=64)
    id_number = models.CharField(_("ID number 身份证号"), max_length=18, unique=True)
    relation = models.CharField(_("relation to head 与户主关系"), max_length=16)
    labour = models.CharField(
        _("labour capacity 劳动能力"), max_length=8, choices=Labour.choices, blank=True
    )

    class Meta:
        ordering = ["household_id", "id"]
        verbose_name = _("member 家庭成员")

    def __str__(self) -> str:
        return self.name

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def is_head(self) -> bool:
        return self.relation in HEAD_RELATIONS

    @property
    def region_path(self) -> str:
        return self.household.village.path


HEAD_RELATIONS = frozenset({"户主", "head", "本人"})


class IncomeRecord(models.Model):
    """A household's disposable income for a year; history is kept.

    A new figure for the same year is a new row; the latest row of a year is the
    figure in force (``selectors.household_income_current``).
    """

    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="incomes")
    year = models.PositiveSmallIntegerField(_("year 年度"))
    annual_income = MoneyField(_("household disposable income 家庭年可支配收入"))
    source = models.CharField(_("source 来源"), max_length=12, choices=IncomeSource.choices)
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["household_id", "-year", "-recorded_at", "-id"]
        indexes = [models.Index(fields=["household", "year"])]
        verbose_name = _("income record 收入记录")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(annual_income__gte=0), name="income_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(source__in=[s.value for s in IncomeSource]),
                name="income_source_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.household_id}/{self.year}: {self.annual_income}"
