"""Forms of the fund page. Amounts and rates are taken as text and checked by the
services (exact decimals, never a float), whose messages land on the field."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import ContributionSource


class ContributionForm(forms.Form):
    source = forms.ChoiceField(label=_("Source (资金来源)"), choices=ContributionSource.choices)
    amount = forms.CharField(
        label=_("Amount, yuan (金额)"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "1000000.00"}),
    )
    document_no = forms.CharField(label=_("Document number (文号)"), max_length=64)
    received_on = forms.DateField(
        label=_("Received on (到账日期)"), widget=forms.DateInput(attrs={"type": "date"})
    )
    note = forms.CharField(label=_("Note (备注)"), max_length=255, required=False)


class ContractForm(forms.Form):
    insurer = forms.CharField(label=_("Insurer (承保公司)"), max_length=128)
    policy_no = forms.CharField(label=_("Policy number (保单号)"), max_length=64, required=False)
    rural_population = forms.IntegerField(label=_("Rural population (农村人口)"), min_value=1)
    signed_on = forms.DateField(
        label=_("Signed on (签订日期)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    insured_share = forms.CharField(
        label=_("Insured share (框定比例)"),
        max_length=10,
        required=False,
        help_text=_("blank: the policy parameter in force"),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "0.10"}),
    )
    premium_per_person = forms.CharField(
        label=_("Premium per person, yuan (人均保费)"),
        max_length=12,
        required=False,
        help_text=_("blank: the policy parameter in force"),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "50"}),
    )
    fee_rate = forms.CharField(
        label=_("Insurer fee rate (管理费率)"),
        max_length=10,
        required=False,
        help_text=_("blank: the policy parameter in force"),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "0"}),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason (原因)"), max_length=500, widget=forms.TextInput())


class RetryForm(forms.Form):
    year = forms.IntegerField(
        label=_("Pay from fund year (资金年度)"), required=False, min_value=2000
    )
