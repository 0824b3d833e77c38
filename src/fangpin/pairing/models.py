"""Pairing assistance (结对帮扶): cadres, one-for-one pairings, visits, problems, help, closure.

POLICY.md, "Pairing assistance" and step 7 of the procedure: every household that
received relief has a named *rural* cadre (village or township level) as its
contact, who visits at least once a quarter, records the problems found and how
each was solved, and the help given (e.g. a job at a village poverty-alleviation
micro-factory at 70–80 yuan a day). A county officer closes the household's
monitoring once its risk is eliminated (风险消除).

Dates, not timestamps, carry the domain's meaning here:

- a ``Pairing`` covers ``start_date`` up to, not including, ``end_date``
  (``end_date`` null: still running); a household has at most one running
  pairing (partial unique index); reassigning ends the old one the day the new
  one starts, so history is kept row by row;
- a ``Visit`` happened on ``visited_on``; a ``Problem`` was found on
  ``found_on`` and is open until ``solved_on``.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from fangpin.common.fields import MoneyField
from fangpin.regions.models import Level

# the cadre levels that count as a household's *rural* contact (POLICY.md, "Pairing assistance")
RURAL_LEVELS = (Level.VILLAGE.value, Level.TOWNSHIP.value)


class Cadre(models.Model):
    """A cadre (干部) who can be paired with households: from a village up to the city.

    ``level`` is the level of the cadre's post; ``region`` where they serve — the
    region of their post or a node below it (a county cadre stationed in a
    village, 驻村干部). A cadre is identified by their phone number (one cadre
    per number), which makes a re-import of the cadre file idempotent. A cadre
    may log in (``user``): a village cadre with the role ``village_cadre``, any
    other with ``helper_cadre``, who sees only their paired households.
    """

    name = models.CharField(_("name 姓名"), max_length=64)
    work_unit = models.CharField(_("work unit 工作单位"), max_length=128)
    level = models.CharField(_("level 层级"), max_length=10, choices=Level.choices)
    phone = models.CharField(_("phone 手机号"), max_length=16, unique=True)
    region = models.ForeignKey(
        "regions.Region",
        on_delete=models.PROTECT,
        related_name="cadres",
        verbose_name=_("region 所在区划"),
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="cadre",
        verbose_name=_("login 登录账号"),
    )
    active = models.BooleanField(_("active 在岗"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["region__path", "name", "id"]
        verbose_name = _("cadre 帮扶干部")
        constraints = [
            models.CheckConstraint(
                condition=Q(level__in=[c.value for c in Level]), name="pairing_cadre_level_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.work_unit})"

    @property
    def region_path(self) -> str:
        return self.region.path

    @property
    def is_rural(self) -> bool:
        return self.level in RURAL_LEVELS


class PairingQuerySet(models.QuerySet):
    def active_on(self, on: dt.date) -> PairingQuerySet:
        """Pairings running on ``on``: started on or before it, not yet ended."""
        return self.filter(active_on_q(on))


def active_on_q(on: dt.date, prefix: str = "") -> Q:
    """The condition "a pairing running on ``on``", for a lookup ``prefix`` (e.g. ``pairings__``)."""
    return Q(**{f"{prefix}start_date__lte": on}) & (
        Q(**{f"{prefix}end_date__isnull": True}) | Q(**{f"{prefix}end_date__gt": on})
    )


class Pairing(models.Model):
    """One cadre paired one-for-one with one household (一对一结对帮扶), from a date."""

    household = models.ForeignKey(
        "registry.Household", on_delete=models.PROTECT, related_name="pairings"
    )
    cadre = models.ForeignKey(Cadre, on_delete=models.PROTECT, related_name="pairings")
    start_date = models.DateField(_("start date 开始日期"))
    end_date = models.DateField(_("end date 结束日期"), null=True, blank=True)
    end_reason = models.CharField(_("why it ended 结束原因"), max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PairingQuerySet.as_manager()

    class Meta:
        ordering = ["household_id", "-start_date", "-id"]
        verbose_name = _("pairing 结对")
        indexes = [models.Index(fields=["cadre", "end_date"])]
        constraints = [
            # one running pairing per household, enforced by the database
            models.UniqueConstraint(
                fields=["household"],
                condition=Q(end_date__isnull=True),
                name="pairing_one_open_per_household",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="pairing_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.household_id}↔{self.cadre_id} {self.start_date}–{self.end_date or ''}"

    @property
    def region_path(self) -> str:
        return self.household.village.path


class VisitMode(models.TextChoices):
    IN_PERSON = "in_person", _("In person 入户")
    PHONE = "phone", _("By phone 电话")


class Visit(models.Model):
    """A cadre's visit to a household (走访), in person or by phone."""

    household = models.ForeignKey(
        "registry.Household", on_delete=models.PROTECT, related_name="visits"
    )
    cadre = models.ForeignKey(Cadre, on_delete=models.PROTECT, related_name="visits")
    visited_on = models.DateField(_("date 走访日期"))
    mode = models.CharField(_("how 方式"), max_length=10, choices=VisitMode.choices)
    met = models.CharField(_("who was met 见到的人"), max_length=64)
    findings = models.TextField(_("findings 了解情况"), blank=True)
    help_given = models.TextField(_("help given 帮扶措施"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["household_id", "-visited_on", "-id"]
        verbose_name = _("visit 走访")
        indexes = [
            models.Index(fields=["household", "visited_on"]),
            models.Index(fields=["visited_on"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(mode__in=VisitMode.values), name="pairing_visit_mode_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.household_id} {self.visited_on} {self.mode}"

    @property
    def region_path(self) -> str:
        return self.household.village.path


class ProblemCategory(models.TextChoices):
    INCOME = "income", _("Income 收入")
    EMPLOYMENT = "employment", _("Employment 就业")
    MEDICAL = "medical", _("Medical 医疗")
    SCHOOLING = "schooling", _("Schooling 上学")
    HOUSING = "housing", _("Housing 住房")
    OTHER = "other", _("Other 其他")


class Problem(models.Model):
    """A difficulty found on a visit (发现问题); open until marked solved, with how (解决情况)."""

    household = models.ForeignKey(
        "registry.Household", on_delete=models.PROTECT, related_name="problems"
    )
    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="problems")
    category = models.CharField(_("category 类别"), max_length=12, choices=ProblemCategory.choices)
    description = models.CharField(_("problem 问题"), max_length=255)
    found_on = models.DateField(_("found on 发现日期"))
    solved_on = models.DateField(_("solved on 解决日期"), null=True, blank=True)
    solution = models.CharField(_("how it was solved 解决办法"), max_length=255, blank=True)
    solved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["household_id", "solved_on", "-found_on", "-id"]
        verbose_name = _("problem 问题")
        indexes = [models.Index(fields=["household", "solved_on"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(category__in=ProblemCategory.values),
                name="pairing_problem_category_valid",
            ),
            # solved means dated and explained; open means neither
            models.CheckConstraint(
                condition=(Q(solved_on__isnull=True) & Q(solution=""))
                | (Q(solved_on__isnull=False) & ~Q(solution="")),
                name="pairing_problem_solved_with_how",
            ),
            models.CheckConstraint(
                condition=Q(solved_on__isnull=True) | Q(solved_on__gte=models.F("found_on")),
                name="pairing_problem_solved_after_found",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.category}: {self.description}"

    @property
    def is_open(self) -> bool:
        return self.solved_on is None

    @property
    def region_path(self) -> str:
        return self.household.village.path


class EmploymentPlacement(models.Model):
    """Employment help (就业帮扶): a member placed in a job, recorded on a visit.

    ``member`` is kept null-able (a later registry import may remove the member);
    ``person_name`` keeps who it was.
    """

    household = models.ForeignKey(
        "registry.Household", on_delete=models.PROTECT, related_name="placements"
    )
    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="placements")
    member = models.ForeignKey(
        "registry.Member",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="placements",
    )
    person_name = models.CharField(_("person 就业人员"), max_length=64)
    employer = models.CharField(_("employer 用工单位"), max_length=128)
    job = models.CharField(_("job 岗位"), max_length=64)
    daily_wage = MoneyField(_("daily wage 日工资 (yuan)"))
    started_on = models.DateField(_("started on 上岗日期"))

    class Meta:
        ordering = ["household_id", "-started_on", "-id"]
        verbose_name = _("employment placement 就业帮扶")
        constraints = [
            models.CheckConstraint(
                condition=Q(daily_wage__gt=0), name="pairing_placement_wage_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person_name} @ {self.employer}"

    @property
    def region_path(self) -> str:
        return self.household.village.path


class RiskClosure(models.Model):
    """A county officer's closing of a household's monitoring: risk eliminated (风险消除).

    ``checks`` keeps the checks as shown when it was closed (what, passed, detail).
    """

    household = models.ForeignKey(
        "registry.Household", on_delete=models.PROTECT, related_name="risk_closures"
    )
    closed_on = models.DateField(_("closed on 消除日期"))
    reason = models.TextField(_("reason 理由"))
    checks = models.JSONField(default=list)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["household_id", "-closed_on", "-id"]
        verbose_name = _("risk closure 风险消除")

    def __str__(self) -> str:
        return f"{self.household_id} closed {self.closed_on}"

    @property
    def region_path(self) -> str:
        return self.household.village.path
