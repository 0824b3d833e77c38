from __future__ import annotations

import datetime as dt

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import CIRCUMSTANCE_CHOICES, EvidenceKind, Source


class IntakeForm(forms.Form):
    household_no = forms.CharField(label=_("Household number 户编号"), max_length=32)
    source = forms.ChoiceField(label=_("Source 来源"), choices=Source.choices)
    reference = forms.CharField(
        label=_("Warning reference 预警编号"), max_length=64, required=False
    )
    circumstance = forms.ChoiceField(label=_("Circumstance 致困原因"), choices=CIRCUMSTANCE_CHOICES)
    period = forms.IntegerField(
        label=_("Year 年度"), min_value=2000, initial=lambda: dt.date.today().year
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


class EvidenceForm(forms.Form):
    kind = forms.ChoiceField(label=_("Evidence kind 材料类型"), choices=EvidenceKind.choices)
    file = forms.FileField(label=_("File (JPEG/PNG/PDF) 文件"))
