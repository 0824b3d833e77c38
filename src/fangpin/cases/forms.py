"""Forms of the case pages: intake (with the 新登记户 section for a household not yet in the
registry) and evidence upload. The forms check shapes only; the services check the rest
(``registry.services.household_register``, ``cases.services.case_open``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from fangpin.accounts import permissions
from fangpin.common import clock
from fangpin.regions.models import Level
from fangpin.registry.models import HouseholdType, Labour

from .models import CIRCUMSTANCE_CHOICES, EvidenceKind, Source

# a household of up to 8 people: the head and 7 more (the synthetic roster's largest size)
MEMBER_ROWS = 7
# above this many villages in scope the village is typed as its code, not picked from a list
VILLAGE_SELECT_MAX = 1000

ERR_HOUSEHOLD_CHOICE = _(
    "give the household number of a registered household, or tick “register a new household” "
    "(请填写户编号，或勾选“登记新户”)"
)
ERR_HOUSEHOLD_BOTH = _(
    "a new household gets its own number below; leave this empty (登记新户时此处留空)"
)
ERR_REQUIRED_NEW = _("required for a new household (登记新户必填)")

SEX_CHOICES = [("", "—"), ("M", _("Male 男")), ("F", _("Female 女"))]
LABOUR_CHOICES = [("", "—"), *Labour.choices]


class IntakeForm(forms.Form):
    household_no = forms.CharField(
        label=_("Household number 户编号"), max_length=32, required=False
    )
    source = forms.ChoiceField(label=_("Source 来源"), choices=Source.choices)
    reference = forms.CharField(
        label=_("Warning reference 预警编号"), max_length=64, required=False
    )
    circumstance = forms.ChoiceField(label=_("Circumstance 致困原因"), choices=CIRCUMSTANCE_CHOICES)
    period = forms.IntegerField(
        label=_("Year 年度"),
        min_value=2000,
        max_value=9999,
        initial=lambda: clock.today().year,
    )
    member_id_number = forms.CharField(
        label=_("ID number of the student or injured person"),
        help_text=_(
            "Required for education and accidents: each student and each accident is a case of its own."
        ),
        max_length=18,
        required=False,
    )
    event_date = forms.DateField(
        label=_("Date of the event"),
        help_text=_(
            "Required for an accident; for a hospital stay the admission day; for studies the school year's start."
        ),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    description = forms.CharField(
        label=_("Description 情况说明"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    amount_claimed = forms.DecimalField(
        label=_("Amount claimed, yuan 申报金额(元)"),
        max_digits=14,
        decimal_places=2,
        min_value=0,
        required=False,
    )
    evidence = forms.FileField(label=_("Evidence (image/PDF) 证明材料"), required=False)
    evidence_kind = forms.ChoiceField(
        label=_("Evidence kind 材料类型"), choices=EvidenceKind.choices, required=False
    )
    # --- new household 新登记户 ----------------------------------------------------------------
    register = forms.BooleanField(
        label=_("Register a new household (not yet in the registry) 登记新户"), required=False
    )
    village = forms.CharField(label=_("Village 村"), required=False)
    new_household_no = forms.CharField(
        label=_("Household number (empty: assigned) 户编号(留空自动编号)"),
        max_length=32,
        required=False,
    )
    household_type = forms.ChoiceField(
        label=_("Household type 户类型"),
        choices=HouseholdType.choices,
        initial=HouseholdType.ORDINARY,
        required=False,
    )
    bank = forms.CharField(label=_("Bank 开户行"), max_length=64, required=False)
    bank_account = forms.CharField(
        label=_("Bank account 银行账号"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    head_name = forms.CharField(label=_("Head's name 户主姓名"), max_length=64, required=False)
    head_id_number = forms.CharField(
        label=_("Head's ID number 户主身份证号"), max_length=18, required=False
    )
    head_sex = forms.ChoiceField(label=_("Sex 性别"), choices=SEX_CHOICES, required=False)
    head_birth_date = forms.DateField(
        label=_("Birth date 出生日期"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    head_labour = forms.ChoiceField(
        label=_("Labour capacity 劳动能力"), choices=LABOUR_CHOICES, required=False
    )

    CASE_FIELDS = (
        "household_no",
        "source",
        "reference",
        "circumstance",
        "period",
        "member_id_number",
        "event_date",
        "description",
        "amount_claimed",
        "evidence",
        "evidence_kind",
    )
    HOUSEHOLD_FIELDS = ("village", "new_household_no", "household_type", "bank", "bank_account")
    HEAD_FIELDS = ("head_name", "head_id_number", "head_sex", "head_birth_date", "head_labour")

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        villages = permissions.regions_visible(user, level=Level.VILLAGE).order_by("code")
        if villages.count() <= VILLAGE_SELECT_MAX:
            choices = [("", "—")] + [(v.code, f"{v.name} ({v.code})") for v in villages]
            self.fields["village"].widget = forms.Select(choices=choices)
            if len(choices) == 2:
                self.fields["village"].initial = choices[1][0]
        else:
            self.fields["village"].widget = forms.TextInput(attrs={"inputmode": "numeric"})
            self.fields["village"].label = _("Village code 村代码")

    def case_fields(self) -> list:
        return [self[name] for name in self.CASE_FIELDS]

    def household_fields(self) -> list:
        return [self[name] for name in ("register", *self.HOUSEHOLD_FIELDS)]

    def head_fields(self) -> list:
        return [self[name] for name in self.HEAD_FIELDS]

    def clean(self) -> dict:
        data = super().clean()
        if data.get("register"):
            if (data.get("household_no") or "").strip():
                self.add_error("household_no", ERR_HOUSEHOLD_BOTH)
            for name in ("village", "head_name", "head_id_number"):
                if not (data.get(name) or "").strip():
                    self.add_error(name, ERR_REQUIRED_NEW)
        elif not (data.get("household_no") or "").strip():
            self.add_error("household_no", ERR_HOUSEHOLD_CHOICE)
        return data


class MemberForm(forms.Form):
    """One more member of a new household (a blank row is skipped)."""

    name = forms.CharField(label=_("Name 姓名"), max_length=64, required=False)
    id_number = forms.CharField(label=_("ID number 身份证号"), max_length=18, required=False)
    relation = forms.CharField(
        label=_("Relation to head 与户主关系"),
        max_length=16,
        required=False,
        widget=forms.TextInput(attrs={"list": "relations"}),
    )
    sex = forms.ChoiceField(label=_("Sex 性别"), choices=SEX_CHOICES, required=False)
    birth_date = forms.DateField(
        label=_("Birth date 出生日期"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    labour = forms.ChoiceField(
        label=_("Labour capacity 劳动能力"), choices=LABOUR_CHOICES, required=False
    )

    def is_blank(self) -> bool:
        return not any(self.cleaned_data.get(f) for f in ("name", "id_number", "relation"))


MemberFormSet = forms.formset_factory(
    MemberForm, extra=MEMBER_ROWS, max_num=MEMBER_ROWS, validate_max=True
)
# common relations (与户主关系) offered as suggestions; any text up to 16 characters is accepted
RELATIONS = ["配偶", "子", "女", "儿媳", "女婿", "孙子", "孙女", "父亲", "母亲", "兄弟", "姐妹"]


class EvidenceForm(forms.Form):
    kind = forms.ChoiceField(label=_("Evidence kind 材料类型"), choices=EvidenceKind.choices)
    file = forms.FileField(label=_("File (JPEG/PNG/PDF) 文件"))
